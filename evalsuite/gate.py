"""The regression gate: is a candidate model significantly worse than a reference, beyond a tolerance?

The reference is a baseline model's stored results, or a committed expected-results file. Per task,
on the reference's main metric, the check is one-sided: a task **regresses** only when

    candidate < reference - tolerance   AND   the drop is significant (one-sided p < alpha).

With per-item reference data (a stored baseline, or an expected file that keeps ``per_item``) the
p-value is the paired test of ``statistics.compare(..., alternative="less")`` over the same items.
With a bare expected value, it is the candidate's bootstrap: the share of resampled candidate scores
at or above the expected value. A metric with no per-item data at all (e.g. mteb's own scores) has
no test: a drop beyond the tolerance fails on its own. A reference task without a candidate result
fails as ``missing``.

Expected-results file (JSON, committed; ``write_expected`` creates one from stored results)::

    {
      "format": "embedbench.expected/1",
      "model": "all-MiniLM-L6-v2",            # whose results these are
      "model_fingerprint": "3f1c…",
      "created": "2026-01-01T00:00:00+00:00",
      "tasks": {
        "stsb": {
          "metric": "spearman",                # the metric the gate checks (the task's main metric)
          "value": 0.8203,                     # its expected value
          "dataset_hash": "9ab2…",             # optional: the data it was measured on (checked)
          "tolerance": 0.005,                  # optional: overrides the config's tolerance
          "calibration": {"method": "…", …},  # optional: how `embedbench calibrate` measured it
          "per_item": {"id": […], "score": […], "gold": […]},   # optional: enables a paired test
          "aggregations": {"spearman": "spearman:score,gold"}
        }
      }
    }

Multiple comparisons: a check asks one question per task, so with many tasks one of them would drop
"significantly" by chance. The one-sided p-values of the tasks that have a test are adjusted together
(Holm's step-down by default, Bonferroni or none on request: ``CORRECTIONS``) and a task regresses only
when its *adjusted* p is below alpha, which keeps the chance of any false alarm across all tasks at
or below alpha. Every output states the rule (``GateReport.rule``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.results import ResultsStore, display_name
from embedbench.evalsuite.statistics import aggregate as aggregate_metric
from embedbench.evalsuite.statistics import bootstrap_ci, compare, has_ci, holm, resample_indices
from embedbench.evalsuite.types import TaskResult
from embedbench.io import read_json, write_json_atomic

if TYPE_CHECKING:
    from embedbench.evalsuite.config import EvalConfig

EXPECTED_FORMAT = "embedbench.expected/1"
CORRECTIONS = ("holm", "bonferroni", "none")
"""Multiple-comparison corrections of the per-task one-sided p-values (``adjust_p_values``)."""


class ExpectedTask(BaseModel):
    """One task's expected value (and optional per-item data)."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    value: float
    dataset_hash: str = ""
    tolerance: float | None = Field(None, ge=0)
    calibration: dict[str, Any] = Field(default_factory=dict)
    per_item: dict[str, list[Any]] = Field(default_factory=dict)
    aggregations: dict[str, str] = Field(default_factory=dict)


class ExpectedFile(BaseModel):
    """The whole expected-results file."""

    model_config = ConfigDict(extra="forbid")

    format: str
    model: str
    model_fingerprint: str = ""
    created: str = ""
    tasks: dict[str, ExpectedTask] = Field(min_length=1)


@dataclass(frozen=True)
class GateRow:
    """The verdict on one task."""

    task: str
    metric: str
    candidate: float | None
    reference: float
    diff: float | None
    low: float | None
    high: float | None
    p_value: float | None
    tolerance: float
    status: str  # ok | within tolerance | not significant | regressed | missing
    tolerance_source: str = ""
    p_adjusted: float | None = None
    reason: str = ""

    @property
    def failed(self) -> bool:
        """True for a significant regression beyond tolerance, or a missing candidate result."""
        return self.status in ("regressed", "missing")


