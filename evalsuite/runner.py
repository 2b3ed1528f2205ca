"""Run the configured tasks for the configured models and store the results (``embedbench eval``).

Per model, one ``CachedEncoder`` is loaded (only when some task must run) and handed to every task,
so each unique text is encoded once per model across all tasks, and a second run of an unchanged
evaluation encodes nothing. A (model, task) whose stored result has the same model fingerprint,
inputs hash (the files the task reads) and task config is skipped unless ``force``. ``"bm25"`` is
the lexical baseline: it runs retrieval tasks only. A task that fails raises before anything is
written for it (the store validates and writes atomically).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from embedbench import compute
from embedbench.backend_spec import Backend, Precision, split_spec
from embedbench.encode import load_encoder
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.config import BM25, EvalConfig, TaskEntry
from embedbench.evalsuite.model_facts import save_model_facts, save_plan
from embedbench.evalsuite.plan import Plan, duration, format_plan, plan_pairs
from embedbench.evalsuite.progress import ModelBars
from embedbench.evalsuite.results import ResultsStore
from embedbench.evalsuite.run_facts import facts_of, plan_file
from embedbench.evalsuite.tasks import KINDS, get_task, is_builtin, task_names
from embedbench.evalsuite.tasks.base import Task, task_config
from embedbench.evalsuite.tasks.base import dataset_hash as files_hash
from embedbench.evalsuite.tasks.bm25 import BM25Retriever
from embedbench.evalsuite.types import TaskResult
from embedbench.io import check_output_dir, clean_temps, sha256_text
from embedbench.models import resolve

LEXICAL_TASK_TYPES = ("retrieval",)


@dataclass(frozen=True)
class RunRecord:
    """What happened to one (model, task)."""

    model: str
    task: str
    status: str  # ran | skipped (up to date) | not applicable | left out
    path: Path | None = None
    main_metric: str = ""
    value: float | None = None
    seconds: float = 0.0


@dataclass
class EvalRun:
    """The outcome of ``run_eval``: one record per (model, task) and the encoder's cache counters."""

    records: list[RunRecord] = field(default_factory=list)
    plan: Plan | None = None
    encoded: dict[str, int] = field(default_factory=dict)
    cache_hits: dict[str, int] = field(default_factory=dict)

    def ran(self) -> list[RunRecord]:
        """Records of tasks that ran."""
        return [r for r in self.records if r.status == "ran"]


def build_task(entry: TaskEntry, where: str = "") -> Any:
    """The task object of a config entry (registry name + options).

    ``where`` (e.g. ``"bench.toml: eval.tasks[2]"``) is put before any error, so an unknown task or
    option, or a bad value, names the config file and key that held it.
    """
    options = entry.options
    name = options.pop("name", None)
    try:
        if name and entry.registry_name in KINDS:  # a task kind is built under its entry's name (errors say which)
            return get_task(entry.registry_name, name=name, **options)
        task = get_task(entry.registry_name, **options)
    except EmbedbenchError as exc:
        raise EmbedbenchError(f"{where} ({entry.name}): {exc}" if where else str(exc)) from None
    return dataclasses.replace(task, name=name) if name else task


def inputs_hash(task: Any) -> str:
    """Content hash of what a task reads: its ``dataset_hash()`` if it has one, else every path in its fields."""
    own = getattr(task, "dataset_hash", None)
    if callable(own):
        return str(own())
    build = getattr(task, "build", None)  # an mteb task: its dataset revision (local data: a content hash)
    if callable(build):
        revision = (getattr(getattr(build(), "metadata", None), "dataset", None) or {}).get("revision")
        if revision:
            return sha256_text(str(revision))[:16]
    values = [getattr(task, f.name) for f in dataclasses.fields(task)]
    paths = [Path(v) for v in values if (isinstance(v, Path) or (isinstance(v, str) and "/" in v)) and Path(v).exists()]
    return files_hash(*paths) if paths else sha256_text("no files")[:16]


