"""Confidence intervals and paired significance tests for any ``TaskResult`` metric.

A metric is recomputed from the result's ``per_item`` columns through its aggregation string
(see ``evalsuite.types``), so one bootstrap serves retrieval, STS, triplet and pair tasks:

- ``bootstrap_ci``: percentile bootstrap over items (queries / pairs / triplets). Resample indices are
  ``np.random.default_rng(seed).integers(0, n, (B, n))``, the same draw as ``scipy.stats.bootstrap``,
  so with equal seeds the two give the same interval.
- ``compare``: candidate minus baseline on the same items (aligned by the ``id`` column), with a
  paired-bootstrap 95% CI (the same resample indices for both), a p-value and counts of items
  improved / hurt / tied. Tests: ``"randomization"`` (Fisher's paired randomisation: per item, swap
  the two systems' values, i.e. flip the sign of the per-item difference; the test ranx calls
  ``"fisher"``) and ``"t-test"`` (``scipy.stats.ttest_rel``) for ``mean:`` metrics; ``"bootstrap"`` (the
  difference over its paired-bootstrap standard error, against a normal) for any metric. ``"auto"`` picks randomisation for
  means and the bootstrap for correlations, AP and best-F1, whose value is not a mean over items.
- ``holm``: Holm-Bonferroni adjusted p-values for many comparisons.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.types import TaskResult

ID_COLUMN = "id"
KINDS = {"mean": 1, "spearman": 2, "pearson": 2, "ap": 2, "best_f1": 2}
TESTS = ("auto", "randomization", "t-test", "bootstrap")
Alternative = Literal["two-sided", "less", "greater"]
# Randomisation tests draw at least this many sign patterns, so p-values reach 1e-4 (room for Holm).
MIN_PERMUTATIONS = 10_000
# Bootstrap rows are evaluated in blocks of at most this many values, to bound memory.
_BLOCK_VALUES = 4_000_000


@dataclass(frozen=True)
class Aggregation:
    """A parsed aggregation string: ``kind`` and the per-item ``columns`` it reads (prediction first)."""

    kind: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class CI:
    """A point estimate with its percentile bootstrap interval."""

    metric: str
    estimate: float
    low: float
    high: float
    n_items: int
    n_boot: int
    alpha: float


@dataclass(frozen=True)
class Comparison:
    """Candidate minus baseline on one metric, over the same items."""

    metric: str
    candidate: float
    baseline: float
    diff: float
    low: float
    high: float
    p_value: float
    test: str
    alternative: str
    improved: int
    hurt: int
    tied: int
    n_items: int


def parse_aggregation(spec: str) -> Aggregation:
    """Parse ``"kind:col[,col]"``; an unknown kind or a wrong number of columns raises."""
    kind, sep, cols = spec.partition(":")
    columns = tuple(c.strip() for c in cols.split(",") if c.strip())
    if not sep or kind not in KINDS:
        raise EmbedbenchError(f"unknown aggregation {spec!r}; expected one of {', '.join(f'{k}:…' for k in KINDS)}")
    if len(columns) != KINDS[kind]:
        raise EmbedbenchError(f"aggregation {spec!r} needs {KINDS[kind]} column(s), got {len(columns)}")
    return Aggregation(kind, columns)


def has_ci(result: TaskResult, metric: str) -> bool:
    """True when ``metric`` can be recomputed from per-item data (so it has a CI)."""
    return metric in result.aggregations and bool(result.per_item)


def columns(result: TaskResult, metric: str) -> tuple[Aggregation, list[np.ndarray]]:
    """The aggregation of ``metric`` and its per-item columns as float arrays (checked finite)."""
    if metric not in result.aggregations:
        known = ", ".join(result.aggregations) or "none"
        raise EmbedbenchError(
            f"{result.model} / {result.task}: metric {metric!r} has no per-item aggregation "
            f"(metrics with one: {known})"
        )
    agg = parse_aggregation(result.aggregations[metric])
    arrays = []
    for col in agg.columns:
        if col not in result.per_item:
            raise EmbedbenchError(
                f"{result.model} / {result.task}: aggregation {result.aggregations[metric]!r} reads column "
                f"{col!r}, which per_item lacks (columns: {', '.join(result.per_item)})"
            )
        try:
            arr = np.asarray(result.per_item[col], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise EmbedbenchError(f"{result.model} / {result.task}: column {col!r} is not numeric: {exc}") from None
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise EmbedbenchError(
                f"{result.model} / {result.task}: column {col!r} holds {bad.size} non-finite value(s) "
                f"(first at item {bad[0]}: {arr[bad[0]]}); scores must be finite numbers"
            )
        arrays.append(arr)
    if len({a.size for a in arrays}) > 1:
        raise EmbedbenchError(f"{result.model} / {result.task}: columns {agg.columns} differ in length")
    if arrays[0].size == 0:
        raise EmbedbenchError(f"{result.model} / {result.task}: no items to aggregate for {metric!r}")
    return agg, arrays


# ----------------------------------------------------------------------------------------- kernels
# Each kernel takes 2-D arrays (rows = resamples, columns = items) and returns one value per row.


def _pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt((xc * xc).sum(axis=-1) * (yc * yc).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (xc * yc).sum(axis=-1) / den, np.nan)


def _spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _pearson(stats.rankdata(x, axis=-1), stats.rankdata(y, axis=-1))


def _ranked(score: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels sorted by descending score, cumulative true positives, and for each position the end of its tie group."""
    order = np.argsort(-score, axis=-1, kind="stable")
    s = np.take_along_axis(score, order, axis=-1)
    lab = np.take_along_axis(label, order, axis=-1)
    n = s.shape[-1]
    pos = np.arange(n)
    is_end = np.ones_like(s, dtype=bool)
    is_end[..., :-1] = s[..., :-1] != s[..., 1:]
    ends = np.where(is_end, pos, n)
    group_end = np.minimum.accumulate(ends[..., ::-1], axis=-1)[..., ::-1]
    return lab, np.cumsum(lab, axis=-1), group_end