@dataclass(frozen=True)
class GateReport:
    """All rows of one check."""

    candidate: str
    reference: str
    alpha: float
    rows: list[GateRow]
    correction: str = "holm"

    @property
    def rule(self) -> str:
        """The decision rule in one sentence, multiple-comparison correction included."""
        tested = sum(r.p_value is not None for r in self.rows)
        how = {
            "holm": f"Holm's step-down correction over the {tested} task(s) with a test (family-wise error <= alpha)",
            "bonferroni": f"Bonferroni correction over the {tested} task(s) with a test (family-wise error <= alpha)",
            "none": "no multiple-comparison correction (each task at alpha on its own)",
        }[self.correction]
        return (f"a task regresses when candidate < reference - tolerance and its one-sided p-value, adjusted by "
                f"{how}, is below alpha = {self.alpha:g}; a task without per-item data fails on the tolerance alone; "
                "a task without a candidate result fails as missing")

    @property
    def passed(self) -> bool:
        """True when no task failed."""
        return not any(r.failed for r in self.rows)

    @property
    def failures(self) -> list[GateRow]:
        """The rows that failed."""
        return [r for r in self.rows if r.failed]


def read_expected(path: str | Path) -> ExpectedFile:
    """Read and validate an expected-results file; errors name the file and the bad key."""
    path = Path(path)
    data = read_json(path, missing="expected-results file not found; create one with `embedbench expected`")
    try:
        expected = ExpectedFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(map(str, err["loc"]))
        raise EmbedbenchError(f"{path}: {key}: {err['msg']} (see evalsuite.gate for the format)") from None
    if expected.format != EXPECTED_FORMAT:
        raise EmbedbenchError(f"{path}: format {expected.format!r}; expected {EXPECTED_FORMAT!r}")
    return expected


def expected_as_result(name: str, task: str, exp: ExpectedTask, source: str) -> TaskResult:
    """An expected entry as a ``TaskResult`` (so the same paired comparison applies)."""
    return TaskResult(
        task=task, task_type="expected", model=name, model_fingerprint="", dataset=source,
        dataset_hash=exp.dataset_hash, main_metric=exp.metric, metrics={exp.metric: exp.value},
        per_item=exp.per_item, aggregations=exp.aggregations,
    )


def write_expected(
    store: ResultsStore, model: str, path: str | Path, *, tasks: list[str] | None = None, per_item: bool = True
) -> Path:
    """Write the expected-results file of ``model``'s stored results (main metric per task)."""
    results = store.load_all(models=[model], tasks=tasks)
    if not results:
        raise EmbedbenchError(f"no stored results for model {model!r} in {store.root}; run `embedbench eval` first")
    entries = {}
    for r in results:
        keep = per_item and has_ci(r, r.main_metric)
        entries[r.task] = {
            "metric": r.main_metric, "value": r.metrics[r.main_metric], "dataset_hash": r.dataset_hash,
            **({"per_item": r.per_item, "aggregations": {r.main_metric: r.aggregations[r.main_metric]}} if keep else {}),
        }
    doc = {
        "format": EXPECTED_FORMAT, "model": results[0].model, "model_fingerprint": results[0].model_fingerprint,
        "created": datetime.now(UTC).isoformat(timespec="seconds"), "tasks": entries,
    }
    return write_json_atomic(path, doc)


def _status(diff: float, p: float | None, tol: float, alpha: float) -> str:
    if diff >= 0:
        return "ok"
    if diff >= -tol:
        return "within tolerance"
    if p is not None and p >= alpha:
        return "not significant"
    return "regressed"


def _reason(row: GateRow, alpha: float, correction: str) -> str:
    """Why a row got its verdict, in words."""
    if row.status == "missing":
        return "no candidate result for this task; run `embedbench eval` on it"
    assert row.diff is not None
    if row.status == "ok":
        return "candidate at or above the reference"
    drop = f"drop {-row.diff:.4f}"
    if row.status == "within tolerance":
        return f"{drop} within tolerance {row.tolerance:g}"
    p = row.p_adjusted if row.p_adjusted is not None else row.p_value
    p_name = "p" if correction == "none" else f"{correction.capitalize()}-adjusted p"
    if row.status == "not significant":
        return f"{drop} beyond tolerance {row.tolerance:g} but not significant ({p_name} {p:.3g} >= alpha {alpha:g})"
    if p is None:
        return f"{drop} beyond tolerance {row.tolerance:g}; no per-item data, so no test: the tolerance decides"
    return f"{drop} beyond tolerance {row.tolerance:g} and significant ({p_name} {p:.3g} < alpha {alpha:g})"


