"""Metric functions: information retrieval, correlation (STS), triplet and pair classification.

Pure functions on NumPy arrays, one formula per docstring. Conventions:

- IR metrics follow ``trec_eval`` (as pytrec_eval, ranx and mteb do): a judged document with
  relevance ``rel > 0`` is relevant; nDCG uses the linear gain ``rel`` and discount ``log2(rank + 1)``.
  They are computed per query from a *gain matrix* ``G`` (``G[q, i]`` = relevance of the document
  at rank ``i + 1`` for query ``q``, 0 when unjudged) plus the ideal gains and the number of
  relevant documents, so every metric is one vectorised expression.
- Correlations and rates are fractions in [-1, 1] / [0, 1] (mteb's convention, not ×100).

Tasks report per-item columns and aggregation strings (``evalsuite.types``); ``evalsuite.statistics``
recomputes metrics from them for CIs, with kernels checked against these functions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from embedbench.errors import EmbedbenchError

# ---------------------------------------------------------------------------------------- IR


@dataclass(frozen=True)
class Relevance:
    """Per-query relevance of a ranked run, the input of every IR metric.

    ``gains[q, i]``: relevance of the document at rank ``i + 1`` (0 if unjudged or beyond the run);
    ``ideal[q, i]``: the ``i``-th largest positive relevance among query ``q``'s judgements;
    ``n_relevant[q]``: number of judged documents with relevance > 0.
    """

    gains: np.ndarray
    ideal: np.ndarray
    n_relevant: np.ndarray


def relevance(ranked: Sequence[Sequence[str]], qrels: Sequence[Mapping[str, int]], depth: int) -> Relevance:
    """Build the gain matrices of ``len(ranked)`` queries, ranks 1..``depth``.

    Args:
        ranked: per query, document ids best first (only the first ``depth`` count).
        qrels: per query (same order), ``{doc_id: relevance}``; relevance <= 0 means not relevant.
        depth: deepest rank any metric looks at (e.g. 100 for ``recall@100``).
    """
    if len(ranked) != len(qrels):
        raise ValueError(f"got {len(ranked)} rankings but {len(qrels)} qrels")
    n = len(ranked)
    gains = np.zeros((n, depth), dtype=np.float64)
    ideal = np.zeros((n, depth), dtype=np.float64)
    n_rel = np.zeros(n, dtype=np.int64)
    for q, (docs, judged) in enumerate(zip(ranked, qrels, strict=True)):
        for i, doc in enumerate(docs[:depth]):
            gains[q, i] = max(judged.get(doc, 0), 0)
        positive = sorted((r for r in judged.values() if r > 0), reverse=True)
        n_rel[q] = len(positive)
        ideal[q, : min(depth, len(positive))] = positive[:depth]
    return Relevance(gains, ideal, n_rel)


def _cut(rel: Relevance, k: int) -> np.ndarray:
    if k < 1 or k > rel.gains.shape[1]:
        raise ValueError(f"k={k} outside 1..{rel.gains.shape[1]} (the depth the run was scored at)")
    return rel.gains[:, :k]


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def ndcg_at_k(rel: Relevance, k: int) -> np.ndarray:
    """nDCG@k = DCG@k / IDCG@k, DCG@k = sum_{i=1..k} rel_i / log2(i + 1); IDCG uses the ideal order (0 if no relevant)."""
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = _cut(rel, k) @ discount
    idcg = rel.ideal[:, :k] @ discount
    return _safe_div(dcg, idcg)


def mrr_at_k(rel: Relevance, k: int) -> np.ndarray:
    """RR@k = 1 / (rank of the first relevant document) if it is within the top k, else 0."""
    hit = _cut(rel, k) > 0
    first = hit.argmax(axis=1)
    return np.where(hit.any(axis=1), 1.0 / (first + 1), 0.0)


def recall_at_k(rel: Relevance, k: int) -> np.ndarray:
    """Recall@k = |relevant in top k| / |relevant| (0 when the query has no relevant document)."""
    return _safe_div((_cut(rel, k) > 0).sum(axis=1).astype(np.float64), rel.n_relevant)


def precision_at_k(rel: Relevance, k: int) -> np.ndarray:
    """P@k = |relevant in top k| / k (unfilled ranks count as not relevant)."""
    return (_cut(rel, k) > 0).sum(axis=1) / k


def accuracy_at_k(rel: Relevance, k: int) -> np.ndarray:
    """Accuracy@k (success@k, hit rate) = 1 if any relevant document is in the top k, else 0."""
    return (_cut(rel, k) > 0).any(axis=1).astype(np.float64)


def map_at_k(rel: Relevance, k: int) -> np.ndarray:
    """AP@k = (1 / |relevant|) * sum_{i<=k, rel_i>0} P@i (trec_eval's ``map_cut``; MAP is its mean)."""
    hit = (_cut(rel, k) > 0).astype(np.float64)
    prec_at_i = np.cumsum(hit, axis=1) / np.arange(1, k + 1)
    return _safe_div((prec_at_i * hit).sum(axis=1), rel.n_relevant)


IR_METRICS: dict[str, Callable[[Relevance, int], np.ndarray]] = {
    "ndcg": ndcg_at_k,
    "mrr": mrr_at_k,
    "recall": recall_at_k,
    "precision": precision_at_k,
    "accuracy": accuracy_at_k,
    "map": map_at_k,
}
_IR_NAME = re.compile(r"^([a-z]+)@(\d+)$")


def parse_ir_metric(name: str) -> tuple[str, int]:
    """``"ndcg@10"`` -> ``("ndcg", 10)``; raises naming the valid metric families."""
    m = _IR_NAME.match(name.strip().lower())
    if not m or m.group(1) not in IR_METRICS or int(m.group(2)) < 1:
        raise EmbedbenchError(
            f"unknown retrieval metric {name!r}; use NAME@K with NAME one of {sorted(IR_METRICS)} and K >= 1 (e.g. ndcg@10)"
        )
    return m.group(1), int(m.group(2))


def ir_metrics(rel: Relevance, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-query values of each named metric (``"ndcg@10"``, ``"recall@100"``…)."""
    out = {}
    for name in names:
        family, k = parse_ir_metric(name)
        out[name] = IR_METRICS[family](rel, k)
    return out


# ----------------------------------------------------------------------------- similarity


def cosine_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity: cos(a_i, b_i) = a_i·b_i / (|a_i| |b_i|) (0 for a zero vector)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return _safe_div(np.einsum("ij,ij->i", a, b), norms)


def spearman(pred: Sequence[float], gold: Sequence[float]) -> float:
    """Spearman's rho = Pearson correlation of the ranks (average ranks for ties)."""
    return float(stats.spearmanr(pred, gold).statistic)


def pearson(pred: Sequence[float], gold: Sequence[float]) -> float:
    """Pearson's r = cov(x, y) / (sd(x) sd(y))."""
    return float(stats.pearsonr(pred, gold).statistic)


def triplet_accuracy(pos_scores: Sequence[float], neg_scores: Sequence[float]) -> float:
    """Accuracy = mean_i [s(a_i, p_i) > s(a_i, n_i)] (a tie counts as wrong, as in sentence-transformers)."""
    return float(np.mean(np.asarray(pos_scores) > np.asarray(neg_scores)))


# ------------------------------------------------------------------------ pair classification


def _pr_curve(scores: Sequence[float], labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.metrics import precision_recall_curve

    labels = np.asarray(labels)
    if not np.isin(labels, (0, 1)).all() or labels.sum() == 0:
        raise EmbedbenchError("pair-classification labels must be 0/1 with at least one 1")
    return precision_recall_curve(labels, np.asarray(scores, dtype=np.float64))


def average_precision(scores: Sequence[float], labels: Sequence[int]) -> float:
    """AP = sum_n (R_n - R_{n-1}) P_n over the distinct score thresholds, highest first (sklearn's definition)."""
    from sklearn.metrics import average_precision_score

    _pr_curve(scores, labels)  # validates labels
    return float(average_precision_score(np.asarray(labels), np.asarray(scores, dtype=np.float64)))


@dataclass(frozen=True)
class BestF1:
    """F1 at the score threshold that maximises it (predict 1 when score >= threshold)."""

    f1: float
    precision: float
    recall: float
    threshold: float


def best_f1(scores: Sequence[float], labels: Sequence[int]) -> BestF1:
    """max over thresholds t of F1(t) = 2 P(t) R(t) / (P(t) + R(t)), predicting 1 when score >= t."""
    prec, rec, thr = _pr_curve(scores, labels)
    prec, rec = prec[:-1], rec[:-1]  # the last point (recall 0) has no threshold
    f1 = _safe_div(2 * prec * rec, prec + rec)
    i = int(np.argmax(f1))
    return BestF1(float(f1[i]), float(prec[i]), float(rec[i]), float(thr[i]))


# ----------------------------------------------------------------------------- reranking, mining


def reranking_scores(scores: np.ndarray, n_positive: int, k: int) -> tuple[float, float, float]:
    """AP, RR@k and nDCG@k of one query whose first ``n_positive`` candidates are the relevant ones.

    AP is sklearn's ``average_precision_score``; RR@k = 1 / rank of the first relevant candidate when it is
    within the top k (ranks by descending score), else 0; nDCG@k is sklearn's ``ndcg_score`` (binary gains).
    """
    from sklearn.metrics import average_precision_score, ndcg_score

    relevant = np.zeros(len(scores), dtype=int)
    relevant[:n_positive] = 1
    order = np.argsort(-np.asarray(scores), kind="stable")[:k]
    hits = np.flatnonzero(relevant[order])
    rr = 1.0 / (hits[0] + 1) if hits.size else 0.0
    ap = float(average_precision_score(relevant, scores))
    ndcg = float(ndcg_score([relevant], [np.asarray(scores, dtype=np.float64)], k=k))
    return ap, rr, ndcg


@dataclass(frozen=True)
class MiningScores:
    """Paraphrase mining against gold duplicate pairs (sentence-transformers' ``ParaphraseMiningEvaluator``).

    ``contribution[d]``: for gold pair ``d``, the precision of the mined list down to the end of the
    group of equal scores holding it (0 when it was not mined); their mean is the average precision.
    """

    average_precision: float
    f1: float
    precision: float
    recall: float
    threshold: float
    contribution: dict[tuple[int, int], float]


def mining_scores(mined: Sequence[Sequence[float]], duplicates: set[tuple[int, int]]) -> MiningScores:
    """Score ``mined`` ``[score, i, j]`` pairs (best first) against ``duplicates`` (``(i, j)`` with i < j).

    AP = (1 / |duplicates|) * sum over groups of equal scores that add a duplicate of
    precision(at the group's end) * (duplicates the group adds); best F1 over the same cut points, with
    the threshold halfway to the next score (as the evaluator reports it).
    """
    total = len(duplicates)
    n = correct = previous = 0
    ap = best_f1 = best_p = best_r = threshold = 0.0
    pending: list[tuple[int, int]] = []
    contribution = dict.fromkeys(duplicates, 0.0)
    for idx, (score, i, j) in enumerate(mined):
        n += 1
        pair = (int(min(i, j)), int(max(i, j)))
        if pair in duplicates:
            correct += 1
            pending.append(pair)
        if idx + 1 < len(mined) and mined[idx + 1][0] == score:
            continue
        if correct > previous:
            precision = correct / n
            recall = correct / total if total else 0.0
            f1 = 2 * precision * recall / (precision + recall)
            ap += precision * (correct - previous)
            for p in pending:
                contribution[p] = precision
            if f1 > best_f1:
                best_f1, best_p, best_r = f1, precision, recall
                threshold = (mined[idx][0] + mined[min(idx + 1, len(mined) - 1)][0]) / 2
        pending = []
        previous = correct
    return MiningScores(ap / total if total else 0.0, best_f1, best_p, best_r, float(threshold), contribution)