def _average_precision(score: np.ndarray, label: np.ndarray) -> np.ndarray:
    """sklearn's ``average_precision_score``: sum over thresholds of (R_k - R_{k-1}) * P_k; ties share a threshold."""
    lab, tp, group_end = _ranked(score, label)
    precision_at_end = np.take_along_axis(tp, group_end, axis=-1) / (group_end + 1)
    n_pos = lab.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_pos > 0, (lab * precision_at_end).sum(axis=-1) / n_pos, np.nan)


def _best_f1(score: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Best F1 over thresholds between distinct scores (sentence-transformers' ``find_best_f1_and_threshold``)."""
    lab, tp, group_end = _ranked(score, label)
    n = lab.shape[-1]
    is_end = group_end == np.arange(n)
    n_pos = lab.sum(axis=-1, keepdims=True)
    f1 = 2 * tp / (np.arange(1, n + 1) + n_pos)
    return np.where(is_end, f1, 0.0).max(axis=-1)


def _kernel(kind: str, arrays: Sequence[np.ndarray]) -> np.ndarray:
    if kind == "mean":
        return arrays[0].mean(axis=-1)
    if kind == "spearman":
        return _spearman(arrays[0], arrays[1])
    if kind == "pearson":
        return _pearson(arrays[0], arrays[1])
    if kind == "ap":
        return _average_precision(arrays[0], arrays[1])
    return _best_f1(arrays[0], arrays[1])


def _blocks(n_rows: int, n_items: int) -> Iterator[slice]:
    step = max(1, _BLOCK_VALUES // max(n_items, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def _apply(kind: str, arrays: Sequence[np.ndarray], idx: np.ndarray | None) -> np.ndarray | float:
    if idx is None:
        return float(_kernel(kind, [a[None, :] for a in arrays])[0])
    if idx.ndim == 1:
        return float(_kernel(kind, [a[idx][None, :] for a in arrays])[0])
    return np.concatenate([_kernel(kind, [a[idx[b]] for a in arrays]) for b in _blocks(idx.shape[0], idx.shape[1])])


def aggregate(result: TaskResult, metric: str, idx: np.ndarray | None = None) -> float | np.ndarray:
    """Recompute ``metric`` from ``result.per_item``.

    ``idx`` selects items: ``None`` for all, a 1-D index array for one resample (a float), or a 2-D
    ``(B, n)`` array for ``B`` resamples at once (an array of ``B`` values).
    """
    agg, arrays = columns(result, metric)
    return _apply(agg.kind, arrays, None if idx is None else np.asarray(idx))


def resample_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n)`` bootstrap indices, drawn as ``scipy.stats.bootstrap`` draws them."""
    if n < 1:
        raise EmbedbenchError("cannot bootstrap zero items")
    return np.random.default_rng(seed).integers(0, n, (n_boot, n))


def _quantiles(values: np.ndarray, alpha: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def bootstrap_ci(result: TaskResult, metric: str, n: int = 1000, seed: int = 0, alpha: float = 0.05) -> CI:
    """Percentile bootstrap CI of ``metric`` over items (``n`` resamples, ``1 - alpha`` coverage)."""
    agg, arrays = columns(result, metric)
    estimate = float(_apply(agg.kind, arrays, None))
    reps = _apply(agg.kind, arrays, resample_indices(arrays[0].size, n, seed))
    low, high = _quantiles(np.asarray(reps), alpha)
    return CI(metric, estimate, low, high, int(arrays[0].size), n, alpha)


# -------------------------------------------------------------------------------------- comparison


def align(candidate: TaskResult, baseline: TaskResult) -> np.ndarray:
    """Index array mapping candidate items to baseline items (by the ``id`` column, else by position)."""
    where = f"{candidate.model} vs {baseline.model} on {candidate.task}"
    if candidate.task != baseline.task:
        raise EmbedbenchError(f"cannot compare different tasks: {candidate.task!r} and {baseline.task!r}")
    if candidate.dataset_hash and baseline.dataset_hash and candidate.dataset_hash != baseline.dataset_hash:
        raise EmbedbenchError(
            f"{where}: the results were computed on different data (dataset hash {candidate.dataset_hash[:12]} "
            f"vs {baseline.dataset_hash[:12]}); re-run both on the same data (embedbench eval --force)"
        )
    c_ids, b_ids = candidate.per_item.get(ID_COLUMN), baseline.per_item.get(ID_COLUMN)
    if c_ids is None or b_ids is None:
        if candidate.n_items != baseline.n_items:
            raise EmbedbenchError(f"{where}: {candidate.n_items} vs {baseline.n_items} items and no {ID_COLUMN!r} column")
        return np.arange(candidate.n_items)
    pos = {str(k): i for i, k in enumerate(b_ids)}
    if len(pos) != len(b_ids) or len(set(map(str, c_ids))) != len(c_ids):
        raise EmbedbenchError(f"{where}: the {ID_COLUMN!r} column holds duplicate ids")
    missing = [str(k) for k in c_ids if str(k) not in pos]
    if missing or len(c_ids) != len(b_ids):
        raise EmbedbenchError(
            f"{where}: the two results hold different items ({len(c_ids)} vs {len(b_ids)}; "
            f"e.g. {missing[:3] or 'baseline-only ids'}); evaluate both on the same task configuration"
        )
    return np.array([pos[str(k)] for k in c_ids])


def item_losses(agg: Aggregation, arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Per-item loss (lower is better), used to count items improved / hurt.

    ``mean``: minus the item's value. Correlations: distance between the item's normalised rank under
    the prediction and under the gold score. AP / best-F1: how far a positive sits from the top
    (1 - normalised rank) or a negative from the bottom (its normalised rank).
    """
    if agg.kind == "mean":
        return -arrays[0]
    n = arrays[0].size
    rank = (stats.rankdata(arrays[0]) - 1) / max(n - 1, 1)
    if agg.kind in ("spearman", "pearson"):
        return np.abs(rank - (stats.rankdata(arrays[1]) - 1) / max(n - 1, 1))
    return np.where(arrays[1] > 0, 1 - rank, rank)


def _p_from_null(obs: float, null: np.ndarray, alternative: str) -> float:
    """Randomisation p-value with the +1 correction; ``less`` tests candidate < baseline."""
    eps = 1e-12 * max(1.0, abs(obs))
    if alternative == "less":
        count = np.count_nonzero(null <= obs + eps)
    elif alternative == "greater":
        count = np.count_nonzero(null >= obs - eps)
    else:
        count = np.count_nonzero(np.abs(null) >= abs(obs) - eps)
    return float((count + 1) / (null.size + 1))


def _p_from_bootstrap(diff: float, diffs: np.ndarray, alternative: str) -> float:
    """Paired-bootstrap p-value: the difference over its bootstrap standard error, against a normal.

    A count of resamples beyond zero cannot go below ``1 / (B + 1)``, too coarse once p-values are
    Holm-adjusted over many comparisons; the standard-error form has no such floor.
    """
    d = diffs[np.isfinite(diffs)]
    se = float(d.std(ddof=1)) if d.size > 1 else 0.0
    if se == 0.0:
        return 1.0 if diff == 0 or (alternative == "less" and diff > 0) or (alternative == "greater" and diff < 0) else 0.0
    z = diff / se
    if alternative == "less":
        return float(stats.norm.cdf(z))
    if alternative == "greater":
        return float(stats.norm.sf(z))
    return float(min(1.0, 2 * stats.norm.sf(abs(z))))


def randomization_null(diff_items: np.ndarray, n_perm: int, seed: int) -> np.ndarray:
    """Mean differences under random per-item sign flips (Fisher's paired randomisation null)."""
    rng = np.random.default_rng(seed)
    out = np.empty(n_perm)
    for b in _blocks(n_perm, diff_items.size):
        signs = rng.choice(np.array([-1.0, 1.0]), size=(b.stop - b.start, diff_items.size))
        out[b] = signs @ diff_items / diff_items.size
    return out


def compare(
    candidate: TaskResult,
    baseline: TaskResult,
    metric: str,
    *,
    n: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    test: str = "auto",
    alternative: Alternative = "two-sided",
) -> Comparison:
    """Paired comparison of ``candidate`` against ``baseline`` on ``metric`` (see the module docstring).

    Args:
        candidate: the result under test.
        baseline: the reference result on the same task and data.
        metric: a metric both results can recompute from per-item data.
        n: bootstrap resamples (randomisation draws ``max(n, MIN_PERMUTATIONS)`` sign patterns).
        seed: seed of the resample indices (shared by both systems).
        alpha: the CI is ``1 - alpha``.
        test: ``auto``, ``randomization``, ``t-test`` or ``bootstrap``.
        alternative: ``two-sided``; ``less`` (candidate worse) or ``greater`` for one-sided p-values.
    """
    if test not in TESTS:
        raise EmbedbenchError(f"unknown test {test!r}; choose one of {', '.join(TESTS)}")
    b_index = align(candidate, baseline)
    agg, c_arrays = columns(candidate, metric)
    b_agg, b_arrays = columns(baseline, metric)
    if b_agg != agg:
        raise EmbedbenchError(f"{metric!r} is aggregated differently: {agg} vs {b_agg}")
    b_arrays = [a[b_index] for a in b_arrays]
    if agg.kind != "mean" and test in ("randomization", "t-test"):
        raise EmbedbenchError(f"test {test!r} needs a mean metric; {metric!r} is {agg.kind}: use 'bootstrap'")
    test = ("randomization" if agg.kind == "mean" else "bootstrap") if test == "auto" else test
    c_val, b_val = float(_apply(agg.kind, c_arrays, None)), float(_apply(agg.kind, b_arrays, None))
    idx = resample_indices(c_arrays[0].size, n, seed)
    diffs = np.asarray(_apply(agg.kind, c_arrays, idx)) - np.asarray(_apply(agg.kind, b_arrays, idx))
    low, high = _quantiles(diffs, alpha)
    if test == "bootstrap":
        p = _p_from_bootstrap(c_val - b_val, diffs, alternative)
    elif test == "t-test":
        res = stats.ttest_rel(c_arrays[0], b_arrays[0], alternative=alternative)
        p = float(res.pvalue) if np.isfinite(res.pvalue) else 1.0
    else:
        d_items = c_arrays[0] - b_arrays[0]
        p = _p_from_null(float(d_items.mean()), randomization_null(d_items, max(n, MIN_PERMUTATIONS), seed), alternative)
    loss_delta = item_losses(agg, c_arrays) - item_losses(agg, b_arrays)
    tol = 1e-12
    return Comparison(
        metric=metric, candidate=c_val, baseline=b_val, diff=c_val - b_val, low=low, high=high, p_value=p,
        test=test, alternative=alternative, improved=int(np.count_nonzero(loss_delta < -tol)),
        hurt=int(np.count_nonzero(loss_delta > tol)), tied=int(np.count_nonzero(np.abs(loss_delta) <= tol)),
        n_items=int(c_arrays[0].size),
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as given), for a family of comparisons."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out.tolist()
