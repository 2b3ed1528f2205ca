"""Mining as a step: a prepared set's train and dev pairs (for the prep pipeline), or a pairs file (for ``mine``).

The pipeline declares the stage's inputs (the corpus's content hash, the model's fingerprint) in the
set's skip key, reads the corpus, and calls :func:`mine_splits`; ``embedbench mine`` calls
:func:`mine_files`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from embedbench.data.corpus import read_corpus_texts
from embedbench.prep.negatives.config import MiningConfig
from embedbench.prep.negatives.io import read_pairs, write_mining
from embedbench.prep.negatives.mine import mine_for_set
from embedbench.prep.negatives.types import MiningResult

MINED_SPLITS = ("train", "dev")
"""Splits whose pairs get negatives; a test split stays pairs."""

PROVENANCE = ("query_id", "doc_id")
"""Pair columns passed to mining when present (``query_id`` groups an anchor's positives)."""


@dataclass(frozen=True)
class MinedSplits:
    """A set's splits with train and dev replaced by their mined sets, and each mined split's result."""

    splits: dict[str, pl.DataFrame]
    results: dict[str, MiningResult]

    @property
    def stats(self) -> dict[str, dict]:
        """Mining statistics per split, as plain dicts (the manifest's ``negatives``)."""
        return {sp: r.stats.to_dict() for sp, r in self.results.items()}

    def write(self, folder: Path) -> dict[str, dict[str, str]]:
        """Write each split's mined files into ``folder``; returns their names by split and role (for ``files``)."""
        return {
            f"negatives-{sp}": {role: p.name for role, p in write_mining(r, folder, stem=f"negatives-{sp}").items()}
            for sp, r in self.results.items()
        }


def mine_splits(
    splits: Mapping[str, pl.DataFrame],
    pairs: Mapping[str, pl.DataFrame],
    config: MiningConfig,
    corpus: pl.Series | None,
) -> MinedSplits:
    """Mine the non-empty train and dev ``pairs`` (kept rows with provenance) against ``corpus`` plus their positives."""
    results: dict[str, MiningResult] = {}
    for sp in MINED_SPLITS:
        frame = pairs.get(sp)
        if frame is not None and frame.height:
            columns = ["anchor", "positive", *(c for c in PROVENANCE if c in frame.columns)]
            results[sp] = mine_for_set(frame.select(columns), corpus, config)
    return MinedSplits({**splits, **{sp: r.dataset for sp, r in results.items()}}, results)


@dataclass(frozen=True)
class MinedFiles:
    """What :func:`mine_files` mined and the files it wrote, by role."""

    result: MiningResult
    paths: dict[str, Path]


def mine_files(
    pairs: str | Path, out_dir: str | Path, config: MiningConfig, *, corpus: str | Path | None = None,
    stem: str = "negatives",
) -> MinedFiles:
    """Mine a pairs file against an optional corpus (any kind :func:`read_corpus_texts` reads) and write the result."""
    texts = read_corpus_texts(corpus) if corpus is not None else None
    result = mine_for_set(read_pairs(pairs), texts, config)
    return MinedFiles(result, write_mining(result, out_dir, stem=stem))