def adjust_p_values(p_values: list[float], method: str = "holm") -> list[float]:
    """Multiple-comparison adjusted p-values, in input order (``holm``, ``bonferroni`` or ``none``).

    Holm: ``statistics.holm`` (the report's correction too). Bonferroni: ``p * m`` capped at 1.
    Comparing the adjusted values with alpha controls the family-wise error rate at alpha.
    """
    if method not in CORRECTIONS:
        raise EmbedbenchError(f"unknown multiple-comparison correction {method!r}; choose one of: {', '.join(CORRECTIONS)}")
    if method == "holm":
        return holm(p_values)
    if method == "bonferroni":
        return [min(1.0, p * len(p_values)) for p in p_values]
    return list(p_values)


def _finish(rows: list[GateRow], alpha: float, correction: str) -> list[GateRow]:
    """Adjust the rows' p-values together, then decide each verdict and say why."""
    tested = [i for i, r in enumerate(rows) if r.p_value is not None]
    adjusted = adjust_p_values([rows[i].p_value for i in tested], correction)  # type: ignore[misc]
    rows = list(rows)
    for i, p in zip(tested, adjusted, strict=True):
        rows[i] = replace(rows[i], p_adjusted=p)
    out = []
    for r in rows:
        if r.status != "missing":
            assert r.diff is not None
            r = replace(r, status=_status(r.diff, r.p_adjusted, r.tolerance, alpha))
        out.append(replace(r, reason=_reason(r, alpha, correction)))
    return out


def check_task(
    cand: TaskResult, ref: TaskResult, metric: str, *, tolerance: float, alpha: float, n: int, seed: int
) -> GateRow:
    """The verdict on one task: paired when both sides have per-item data, else the candidate's bootstrap."""
    ref_value = ref.metrics[metric]
    if metric not in cand.metrics:
        raise EmbedbenchError(f"{cand.model} on {cand.task}: no metric {metric!r} (has {', '.join(cand.metrics)})")
    if cand.dataset_hash and ref.dataset_hash and cand.dataset_hash != ref.dataset_hash:
        raise EmbedbenchError(
            f"{cand.task}: candidate and reference were measured on different data (dataset hash "
            f"{cand.dataset_hash[:12]} vs {ref.dataset_hash[:12]}); re-run the evaluation or refresh the expected file"
        )
    if has_ci(cand, metric) and has_ci(ref, metric):
        c = compare(cand, ref, metric, n=n, seed=seed, alpha=alpha, alternative="less")
        return GateRow(cand.task, metric, c.candidate, c.baseline, c.diff, c.low, c.high, c.p_value, tolerance,
                       _status(c.diff, c.p_value, tolerance, alpha))
    value = cand.metrics[metric]
    diff = value - ref_value
    if not has_ci(cand, metric):
        return GateRow(cand.task, metric, value, ref_value, diff, None, None, None, tolerance,
                       _status(diff, None, tolerance, alpha))
    ci = bootstrap_ci(cand, metric, n=n, seed=seed, alpha=alpha)
    reps = np.asarray(aggregate_metric(cand, metric, resample_indices(cand.n_items, n, seed)))
    p = float((np.count_nonzero(reps >= ref_value) + 1) / (reps.size + 1))
    return GateRow(cand.task, metric, value, ref_value, diff, ci.low - ref_value, ci.high - ref_value, p, tolerance,
                   _status(diff, p, tolerance, alpha))


