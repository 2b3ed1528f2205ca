"""Candidate filtering and sampling for one batch of anchors (pure NumPy, no I/O).

Given each anchor's retrieved candidates (ids and scores, sorted by descending score), drop, in
order and counting each: known positives of the anchor (``known_positive``), texts equal to the
anchor or a positive after normalisation (``same_text``), ranks before ``range_min``
(``range_min``; ranks count the remaining candidates from 0), then, inside the window
``[range_min, range_max)``, ``absolute_margin``, ``relative_margin``, ``max_score`` and
``min_score``. Negatives are then the top survivors, or a seeded random sample of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embedbench.prep.negatives.config import MiningConfig

FILTERS = (
    "known_positive",
    "same_text",
    "range_min",
    "absolute_margin",
    "relative_margin",
    "max_score",
    "min_score",
    "teacher_absolute_margin",
    "teacher_relative_margin",
)
"""Filter names in the order they apply; each one counts the candidates it removed."""


@dataclass(frozen=True)
class Selection:
    """Chosen negatives of a batch: per anchor ``n`` slots, best first; missing slots hold id -1."""

    ids: np.ndarray  # (B, n) int64 corpus ids, -1 where no negative was found
    scores: np.ndarray  # (B, n) float32, NaN where missing
    ranks: np.ndarray  # (B, n) int64 rank among non-excluded candidates, -1 where missing
    removed: dict[str, int]
    in_window: int  # candidates inside the rank window before the score filters


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a fast, well-mixed uint64 hash (wrapping arithmetic)."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def random_keys(seed: int, anchor_uids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Deterministic pseudo-random sort keys for (anchor, candidate) pairs.

    A key depends only on the seed, the anchor's uid and the candidate id, so random sampling gives
    the same negatives whatever the batch size, index type or ``k``.
    """
    base = splitmix64(np.uint64(seed % 2**64) ^ anchor_uids.astype(np.uint64))
    return splitmix64(base[:, None] ^ ids.astype(np.uint64))


def is_member(anchor_rows: np.ndarray, ids: np.ndarray, n_corpus: int, sorted_keys: np.ndarray) -> np.ndarray:
    """True where ``(anchor, id)`` is in ``sorted_keys`` (keys are ``anchor * n_corpus + id``, sorted)."""
    if len(sorted_keys) == 0:
        return np.zeros(ids.shape, dtype=bool)
    keys = anchor_rows[:, None].astype(np.int64) * n_corpus + ids
    pos = np.searchsorted(sorted_keys, keys)
    pos = np.minimum(pos, len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def select_negatives(
    ids: np.ndarray,
    scores: np.ndarray,
    *,
    anchor_rows: np.ndarray,
    anchor_uids: np.ndarray,
    positive_scores: np.ndarray,
    positive_keys: np.ndarray,
    same_text_keys: np.ndarray,
    n_corpus: int,
    config: MiningConfig,
    teacher_scores: np.ndarray | None = None,
    teacher_positive: np.ndarray | None = None,
) -> Selection:
    """Filter one batch of retrieved candidates and pick each anchor's negatives.

    Args:
        ids: ``(B, k)`` corpus ids from the index (``-1`` = no result), each row by descending score.
        scores: ``(B, k)`` inner-product scores aligned with ``ids``.
        anchor_rows: ``(B,)`` global anchor numbers (for the exclusion keys).
        anchor_uids: ``(B,)`` stable uint64 ids of the anchor texts (for seeded random sampling).
        positive_scores: ``(B,)`` the score each margin is measured against (the anchor's lowest
            positive score, as sentence-transformers does: the safest choice with several positives).
        positive_keys: sorted ``anchor * n_corpus + id`` keys of every known positive.
        same_text_keys: sorted keys of corpus texts equal (normalised) to the anchor or a positive.
        n_corpus: corpus size (the key stride).
        config: the mining configuration (window, margins, score bounds, sampling, count).
        teacher_scores: ``(B, k)`` the teacher's scores of the same candidates (rescoring), or None.
        teacher_positive: ``(B,)`` the teacher's score of each anchor's (lowest) positive.
    """
    c = config
    valid = ids >= 0
    removed = dict.fromkeys(FILTERS, 0)
    is_positive = valid & is_member(anchor_rows, ids, n_corpus, positive_keys)
    known = np.zeros_like(is_positive) if c.include_positives else is_positive
    same = valid & ~known & is_member(anchor_rows, ids, n_corpus, same_text_keys)
    removed["known_positive"] = int(known.sum())
    removed["same_text"] = int(same.sum())
    candidate = valid & ~known & ~same
    rank = np.cumsum(candidate, axis=1) - 1
    early = candidate & (rank < c.range_min)
    removed["range_min"] = int(early.sum())
    keep = candidate & (rank >= c.range_min) & (rank < c.range_max)
    in_window = int(keep.sum())
    pos = positive_scores[:, None]
    checks: list[tuple[str, np.ndarray]] = []
    if c.absolute_margin is not None:
        checks.append(("absolute_margin", scores + c.absolute_margin > pos))
    if c.relative_margin is not None:
        # |pos| keeps the threshold below the positive when scores are negative (sentence-transformers #3819).
        checks.append(("relative_margin", scores > pos - np.abs(pos) * c.relative_margin))
    if c.max_score is not None:
        checks.append(("max_score", scores > c.max_score))
    if c.min_score is not None:
        checks.append(("min_score", scores < c.min_score))
    if teacher_scores is not None and teacher_positive is not None:
        t_pos = teacher_positive[:, None]
        if c.teacher_absolute_margin is not None:
            checks.append(("teacher_absolute_margin", teacher_scores + c.teacher_absolute_margin > t_pos))
        if c.teacher_relative_margin is not None:
            checks.append(("teacher_relative_margin", teacher_scores > t_pos - np.abs(t_pos) * c.teacher_relative_margin))
    for name, drop in checks:
        hit = keep & drop & ~is_positive  # an included positive is never filtered out
        removed[name] = int(hit.sum())
        keep &= ~hit

    n = c.num_negatives
    if c.sampling == "top":
        order = np.argsort(~keep, axis=1, kind="stable")
    else:
        keys = random_keys(c.seed, anchor_uids, np.where(valid, ids, 0))
        keys = np.where(keep, keys, np.iinfo(np.uint64).max)
        order = np.argsort(keys, axis=1, kind="stable")
        picked = order[:, :n]
        # Back to score order among the sampled ones (candidates are already sorted by score).
        order = np.sort(picked, axis=1)
    order = order[:, :n]
    rows = np.arange(len(ids))[:, None]
    chosen = keep[rows, order]
    out_ids = np.where(chosen, ids[rows, order], -1)
    out_scores = np.where(chosen, scores[rows, order], np.nan).astype(np.float32)
    out_ranks = np.where(chosen, rank[rows, order], -1)
    pad = n - out_ids.shape[1]
    if pad > 0:  # fewer candidates than num_negatives were retrieved (tiny corpus)
        out_ids = np.pad(out_ids, ((0, 0), (0, pad)), constant_values=-1)
        out_scores = np.pad(out_scores, ((0, 0), (0, pad)), constant_values=np.nan)
        out_ranks = np.pad(out_ranks, ((0, 0), (0, pad)), constant_values=-1)
    # Found negatives first, best score first (the random branch may leave gaps before found ones).
    slot = np.argsort(out_ids < 0, axis=1, kind="stable")
    return Selection(
        out_ids[rows, slot], out_scores[rows, slot], out_ranks[rows, slot], removed, in_window
    )
