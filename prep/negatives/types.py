"""What flows between the mining modules: the prepared inputs, the search outcome, the statistics and the result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl


@dataclass(frozen=True)
class MiningInputs:
    """Pairs and corpus made ready to search (:func:`embedbench.prep.negatives.mine.prepare`).

    ``rows`` holds one row per pair (``row``, ``anchor``, ``positive``, ``anchor_id``, ``pos_id`` and
    provenance); ``corpus`` is the searched pool (given texts without blanks, then every positive,
    de-duplicated). Exclusions are sorted keys ``anchor_id * len(corpus) + pos_id``.
    """

    rows: pl.DataFrame
    anchors: list[str]
    corpus: pl.Series
    corpus_given: int
    blank_removed: int
    positive_keys: np.ndarray
    same_text_keys: np.ndarray
    excluded_per_anchor: np.ndarray


@dataclass(frozen=True)
class SearchOutcome:
    """What the search chose per anchor (``(anchors, num_negatives)`` arrays, id -1 = empty slot) and what it counted.

    ``found`` counts each anchor's negatives before padding; ``padded`` marks the slots filled at random.
    """

    row_pos: np.ndarray  # positive score of each pair row
    neg_ids: np.ndarray
    neg_scores: np.ndarray
    neg_ranks: np.ndarray
    found: np.ndarray
    padded: np.ndarray
    removed: dict[str, int]
    in_window: int
    index: str
    notes: list[str]
    encoded: dict[str, int]
    timings: dict[str, float]
    started: float  # perf_counter() when mining began (for the total time)


@dataclass
class MiningStats:
    """What mining did: sizes, per-filter removals, score distributions, shortfall, timings.

    ``removed`` counts retrieved candidates per filter (each counted by the first filter that removed
    it); ``short_anchors`` counts unique anchors with fewer than ``num_negatives`` before padding,
    ``short_pairs`` their pair rows, ``missing_negatives`` the empty slots.
    """

    pairs: int
    anchors: int
    corpus_size: int
    corpus_given: int
    corpus_blank_removed: int
    index: str
    removed: dict[str, int]
    candidates_in_window: int
    positive: dict[str, float]
    negative: dict[str, float]
    difference: dict[str, float]
    histogram: dict[str, list[float]]
    short_anchors: int
    short_pairs: int
    missing_negatives: int
    anchors_without_negatives: int
    padded_negatives: int
    dropped_pairs: int
    rows_out: int
    encoded: dict[str, int]
    timings: dict[str, float]
    config: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (for the manifest)."""
        return asdict(self)


@dataclass
class MiningResult:
    """The mined set (sentence-transformers column order), its statistics, a sample to eyeball, and dropped pairs."""

    dataset: pl.DataFrame
    stats: MiningStats
    examples: pl.DataFrame
    dropped: pl.DataFrame
