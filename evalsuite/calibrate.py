"""Tolerances from measured noise: how far each task's main metric moves when nothing that matters changes.

``calibrate`` evaluates one model on the tasks of an expected-results file several times, each time
changing only something that should not change the result:

* the batch size (padding differs, so the matrix products are summed in another order),
* the number of CPU threads (another split of the same sums),
* the backends that compute the same fp32 arithmetic as torch (``onnx-fp32``, ``openvino-fp32``;
  ``embedbench.backends``),
* nothing at all (a second run of the reference setting).

Every run encodes afresh (no embedding cache: a cached vector would hide the noise). The **spread**
of a task is max - min of its main metric over the runs; its tolerance is
``max(SAFETY * spread, FLOOR)``, written into the expected file with a ``calibration`` record of
how it was measured (runs, values, spread, rule, model, date). ``embedbench check`` then uses it for
that task and names it as the tolerance's source.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from embedbench.backend_spec import AUTO, Backend, Precision, split_spec
from embedbench.encode import load_encoder
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.config import BM25, EvalConfig
from embedbench.evalsuite.gate import read_expected
from embedbench.evalsuite.runner import build_task
from embedbench.io import read_json, write_json_atomic

SAFETY = 2.0
"""A tolerance is this many times the measured spread..."""
FLOOR = 1e-4
"""...and never below this (a spread of 0, e.g. an unchanged ranking, would otherwise allow no drop at all)."""
EXACT_BACKENDS = ((Backend.ONNX, Precision.FP32), (Backend.OPENVINO, Precision.FP32))
"""Backends whose arithmetic is torch's fp32 (int8 changes the model, so it is not noise)."""
KINDS = ("batch", "threads", "backends", "rerun")
"""What ``calibrate`` can vary (``--vary``)."""


@dataclass(frozen=True)
class Setting:
    """One way of running the same model: label, batch size, threads, backend and precision."""

    label: str
    batch_size: int
    threads: int
    backend: Backend = Backend.TORCH
    precision: Precision = Precision.FP32


@dataclass(frozen=True)
class TaskNoise:
    """One task's main metric under every setting, its spread and the tolerance derived from it."""

    task: str
    metric: str
    values: dict[str, float]
    spread: float
    tolerance: float


