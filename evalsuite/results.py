"""The results store: one JSON file per model and task, with provenance, written atomically.

Layout under the results folder (``results/`` by default)::

    results/<model>/<task>.json     TaskResult.to_dict() + "format" + "provenance" (below)
    results/<model>/mteb/<name>.json  mteb's own result JSON (``TaskResult.mteb_json``), where mteb produced it

``provenance`` holds: model name and fingerprint, dataset name and content hash, the task config and
its hash, the inputs hash the runner skips on, package versions, Python, machine
(``embedbench.io.provenance()``), the result's own provenance fields and, for an mteb result,
``mteb_file`` (where mteb's JSON went). What differs between two runs of the same inputs lives in one
place, the last key ``timing``: ``created`` (the date), ``seconds`` (the run) and ``task_seconds``
(the task's own timer); everything else is byte-identical on a re-run. Loaded results carry ``created``
and ``seconds`` in their ``provenance`` as before. A report and the regression gate read these files alone.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from embedbench.backend_spec import display_name as backend_name
from embedbench.backend_spec import split_spec
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.config import BM25
from embedbench.evalsuite.statistics import columns
from embedbench.evalsuite.types import TaskResult
from embedbench.io import config_hash, provenance, read_json, write_json_atomic, write_text_atomic
from embedbench.models import describe_name

FORMAT = "embedbench.result/1"
TIMING = "timing"
"""The one key of a results file whose content changes between identical runs (dates and timings)."""
REQUIRED = ("task", "task_type", "model", "model_fingerprint", "dataset", "dataset_hash", "main_metric", "metrics")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_name(name: str) -> str:
    """A model or task name as a single path component (``org/name`` -> ``org__name``)."""
    cleaned = _UNSAFE.sub("_", name.replace("/", "__")).strip("._")
    if not cleaned:
        raise EmbedbenchError(f"name {name!r} has no usable characters for a results file name")
    return cleaned


def without_non_finite(result: TaskResult) -> TaskResult:
    """A copy without non-finite secondary metrics (mteb reports NaN for some, e.g. nAUC on tiny sets).

    They are listed in ``provenance["non_finite_metrics"]``; the main metric and any metric with a
    per-item aggregation must stay finite (``validate`` rejects them).
    """
    drop = [k for k, v in result.metrics.items()
            if isinstance(v, float) and not math.isfinite(v) and k != result.main_metric and k not in result.aggregations]
    if not drop:
        return result
    return replace(result, metrics={k: v for k, v in result.metrics.items() if k not in drop},
                   provenance={**result.provenance, "non_finite_metrics": drop})


def validate(result: TaskResult, where: str = "result") -> None:
    """Check a result before it is stored: finite metrics, a known main metric, consistent per-item columns."""
    if not result.task or not result.model:
        raise EmbedbenchError(f"{where}: task and model must be non-empty (got {result.task!r}, {result.model!r})")
    for name, value in result.metrics.items():
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise EmbedbenchError(
                f"{where}: metric {name!r} of {result.model} on {result.task} is {value!r}; expected a finite number"
            )
    if result.main_metric not in result.metrics:
        raise EmbedbenchError(
            f"{where}: main metric {result.main_metric!r} is not among the metrics ({', '.join(result.metrics)})"
        )
    lengths = {k: len(v) for k, v in result.per_item.items()}
    if len(set(lengths.values())) > 1:
        raise EmbedbenchError(f"{where}: per_item columns differ in length: {lengths}")
    for metric in result.aggregations:
        columns(result, metric)  # parses the spec, checks the columns exist and hold finite numbers


@dataclass(frozen=True)
class ResultsStore:
    """Read and write ``<root>/<model>/<task>.json`` files."""

    root: Path = Path("results")

    def path(self, model: str, task: str) -> Path:
        """Where the result of ``model`` on ``task`` lives."""
        return Path(self.root) / safe_name(model) / f"{safe_name(task)}.json"

    def mteb_dir(self, model: str) -> Path:
        """Folder for mteb's own result JSON of ``model`` (one ``<mteb task name>.json`` per task)."""
        return Path(self.root) / safe_name(model) / "mteb"

    def save(
        self, result: TaskResult, *, inputs_hash: str = "", run_seconds: float | None = None,
        task_config: dict[str, Any] | None = None,
    ) -> Path:
        """Validate and write ``result`` atomically (and its ``mteb_json`` under ``mteb/``); returns the file.

        A bad result writes nothing. ``inputs_hash`` and ``task_config`` (default: ``result.config``)
        are what ``is_current`` compares.
        """
        path = self.path(result.model, result.task)
        result = without_non_finite(result)
        validate(result, where=str(path))
        config = result.config if task_config is None else task_config
        record = result.to_dict()
        task_seconds = record.pop("seconds", None)
        record["provenance"] = {
            **provenance(),
            **{k: v for k, v in result.provenance.items() if k not in ("created", "seconds")},
            "model": result.model,
            "model_fingerprint": result.model_fingerprint,
            "dataset": result.dataset,
            "dataset_hash": result.dataset_hash,
            "task_config": config,
            "config_hash": config_hash(config),
            "inputs_hash": inputs_hash,
        }
        created = record["provenance"].pop("created")
        record[TIMING] = {
            "created": created,
            "seconds": result.seconds if run_seconds is None else run_seconds,
            "task_seconds": task_seconds,
        }
        mteb_path = None
        if result.mteb_json is not None:
            mteb_path = self.mteb_dir(result.model) / f"{safe_name(str(result.mteb_json.get('task_name') or result.task))}.json"
            record["provenance"]["mteb_file"] = mteb_path.relative_to(self.root).as_posix()
        try:
            text = json.dumps({"format": FORMAT, **record}, indent=2, default=str, allow_nan=False) + "\n"
        except (TypeError, ValueError) as exc:
            raise EmbedbenchError(f"{path}: result is not JSON-serialisable: {exc}") from None
        if mteb_path is not None:
            write_json_atomic(mteb_path, result.mteb_json)
        return write_text_atomic(path, text)

    def load_file(self, path: str | Path, *, task: str | None = None) -> TaskResult:
        """Read one results file; malformed JSON, missing fields or a file of another task raise."""
        path = Path(path)
        data = read_json(
            path, missing="no such results file; run `embedbench eval` first",
            fix="delete the file and re-run `embedbench eval`",
        )
        if not isinstance(data, dict):
            raise EmbedbenchError(f"{path}: expected a JSON object (an embedbench result), got {type(data).__name__}")
        if data.get("format") != FORMAT:
            raise EmbedbenchError(
                f"{path}: not an embedbench result (format {data.get('format')!r}, expected {FORMAT!r})"
            )
        missing = [k for k in REQUIRED if k not in data]
        if missing:
            raise EmbedbenchError(f"{path}: missing field(s) {', '.join(missing)}; re-run `embedbench eval --force`")
        known = {f.name for f in fields(TaskResult)}
        fields_ = {k: v for k, v in data.items() if k in known}
        timing = data.get(TIMING)
        if isinstance(timing, dict):  # dates and timings: one place on disk, in provenance once loaded
            if timing.get("task_seconds") is not None:
                fields_["seconds"] = timing["task_seconds"]
            fields_["provenance"] = {
                **(fields_.get("provenance") or {}),
                **{k: timing[k] for k in ("created", "seconds") if k in timing},
            }
        result = TaskResult.from_dict(fields_)
        expected_task = task if task is not None else path.stem
        if safe_name(result.task) != safe_name(expected_task):
            raise EmbedbenchError(
                f"{path}: this file holds task {result.task!r}, not {expected_task!r}; it was copied or renamed "
                f"from another task: delete it and re-run `embedbench eval`"
            )
        if path.parent.name != "mteb" and safe_name(result.model) != path.parent.name:
            raise EmbedbenchError(
                f"{path}: this file holds model {result.model!r}, not {path.parent.name!r}; delete it and re-run"
            )
        validate(result, where=str(path))
        return result

    def load(self, model: str, task: str) -> TaskResult:
        """The stored result of ``model`` on ``task``."""
        return self.load_file(self.path(model, task), task=task)

    def exists(self, model: str, task: str) -> bool:
        """True when a results file exists for ``model`` and ``task``."""
        return self.path(model, task).is_file()

    def record(self, model: str, task: str) -> dict[str, Any] | None:
        """The raw stored JSON (with provenance) or None when absent or unreadable."""
        try:
            return json.loads(self.path(model, task).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def is_current(self, model: str, task: str, *, fingerprint: str, inputs_hash: str, config: dict[str, Any]) -> bool:
        """True when a stored result has this model fingerprint, inputs hash and task config (skip it)
        and still reads as a whole result (see :meth:`damage`)."""
        rec = self.record(model, task)
        if not rec or rec.get("format") != FORMAT:
            return False
        prov = rec.get("provenance") or {}
        return (
            rec.get("model_fingerprint") == fingerprint
            and prov.get("inputs_hash") == inputs_hash
            and prov.get("config_hash") == config_hash(config)
            and self.damage(model, task) is None
        )

    def damage(self, model: str, task: str) -> str | None:
        """Why the stored result of ``model`` on ``task`` cannot be trusted (unreadable, truncated, fields
        missing or invalid, its mteb file gone), or None when it reads whole or does not exist."""
        path = self.path(model, task)
        if not path.exists():
            return None
        try:
            self.load_file(path, task=task)
        except EmbedbenchError as exc:
            return str(exc)
        mteb_file = ((self.record(model, task) or {}).get("provenance") or {}).get("mteb_file")
        if mteb_file and not (Path(self.root) / mteb_file).is_file():
            return f"{path}: its mteb file {Path(self.root) / mteb_file} is missing"
        return None

    def load_all(self, models: list[str] | None = None, tasks: list[str] | None = None) -> list[TaskResult]:
        """Every stored result (optionally only these models / tasks), sorted by task then model."""
        root = Path(self.root)
        if not root.is_dir():
            raise EmbedbenchError(f"results folder {root} does not exist; run `embedbench eval` first")
        want_models = {safe_name(m) for m in models} if models else None
        want_tasks = {safe_name(t) for t in tasks} if tasks else None
        out = []
        for path in sorted(root.glob("*/*.json")):
            if want_models is not None and path.parent.name not in want_models:
                continue
            if want_tasks is not None and path.stem not in want_tasks:
                continue
            out.append(self.load_file(path))
        return sorted(out, key=lambda r: (r.task, r.model))


def display_name(model: str) -> str:
    """The name a model's results are filed under, from its spec alone (nothing is built, hashed or written).

    ``bm25``, registry names, hub ids and names without a folder are as given; a model folder is named
    by ``embedbench.models.describe_name`` (its recorded run name, else the folder's name), followed by
    its ``@backend-precision`` when it has one.
    """
    base, backend, precision = split_spec(model)
    name = base if base == BM25 else describe_name(base)
    return model if name == base else backend_name(name, backend, precision)