@dataclass
class EvalModel:
    """A configured model: its results name and fingerprint (cheap), the model itself loaded on first use.

    ``"bm25"`` is the lexical baseline (a ``Retriever``), anything else an ``Encoder`` behind the shared
    embedding cache (``embedbench.encode.load_encoder``), under ``NAME@BACKEND-PRECISION`` its backend.
    """

    spec: str
    name: str
    fingerprint: str
    batch_size: int = 64
    show_progress: bool = True
    loaded: Any = None

    @property
    def lexical(self) -> bool:
        """True for the BM25 baseline."""
        return self.spec == BM25

    def runs(self, task: Task) -> bool:
        """Whether ``task`` can evaluate this model (the lexical baseline runs retrieval tasks only)."""
        return not self.lexical or task.task_type in LEXICAL_TASK_TYPES

    def get(self) -> Any:
        """The model tasks evaluate, loaded once."""
        if self.loaded is None:
            name, backend, precision = split_spec(self.spec)
            self.loaded = load_encoder(
                name, batch_size=self.batch_size, show_progress=self.show_progress, backend=backend,
                precision=precision,
            )
        return self.loaded


def resolve_model(spec: str, batch_size: int = 64, show_progress: bool = True, where: str = "") -> EvalModel:
    """The ``EvalModel`` of a spec: a registry name, a model folder (``@backend-precision`` optional) or ``"bm25"``.

    ``where`` (e.g. ``"bench.toml: eval.models[1]"``) is put before any error.
    """
    try:
        return _resolve_model(spec, batch_size, show_progress)
    except EmbedbenchError as exc:
        raise EmbedbenchError(f"{where} = {spec!r}: {exc}" if where else str(exc)) from None


def _resolve_model(spec: str, batch_size: int, show_progress: bool) -> EvalModel:
    if spec == BM25:
        r = BM25Retriever()
        return EvalModel(spec, r.name, r.fingerprint, batch_size, show_progress, r)
    from embedbench.backends import describe  # imports torch: only when a model is resolved

    base, backend, precision = split_spec(spec)
    try:
        resolved = resolve(base)
    except EmbedbenchError as exc:
        if "/" in spec and not Path(spec).exists():
            raise EmbedbenchError(
                f"{exc}; if {spec!r} is a model folder, it does not exist yet: train it first (`embedbench train`) "
                "or remove it from [eval] models (folders are relative to the config file)"
            ) from None
        raise
    if (backend, precision) != (Backend.TORCH, Precision.FP32):
        info = describe(resolved, backend, precision)  # exports once; its own name and fingerprint
        return EvalModel(spec, info.name, info.fingerprint, batch_size, show_progress)
    return EvalModel(spec, resolved.name, resolved.fingerprint, batch_size, show_progress)


def select(cfg: EvalConfig, models: list[str] | None, tasks: list[str] | None) -> tuple[list[str], list[TaskEntry]]:
    """The models and task entries to run: the config's, narrowed (or extended, for models) by the CLI."""
    entries = cfg.task_entries
    if tasks:
        known = {e.name: e for e in entries}
        chosen = []
        for name in tasks:
            if name in known:
                chosen.append(known[name])
            else:
                if not is_builtin(name):
                    raise EmbedbenchError(
                        f"unknown task {name!r}; configured: {', '.join(known) or 'none'}; "
                        f"registry: {', '.join(sorted(task_names()))}"
                    )
                chosen.append(TaskEntry(name=name))
        entries = chosen
    if not entries:
        raise EmbedbenchError("no tasks to run: list them under [eval] tasks = [...] or pass --task NAME")
    return (models or cfg.models), entries


@dataclass
class Pair:
    """One (model, task) of a run, with what is known before it runs.

    ``status`` is ``run`` (to evaluate), ``up to date`` (a current result is stored), ``not applicable``
    (BM25 on a non-retrieval task) or ``left out`` (``[eval] leave_out``; ``reason`` says why). A pair
    is picklable while its model is not loaded (``model.loaded is None``), so it can be sent to a worker
    (``evalsuite.fanout``) that calls :func:`evaluate_pair` there.
    """

    model: EvalModel
    task: Any
    name: str
    config: dict[str, Any]
    inputs_hash: str
    status: str = "run"
    reason: str = ""