def settings(batch_size: int, vary: tuple[str, ...] = KINDS, threads: int | None = None) -> list[Setting]:
    """The reference setting first, then one setting per variation asked for."""
    unknown = sorted(set(vary) - set(KINDS))
    if unknown:
        raise EmbedbenchError(f"calibrate --vary {','.join(unknown)}: expected some of {', '.join(KINDS)}")
    from embedbench.backends import cpu_threads  # imports torch: only when a calibration runs

    threads = threads or cpu_threads()
    ref = Setting(f"reference (batch {batch_size}, {threads} threads, torch-fp32)", batch_size, threads)
    out = [ref]
    if "batch" in vary:
        out += [dataclasses.replace(ref, label=f"batch {b}", batch_size=b) for b in (max(1, batch_size // 4), batch_size * 2)]
    if "threads" in vary:
        others = sorted({1, max(1, threads // 2)} - {threads})
        out += [dataclasses.replace(ref, label=f"{t} thread(s)", threads=t) for t in others]
    if "backends" in vary:
        out += [dataclasses.replace(ref, label=f"{b.value}-{p.value}", backend=b, precision=p) for b, p in EXACT_BACKENDS]
    if "rerun" in vary:
        out.append(dataclasses.replace(ref, label="second run"))
    return out


def tolerance_of(spread: float, safety: float = SAFETY, floor: float = FLOOR) -> float:
    """``max(safety * spread, floor)``."""
    return max(safety * spread, floor)


def measure(
    cfg: EvalConfig, model: str, tasks: list[str], setups: list[Setting], *, log: Callable[[str], None] = print
) -> dict[str, dict[str, tuple[str, float]]]:
    """Task -> setting label -> (main metric, value): each setting encodes every task afresh (no cache)."""
    if model == BM25:
        raise EmbedbenchError("calibrate measures an embedding model's noise; bm25 has none (it is exact)")
    entries = {e.name: e for e in cfg.task_entries}
    unknown = [t for t in tasks if t not in entries]
    if unknown:
        raise EmbedbenchError(
            f"task(s) {unknown} of the expected file are not configured in [eval] tasks ({', '.join(entries) or 'none'}); "
            "calibrate evaluates the tasks the config defines"
        )
    built = {t: build_task(entries[t]) for t in tasks}
    name, backend, precision = split_spec(model)
    if backend not in (AUTO, Backend.TORCH) or precision is not Precision.FP32:  # a bare name is the model itself
        raise EmbedbenchError(f"calibrate {model!r}: give the torch fp32 model; the exact backends are among the variations")
    out: dict[str, dict[str, tuple[str, float]]] = {t: {} for t in tasks}
    try:
        for s in setups:
            encoder = load_encoder(name, batch_size=s.batch_size, cache=None, show_progress=False, backend=s.backend,
                                   precision=s.precision, threads=s.threads)
            for t, task in built.items():
                result = task.evaluate(encoder)
                value = result.metrics[result.main_metric]
                out[t][s.label] = (result.main_metric, float(value))
                log(f"{t} / {s.label}: {result.main_metric} = {value:.6f}")
    finally:
        import torch

        from embedbench.backends import cpu_threads

        torch.set_num_threads(cpu_threads())  # a 1-thread setting must not outlive the calibration
    return out


def calibrate(
    cfg: EvalConfig,
    expected: str | Path,
    model: str,
    *,
    vary: tuple[str, ...] = KINDS,
    safety: float = SAFETY,
    floor: float = FLOOR,
    log: Callable[[str], None] = print,
) -> list[TaskNoise]:
    """Measure ``model``'s noise on the tasks of ``expected`` and write per-task tolerances into that file.

    Args:
        cfg: the ``[eval]`` config that defines the tasks.
        expected: the expected-results file (read, then rewritten atomically with the tolerances).
        model: the model whose noise is measured (registry name or folder; torch fp32).
        vary: which of ``KINDS`` to vary.
        safety: tolerance = ``max(safety * spread, floor)``.
        floor: the smallest tolerance written.
        log: where progress lines go.
    """
    if safety < 1 or floor < 0:
        raise EmbedbenchError(f"calibrate: safety must be >= 1 and floor >= 0 (got {safety}, {floor})")
    exp = read_expected(expected)
    setups = settings(cfg.batch_size, vary)
    if len(setups) < 2:
        raise EmbedbenchError("calibrate needs at least one variation (--vary batch,threads,backends,rerun)")
    measured = measure(cfg, model, list(exp.tasks), setups, log=log)
    doc: dict[str, Any] = read_json(expected, missing="expected-results file not found")
    created = datetime.now(UTC).isoformat(timespec="seconds")
    noise = []
    for task, runs in measured.items():
        metric = runs[setups[0].label][0]
        if metric != exp.tasks[task].metric:
            raise EmbedbenchError(
                f"{expected}: tasks.{task}.metric is {exp.tasks[task].metric!r} but the task's main metric is {metric!r}; "
                "refresh the file with `embedbench expected`"
            )
        values = {label: v for label, (_, v) in runs.items()}
        spread = max(values.values()) - min(values.values())
        tol = tolerance_of(spread, safety, floor)
        noise.append(TaskNoise(task, metric, values, spread, tol))
        doc["tasks"][task]["tolerance"] = tol
        doc["tasks"][task]["calibration"] = {
            "method": f"max({safety:g} x spread, {floor:g}) over {len(values)} runs of {Path(model).name}: "
                      + ", ".join(values),
            "model": model, "metric": metric, "runs": values, "spread": spread, "safety": safety, "floor": floor,
            "created": created,
        }
    write_json_atomic(expected, doc)
    return noise
