"""Triplet accuracy: is the anchor closer (cosine) to its positive than to its negative?

Per triplet: ``correct`` (1 when cos(a, p) > cos(a, n), ties count as wrong as in
sentence-transformers' ``TripletEvaluator``), ``margin`` = cos(a, p) - cos(a, n), and ``id``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from embedbench.data import read_snli, read_table, snli_triplets
from embedbench.encode import Encoder
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.metrics import cosine_pairs, triplet_accuracy
from embedbench.evalsuite.tasks.base import (
    build_result,
    check_options,
    dataset_hash,
    dataset_label,
    encode_texts,
    first_n,
    require_encoder,
)
from embedbench.evalsuite.types import TaskResult

TRIPLET_FORMATS = ("snli", "table")


def read_triplets(path: Path, fmt: str, split: str = "test", both_directions: bool = True) -> pl.DataFrame:
    """``anchor, positive, negative, id`` through the prep readers.

    ``fmt``: ``snli`` (an SNLI folder and ``split``: AllNLI-style triplets, see ``prep`` ``snli_triplets``)
    or ``table`` (a CSV/TSV/JSONL/Parquet file with ``anchor, positive, negative`` columns, e.g. a
    prepared triplet set).
    """
    if fmt == "snli":
        df = snli_triplets(read_snli(path, split), both_directions=both_directions)
    elif fmt == "table":
        df = read_table(path, None, "triplets")
    else:
        raise EmbedbenchError(f"unknown triplet format {fmt!r}; use one of {list(TRIPLET_FORMATS)}")
    return (
        df.select("anchor", "positive", "negative")
        .with_row_index("id")
        .with_columns(pl.col("id").cast(pl.String))
    )


@dataclass(frozen=True)
class TripletTask:
    """Triplet accuracy on an SNLI split or a triplet table.

    Args:
        name: task name in results (e.g. ``"snli-triplets"``).
        path: SNLI folder or triplet file.
        fmt: ``snli`` or ``table``.
        split: SNLI split (``dev`` or ``test``); ignored for tables.
        both_directions: SNLI only: also (entailment, premise, contradiction), as AllNLI does.
        limit: evaluate only the first N triplets (quick runs); None: all.
    """

    name: str
    path: Path
    fmt: str = "table"
    split: str = "test"
    both_directions: bool = True
    limit: int | None = None
    task_type: str = "triplet"

    def __post_init__(self) -> None:
        check_options(self.name, self.limit, self.fmt, TRIPLET_FORMATS, "triplet")

    def evaluate(self, encoder: Encoder) -> TaskResult:
        """Accuracy of cos(anchor, positive) > cos(anchor, negative) over all triplets."""
        started = time.perf_counter()
        encoder = require_encoder(encoder, self.name)
        path = Path(self.path)
        df = first_n(read_triplets(path, self.fmt, self.split, self.both_directions), self.limit)
        if df.height == 0:
            raise EmbedbenchError(f"{path}: no triplets to evaluate")
        a, p, n = (df[c].to_list() for c in ("anchor", "positive", "negative"))
        emb = encode_texts(encoder, a + p + n)
        m = len(a)
        pos, neg = cosine_pairs(emb[:m], emb[m : 2 * m]), cosine_pairs(emb[:m], emb[2 * m :])
        if self.fmt == "snli":
            files = [path / f"{stem}.{self.split}" for stem in ("s1", "s2", "labels")]
        else:
            files = [path]
        return build_result(
            self,
            encoder,
            dataset=dataset_label(path, self.split if self.fmt == "snli" else None),
            dataset_hash=dataset_hash(*files),
            main_metric="accuracy",
            metrics={"accuracy": triplet_accuracy(pos, neg)},
            per_item={
                "id": df["id"].to_list(),
                "correct": (pos > neg).astype(int).tolist(),
                "margin": (pos - neg).tolist(),
            },
            aggregations={"accuracy": "mean:correct"},
            started=started,
            extra={"n_triplets": m},
        )