def prepare_run(
    cfg: EvalConfig,
    *,
    models: list[str] | None = None,
    tasks: list[str] | None = None,
    force: bool = False,
    show_progress: bool = True,
    source: str | Path | None = None,
) -> tuple[ResultsStore, list[Pair]]:
    """The results store and every (model, task) pair of a run, each with its status; nothing is encoded.

    Every check that needs no encoding (results folder, tasks, models, left-out pairs) is done here,
    so a bad config fails before the first task runs.
    """
    model_specs, entries = select(cfg, models, tasks)
    file = f"{source}: " if source is not None else ""
    check_output_dir(cfg.results_dir, f"{file}[eval] results_dir")
    clean_temps(cfg.results_dir, recursive=True)
    store = ResultsStore(cfg.results_dir)
    positions = {e.name: i for i, e in enumerate(cfg.task_entries)}
    built = [
        (e, build_task(e, f"{file}eval.tasks[{positions[e.name]}]" if e.name in positions else "--task"))
        for e in entries
    ]
    resolved = [
        resolve_model(spec, cfg.batch_size, show_progress,
                      f"{file}eval.models[{i}]" if models is None else "--model")
        for i, spec in enumerate(model_specs)
    ]
    left_out = left_out_pairs(cfg, model_specs, resolved)
    pairs = []
    for model in resolved:
        for entry, task in built:
            name = getattr(task, "name", entry.name)
            pair = Pair(model, task, name, task_config(task), inputs_hash(task))
            if not model.runs(task):
                pair.status, pair.reason = "not applicable", "bm25 runs retrieval tasks only"
            elif (model.name, name) in left_out or (model.name, entry.name) in left_out:
                pair.status = "left out"
                pair.reason = left_out.get((model.name, name)) or left_out.get((model.name, entry.name), "")
            elif not force and store.is_current(model.name, name, fingerprint=model.fingerprint,
                                                inputs_hash=pair.inputs_hash, config=pair.config):
                pair.status = "up to date"
            pairs.append(pair)
    return store, pairs


def left_out_pairs(cfg: EvalConfig, specs: list[str], resolved: list[EvalModel]) -> dict[tuple[str, str], str]:
    """``[eval] leave_out`` as (model display name, task name) -> reason, for the models of this run."""
    names = {spec: model.name for spec, model in zip(specs, resolved, strict=True)}
    out: dict[tuple[str, str], str] = {}
    for rule in getattr(cfg, "leave_out", []):
        name = names.get(rule.model)
        if name is None:
            continue  # a configured model this run does not evaluate (e.g. --model narrowed it)
        for task in rule.tasks:
            out[(name, task)] = rule.reason
    return out


def evaluate_pair(pair: Pair, wrap: Callable[[Pair, Any], Any] | None = None) -> tuple[TaskResult, float]:
    """Evaluate one pair (loading its model on first use); its result and the seconds it took. Writes nothing.

    ``wrap(pair, model)`` may wrap the model first (the progress bars do).
    """
    started = time.perf_counter()
    model = pair.model.get()
    result = pair.task.evaluate(wrap(pair, model) if wrap is not None else model)
    seconds = time.perf_counter() - started
    if result.task != pair.name or result.model != pair.model.name:
        raise EmbedbenchError(
            f"task {pair.name!r} returned a result for ({result.model!r}, {result.task!r}); "
            f"expected ({pair.model.name!r}, {pair.name!r})"
        )
    return result, seconds


def evaluate_local(pairs: list[Pair], wrap: Callable[[Pair, Any], Any] | None = None,
                   ) -> Iterator[tuple[Pair, TaskResult, float]]:
    """Evaluate ``pairs`` one after the other in this process, yielding each result as it is ready."""
    for pair in pairs:
        result, seconds = evaluate_pair(pair, wrap)
        yield pair, result, seconds


def save_pair(store: ResultsStore, pair: Pair, result: TaskResult, seconds: float) -> RunRecord:
    """Store one pair's result (atomically, through the one results store) and its record."""
    path = store.save(result, inputs_hash=pair.inputs_hash, run_seconds=round(seconds, 3), task_config=pair.config)
    value = result.metrics[result.main_metric]
    return RunRecord(pair.model.name, pair.name, "ran", path, result.main_metric, value, seconds)


