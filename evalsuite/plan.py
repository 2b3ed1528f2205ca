"""Know the cost of an evaluation before paying it: the plan ``embedbench eval`` prints first.

For every (model, task) pair the plan counts exactly the unique texts the task will ask the model to
encode, subtracts those already in the embedding cache (or encoded by an earlier pair of the same
run), sums their tokens (the model's tokenizer, truncated at its max sequence length) and estimates
the time from the model's throughput measured on this machine (``embedbench.throughput``) plus the
task's own time without encoding (loading its data, scoring).

The texts are counted by running each task once against a :class:`RecordingEncoder`, which records
what it is asked for and returns pseudo-random unit vectors: the only way that is exact for every
task (mteb's classification encodes training texts, retrieval its corpus and queries, under their
own prompts). That dry run's time is the task's overhead in the estimate. Models without prompts
share one dry run per task.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np

from embedbench import throughput as tp_module
from embedbench.cache import text_hash
from embedbench.evalsuite.model_facts import PlanRow
from embedbench.io import read_manifest, sha256_text, write_json_atomic
from embedbench.paths import cache_dir
from embedbench.throughput import token_counts

RECORD_DIM = 32
"""Dimension of the recording encoder's vectors (at most 32: bytes of a SHA-256): small, so the dry run's
scoring costs little."""


class RecordingEncoder:
    """Stands in for a model: records every text asked for, per prompt; returns pseudo-random unit vectors.

    Same surface as ``CachedEncoder`` (``name``, ``fingerprint``, ``dim``, ``with_prompt``, ``model.prompts``
    for mteb's prompt types). A text's vector is derived from its hash, so equal texts get equal vectors.
    """

    def __init__(self, name: str = "plan", fingerprint: str = "plan", prompts: dict[str, str] | None = None,
                 prompt: str = "", asked: dict[str, dict[str, None]] | None = None) -> None:
        self.name = name
        self.fingerprint = fingerprint
        self.prompt = prompt
        self.model = SimpleNamespace(prompts=dict(prompts or {}))
        self.asked: dict[str, dict[str, None]] = asked if asked is not None else {}
        """Prompt -> the texts asked for under it (an ordered set)."""

    @property
    def dim(self) -> int:
        """Embedding dimension (small on purpose)."""
        return RECORD_DIM

    def with_prompt(self, prompt: str | None) -> RecordingEncoder:
        """The same recorder under another prompt (its texts are recorded apart)."""
        return RecordingEncoder(self.name, self.fingerprint, self.model.prompts, prompt or "", self.asked)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Record ``texts``; one unit vector per text (the first bytes of its SHA-256, centred)."""
        seen = self.asked.setdefault(self.prompt, {})
        out = np.empty((len(texts), RECORD_DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            seen[text] = None
            out[i] = np.frombuffer(hashlib.sha256(text.encode("utf-8")).digest()[:RECORD_DIM], dtype=np.uint8)
        out -= 127.5
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
        return out


@dataclass(frozen=True)
class Recording:
    """What one dry run of a task asked for, and how long the task took without real encoding."""

    asked: dict[str, list[str]]
    """Prompt -> unique texts, in the order asked."""
    seconds: float


def record_task(task: Any, prompts: dict[str, str] | None = None, key: str | None = None) -> Recording:
    """Run ``task`` once against a :class:`RecordingEncoder` (with ``prompts``); its texts and seconds.

    With ``key`` (what defines the task's texts: name, config, inputs hash) the recording is kept in
    ``cache_dir()/plans/`` and read back next time, so an unchanged task is dry-run once per machine.
    """
    path = cache_dir() / "plans" / f"{sha256_text(json.dumps([key, sorted((prompts or {}).items())]))[:24]}.json"
    if key is not None:
        kept = read_manifest(path)
        if kept and isinstance(kept.get("asked"), dict):
            return Recording({str(p): list(t) for p, t in kept["asked"].items()}, float(kept.get("seconds", 0.0)))
    recording = _record(task, prompts)
    if key is not None:
        write_json_atomic(path, {"key": key, "asked": recording.asked, "seconds": recording.seconds})
    return recording


def _record(task: Any, prompts: dict[str, str] | None) -> Recording:
    recorder = RecordingEncoder(prompts=prompts)
    started = time.perf_counter()
    with warnings.catch_warnings():  # scores of random vectors: sklearn's ill-defined-metric warnings mean nothing
        warnings.simplefilter("ignore")
        task.evaluate(recorder)
    seconds = time.perf_counter() - started
    return Recording({p: list(texts) for p, texts in recorder.asked.items()}, seconds)


@dataclass
class Plan:
    """The plan of a run: one :class:`PlanRow` per pair, in run order, and what planning itself took."""

    pairs: list[PlanRow] = field(default_factory=list)
    seconds: float = 0.0
    machine: str = ""
    throughputs: dict[str, Any] = field(default_factory=dict)
    """Model name -> its ``Throughput`` measured (or remembered) on this machine."""

    def total(self, status: str = "run") -> float:
        """Estimated seconds of the pairs with ``status`` (unknown estimates count 0)."""
        return sum(p.est_seconds or 0.0 for p in self.pairs if p.status == status)

    def to_encode(self, model: str) -> int:
        """Texts ``model`` will encode over the pairs that run."""
        return sum(p.to_encode for p in self.pairs if p.model == model and p.status == "run")


def cached_texts(encoder: Any, prompt: str, texts: list[str]) -> set[str]:
    """Of ``texts``, those the encoder's embedding cache already holds under ``prompt``."""
    cache = getattr(encoder, "cache", None)
    with_prompt = getattr(encoder, "with_prompt", None)
    if cache is None or with_prompt is None or not texts:
        return set()
    space = with_prompt(prompt or None).space
    hashes = [text_hash(t) for t in texts]
    found: set[bytes] = set()
    for start in range(0, len(hashes), 8192):  # bounded reads: the vectors found are dropped at once
        found.update(cache.get_many(space, hashes[start : start + 8192]))
    return {t for t, h in zip(texts, hashes, strict=True) if h in found}


Estimator = Callable[[Any, Sequence[int]], float]


def plan_pairs(pairs: Sequence[Any], *, throughput: Callable[[Any], Any] | None = None,
               estimate: Estimator | None = None, log: Callable[[str], None] = print) -> Plan:
    """The plan of ``runner.Pair`` s (in run order); loads each model that has work (the run reuses it).

    ``throughput(encoder)`` and ``estimate(tp, token_counts)`` default to ``embedbench.throughput``'s
    ``throughput_of`` and ``estimate_seconds``, the former calibrated on the run's own texts
    (:func:`calibrate_throughput`); tests pass fakes (and no calibration).
    """
    started = time.perf_counter()
    throughput, estimate, calibrate, machine = _throughput_functions(throughput, estimate)
    recordings: dict[tuple[str, tuple[tuple[str, str], ...]], Recording] = {}
    work: list[tuple[PlanRow, Any, list[str], list[int]]] = []  # (row, encoder, texts to encode, their tokens)
    will_hold: dict[tuple[int, str], set[str]] = {}  # (model, prompt) -> texts in the cache once earlier pairs ran
    left_hold: dict[tuple[int, str], set[str]] = {}  # the same for left-out pairs, as if they ran after the run
    plan = Plan(machine=machine)
    for pair in pairs:
        row = PlanRow(pair.model.name, pair.name, pair.status, reason=pair.reason)
        plan.pairs.append(row)
        if pair.status not in ("run", "left out"):
            row.est_seconds = 0.0
            continue
        task_key = json.dumps([pair.name, pair.config, pair.inputs_hash], sort_keys=True, default=str)
        key: tuple[str, tuple[tuple[str, str], ...]]
        if pair.model.lexical:
            key = (pair.name, ())
            if key not in recordings:
                recordings[key] = record_task(pair.task, key=task_key)
                log(f"plan: {pair.name}: {recordings[key].seconds:.1f} s without encoding")
            row.est_seconds = row.overhead_seconds = recordings[key].seconds
            continue
        encoder = pair.model.get()
        prompts = dict(getattr(getattr(encoder, "model", None), "prompts", None) or {})
        key = (pair.name, tuple(sorted(prompts.items())))
        if key not in recordings:
            recordings[key] = record_task(pair.task, prompts, key=task_key)
            log(f"plan: {pair.name}: {sum(map(len, recordings[key].asked.values()))} texts, "
                f"{recordings[key].seconds:.1f} s without encoding")
        rec = recordings[key]
        missing: list[str] = []
        for prompt, texts in rec.asked.items():
            held = will_hold.setdefault((id(encoder), prompt), set())
            left = left_hold.setdefault((id(encoder), prompt), set()) if pair.status == "left out" else set()
            fresh = [t for t in texts if t not in held and t not in left]
            in_cache = cached_texts(encoder, prompt, fresh)
            new = [t for t in fresh if t not in in_cache]
            row.texts += len(texts)
            row.cached += len(texts) - len(new)
            missing.extend(prompt + t for t in new)
            (held if pair.status == "run" else left).update(fresh)
        tokens = token_counts(encoder, missing) if missing else []
        row.tokens, row.overhead_seconds = sum(tokens), rec.seconds
        work.append((row, encoder, missing, tokens))
    _estimate(plan, work, throughput, estimate, calibrate, log)
    plan.seconds = time.perf_counter() - started
    return plan


def _estimate(plan: Plan, work: list[tuple[PlanRow, Any, list[str], list[int]]], throughput: Any,
              estimate: Estimator | None, calibrate: Any, log: Callable[[str], None]) -> None:
    """Fill each row's ``est_seconds``: per model its throughput, calibrated on a sample of its own texts."""
    by_model: dict[int, list[tuple[PlanRow, Any, list[str], list[int]]]] = {}
    for item in work:
        by_model.setdefault(id(item[1]), []).append(item)
    for items in by_model.values():
        row0, encoder = items[0][0], items[0][1]
        tp = throughput(encoder) if throughput is not None else None
        if tp is not None and calibrate is not None and estimate is not None:
            texts = [t for it in items if it[0].status == "run" for t in it[2]]
            tokens = [n for it in items if it[0].status == "run" for n in it[3]]
            tp = calibrate(encoder, tp, texts, tokens, estimate)
        plan.throughputs[row0.model] = tp
        if tp is not None:
            log(f"plan: {row0.model} ({getattr(tp, 'backend', '?')}-{getattr(tp, 'precision', '?')}): "
                f"{tp.short_per_s:.0f} short texts/s, {tp.long_per_s:.1f} long texts/s on this machine now")
        for row, _, _, tokens in items:
            row.est_seconds = None if tp is None or estimate is None else float(estimate(tp, tokens)) + row.overhead_seconds


def _throughput_functions(throughput: Callable[[Any], Any] | None, estimate: Estimator | None,
                          ) -> tuple[Callable[[Any], Any] | None, Estimator | None, Any, str]:
    """Measuring, estimating and calibrating functions and this machine's id (``embedbench.throughput``)."""
    return (throughput or tp_module.throughput_of, estimate or tp_module.estimate_seconds, calibrate_throughput,
            tp_module.machine_id())


CALIBRATION_BLOCKS = 8
"""Batches of short texts timed per model, evenly spaced over the run's length-sorted batches."""


def calibrate_throughput(encoder: Any, tp: Any, texts: list[str], tokens: list[int], estimate: Estimator) -> Any:
    """``tp`` with its rates scaled to how fast ``encoder`` encodes ``texts`` on this machine now.

    The remembered measurement (``throughput.throughput_of``) may come from a busier or quieter moment
    (a shared machine's load changes the speed several-fold), and the cost of a text is not linear in
    its tokens (on torch, all-MiniLM-L6-v2's batches cost the same up to ~12 tokens, then jump 2-3x).
    So the run's own batches are sampled: the texts are sorted by characters and cut into batches as the
    run does (a batch pads to its longest text); a few batches evenly spaced along that order are timed
    (without the cache: nothing is stored), and their seconds per text, times the number of texts, is
    the measured total. Each end's rates are scaled by measured total / token-model total: the short
    texts with ``CALIBRATION_BLOCKS`` batches, the long ones (above the probes' midpoint) with one.
    """
    batch = max(int(getattr(encoder, "batch_size", 64) or 64), 8)
    mid = (tp.short_tokens + tp.long_tokens) / 2
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # as the run batches them (characters)
    short = [i for i in order if tokens[i] < mid]
    long = [i for i in order if tokens[i] >= mid]
    if not order:
        return tp
    tp_module.warm_up(encoder)
    factors: dict[str, float] = {}
    for name, group, blocks in (("short", short, CALIBRATION_BLOCKS), ("long", long, 1)):
        if not group:
            continue
        n_batches = -(-len(group) // batch)
        k = min(blocks, n_batches)
        seconds = timed = 0.0
        for j in range(k):
            b = int((j + 0.5) * n_batches / k)
            idx = group[b * batch : (b + 1) * batch]
            took, _ = tp_module.timed_encode(encoder, [texts[i] for i in idx])
            seconds += took
            timed += len(idx)
        measured = seconds / max(timed, 1) * len(group)
        factors[name] = measured / max(float(estimate(tp, [tokens[i] for i in group])), 1e-9)
    f_short = factors.get("short", factors.get("long", 1.0))
    f_long = factors.get("long", f_short)
    return dataclasses.replace(tp, short_per_s=tp.short_per_s / f_short, long_per_s=tp.long_per_s / f_long)


def duration(seconds: float | None) -> str:
    """``"1 h 02 min"`` / ``"3 min 05 s"`` / ``"12 s"``; ``"–"`` when unknown."""
    if seconds is None:
        return "–"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def format_plan(plan: Plan, *, compact: bool = False) -> list[str]:
    """The plan as lines: per pair texts, cached, to encode, tokens and estimate; then the totals.

    ``compact`` (printed before every ``eval``) shows only the pairs that run or are left out.
    """
    shown = [p for p in plan.pairs if not compact or p.status in ("run", "left out")]
    header = f"{'model':<28} {'task':<30} {'texts':>7} {'cached':>7} {'encode':>7} {'tokens':>9} {'estimate':>11}  status"
    lines = ["plan (texts: unique texts asked for; encode: not in the cache; estimate: encoding + the task's own work)",
             header]
    for p in shown:
        est = duration(p.est_seconds) if p.status in ("run", "left out") else ""
        note = f"{p.status}: {p.reason}" if p.reason else p.status
        lines.append(f"{p.model[:28]:<28} {p.task[:30]:<30} {p.texts:>7} {p.cached:>7} {p.to_encode:>7} "
                     f"{p.tokens:>9} {est:>11}  {note}")
    run = [p for p in plan.pairs if p.status == "run"]
    unknown = any(p.est_seconds is None for p in run)
    lines.append(
        f"total: {len(run)} pair(s) to run, {sum(p.to_encode for p in run)} texts to encode "
        f"({sum(p.tokens for p in run)} tokens), estimated {duration(plan.total())}"
        + (" (some estimates unknown: no throughput measurement)" if unknown else "")
        + f"; planning took {duration(plan.seconds)}"
    )
    left = [p for p in plan.pairs if p.status == "left out"]
    if left:
        lines.append(f"left out: {len(left)} pair(s), estimated {duration(plan.total('left out'))} ([eval] leave_out)")
    return lines