def run_check(
    store: ResultsStore,
    candidate: str,
    *,
    baseline: str | None = None,
    expected: str | Path | None = None,
    tasks: list[str] | None = None,
    tolerance: float = 0.01,
    tolerances: dict[str, float] | None = None,
    alpha: float = 0.05,
    n: int = 1000,
    seed: int = 0,
    correction: str = "holm",
    tolerance_source: str = "run_check",
) -> GateReport:
    """Check ``candidate``'s stored results against ``baseline``'s or an expected file (exactly one).

    Args:
        store: the results store holding the candidate (and baseline) results.
        candidate: model name whose results are checked.
        baseline: model name of the reference results in the same store.
        expected: path of an expected-results file (see the module docstring).
        tasks: only these tasks (default: every task of the reference).
        tolerance: allowed drop of a task's metric.
        tolerances: per-task allowed drops (override ``tolerance``).
        alpha: significance level of the one-sided test.
        n: bootstrap resamples / permutations.
        seed: resampling seed.
        correction: multiple-comparison correction across tasks (``CORRECTIONS``).
        tolerance_source: where ``tolerance`` and ``tolerances`` came from (e.g. ``"bench.toml [eval.check]"``);
            the outputs then name ``"<it> tolerance"`` or ``"<it> tolerances.<task>"``.
    """
    if correction not in CORRECTIONS:
        raise EmbedbenchError(f"unknown multiple-comparison correction {correction!r}; choose one of: {', '.join(CORRECTIONS)}")
    if (baseline is None) == (expected is None):
        raise EmbedbenchError("give exactly one reference: --baseline MODEL or --expected FILE.json")
    tolerances = tolerances or {}
    refs: list[tuple[TaskResult, str, float, str]] = []

    def configured(task: str) -> tuple[float, str]:
        if task in tolerances:
            return tolerances[task], f"{tolerance_source} tolerances.{task}"
        return tolerance, f"{tolerance_source} tolerance"

    if expected is not None:
        exp = read_expected(expected)
        reference = str(expected)
        for task, entry in exp.tasks.items():
            if entry.tolerance is not None:
                how = entry.calibration.get("method")
                tol, src = entry.tolerance, f"{expected} (calibrated: {how})" if how else f"{expected} tolerance"
            else:
                tol, src = configured(task)
            refs.append((expected_as_result(exp.model, task, entry, str(expected)), entry.metric, tol, src))
    else:
        reference = str(baseline)
        for r in store.load_all(models=[str(baseline)]):
            refs.append((r, r.main_metric, *configured(r.task)))
        if not refs:
            raise EmbedbenchError(f"no stored results for baseline {baseline!r} in {store.root}; run `embedbench eval`")
    if tasks:
        unknown = sorted(set(tasks) - {r.task for r, *_ in refs})
        if unknown:
            raise EmbedbenchError(f"task(s) {unknown} not in the reference {reference}")
        refs = [x for x in refs if x[0].task in tasks]
    rows = []
    for ref, metric, tol, src in refs:
        if not store.exists(candidate, ref.task):
            rows.append(GateRow(ref.task, metric, None, ref.metrics[metric], None, None, None, None, tol, "missing", src))
            continue
        cand = store.load(candidate, ref.task)
        row = check_task(cand, ref, metric, tolerance=tol, alpha=alpha, n=n, seed=seed)
        rows.append(replace(row, tolerance_source=src))
    return GateReport(candidate, reference, alpha, _finish(rows, alpha, correction), correction)


def check_configured(
    cfg: EvalConfig,
    *,
    candidate: str | None = None,
    baseline: str | None = None,
    expected: str | Path | None = None,
    tasks: list[str] | None = None,
    results: str | Path | None = None,
    source: str = "[eval.check]",
) -> GateReport:
    """``run_check`` with an ``[eval]`` config's defaults (what ``embedbench check`` and the pytest plugin run).

    The reference is ``baseline`` or ``expected`` when given, else ``[eval.check]`` expected / baseline,
    else the config's baseline model. ``source`` names the config in the outputs' tolerance sources.
    """
    chk = cfg.check
    cand = candidate or chk.candidate
    if not cand:
        raise EmbedbenchError("no candidate: pass --candidate MODEL or set [eval.check] candidate")
    if baseline is None and expected is None:
        expected, baseline = chk.expected, chk.baseline
        if expected is None and baseline is None:
            baseline = cfg.baseline_model
    return run_check(
        ResultsStore(results or cfg.results_dir), display_name(cand),
        baseline=display_name(baseline) if baseline else None, expected=expected,
        tasks=tasks or chk.tasks, tolerance=chk.tolerance, tolerances=chk.tolerances, alpha=chk.alpha,
        n=cfg.bootstrap, seed=cfg.seed, correction=chk.correction, tolerance_source=source,
    )