def run_eval(
    cfg: EvalConfig,
    *,
    models: list[str] | None = None,
    tasks: list[str] | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
    show_progress: bool = True,
    source: str | Path | None = None,
    plan_only: bool = False,
) -> EvalRun:
    """Plan, then evaluate ``models`` (default: the config's) on ``tasks`` (default: the config's) and store the results.

    Args:
        cfg: the validated ``[eval]`` config (``evalsuite.config.load_eval_config``).
        models: model names / folders / ``"bm25"`` to run instead of the config's.
        tasks: task names to run (configured entries keep their options).
        force: re-run even when a stored result is current.
        log: where progress lines go.
        show_progress: show one encoding progress bar per model.
        source: the experiment file, named (with the key) in errors about a configured model or task.
        plan_only: print the full plan and stop (nothing is evaluated or written).

    Every check that needs no encoding (results folder, tasks, models) is done before the first task runs.
    The plan (``evalsuite.plan``) is logged first: per pair the texts to encode and the estimated time.
    After the run, ``plan.json`` (estimated and measured seconds per pair) and ``models.json`` (facts of
    each model loaded) are written beside the results.
    """
    started = time.perf_counter()
    store, pairs = prepare_run(cfg, models=models, tasks=tasks, force=force, show_progress=show_progress,
                               source=source)
    plan = plan_pairs(pairs, log=log)
    plan.seconds = time.perf_counter() - started  # planning includes resolving the models (a cold backend choice)
    for line in format_plan(plan, compact=not plan_only):
        log(line)
    run = EvalRun(plan=plan)
    if plan_only:
        return run
    for pair in pairs:
        if pair.status != "run":
            path = store.path(pair.model.name, pair.name) if pair.status == "up to date" else None
            log(_status_line(pair, path))
            status = "skipped" if pair.status == "up to date" else pair.status
            run.records.append(RunRecord(pair.model.name, pair.name, status, path))
    to_run = [p for p in pairs if p.status == "run"]
    for pair in to_run:
        damage = store.damage(pair.model.name, pair.name)
        if damage is not None:
            log(f"{pair.model.name} / {pair.name}: stored result does not read ({damage}); running it again")
    estimates = {(p.model, p.task): p.est_seconds for p in plan.pairs}
    actual: dict[tuple[str, str], float] = {}
    bars = ModelBars(plan, enabled=show_progress)
    evaluate: Callable[[list[Pair]], Iterator[tuple[Pair, TaskResult, float]]] = partial(evaluate_local, wrap=bars.wrap)
    remote = compute.hook("evaluate_pairs")
    if remote is not None:  # e.g. Ray: each pair a Ray task; the results still saved here, by the one store
        evaluate = remote
    try:
        for pair, result, seconds in evaluate(to_run):
            record = save_pair(store, pair, result, seconds)
            actual[(record.model, record.task)] = seconds
            est = duration(estimates.get((record.model, record.task)))
            log(f"{record.model} / {record.task}: {record.main_metric} = {record.value:.4f} "
                f"({seconds:.1f} s, estimated {est}) -> {record.path}")
            run.records.append(record)
    finally:
        bars.close()
    save_plan(cfg.results_dir, plan_file(plan, actual))
    loaded = [m for m in _unique_models(pairs) if m.loaded is not None or m.lexical]
    save_model_facts(cfg.results_dir, [facts_of(m, plan.throughputs.get(m.name)) for m in loaded])
    for model in _unique_models(pairs):
        encoder = model.loaded
        if encoder is not None and hasattr(encoder, "misses"):
            run.encoded[model.name] = int(encoder.misses)
            run.cache_hits[model.name] = int(encoder.hits)
            log(f"{model.name}: encoded {encoder.misses} texts, {encoder.hits} from the cache")
    if actual:
        est_total = sum(estimates.get(k) or 0.0 for k in actual)
        log(f"evaluated {len(actual)} pair(s) in {duration(sum(actual.values()))} (estimated {duration(est_total)})")
    return run


def _status_line(pair: Pair, path: Path | None) -> str:
    """The log line of a pair that does not run."""
    head = f"{pair.model.name} / {pair.name}"
    if pair.status == "up to date":
        return f"{head}: up to date, skipped ({path}; --force re-runs)"
    if pair.status == "not applicable":
        return f"{head}: not applicable ({pair.reason})"
    return f"{head}: left out ({pair.reason or '[eval] leave_out'})"


def _unique_models(pairs: list[Pair]) -> list[EvalModel]:
    """The models of ``pairs``, each once, in order."""
    seen: dict[int, EvalModel] = {}
    for pair in pairs:
        seen.setdefault(id(pair.model), pair.model)
    return list(seen.values())
