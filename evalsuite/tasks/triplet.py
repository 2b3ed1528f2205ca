"""Triplet accuracy: is the anchor closer (cosine) to its positive than to its negative?

Any source that reads into the ``triplets`` shape works (SNLI as AllNLI-style triplets, labelled texts,
or a table with ``anchor, positive, negative``). Per triplet: ``correct`` (1 when cos(a, p) > cos(a, n),
ties count as wrong as in sentence-transformers' ``TripletEvaluator``), ``margin`` = cos(a, p) - cos(a, n),
and ``id`` (the triplet's position).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import polars as pl

from embedbench.data.spec import SourceSpec
from embedbench.encode import Encoder
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.metrics import cosine_pairs, triplet_accuracy
from embedbench.evalsuite.tasks.base import (
    SourceTask,
    build_result,
    encode_texts,
    read_task_source,
    require_encoder,
    source_label,
)
from embedbench.evalsuite.types import TaskResult


@dataclass(frozen=True)
class TripletTask(SourceTask):
    """Triplet accuracy on any triplet source.

    Args:
        name: task name in results (e.g. ``"snli-triplets"``).
        source: what to read (prep's source keys; read into the ``triplets`` shape).
    """

    name: str
    source: SourceSpec
    task_type: str = "triplet"

    def frame(self) -> pl.DataFrame:
        """``anchor, positive, negative, id``."""
        df = read_task_source(self.name, self.source, "triplets")
        return (
            df.select("anchor", "positive", "negative")
            .with_row_index("id")
            .with_columns(pl.col("id").cast(pl.String))
        )

    def texts(self) -> list[str]:
        """Every text the task encodes (anchors, positives, negatives)."""
        df = self.frame()
        return [t for c in ("anchor", "positive", "negative") for t in df[c].to_list()]

    def evaluate(self, encoder: Encoder) -> TaskResult:
        """Accuracy of cos(anchor, positive) > cos(anchor, negative) over all triplets."""
        started = time.perf_counter()
        encoder = require_encoder(encoder, self.name)
        df = self.frame()
        if df.height == 0:
            raise EmbedbenchError(f"{self.source.path}: no triplets to evaluate")
        a, p, n = (df[c].to_list() for c in ("anchor", "positive", "negative"))
        emb = encode_texts(encoder, a + p + n)
        m = len(a)
        pos, neg = cosine_pairs(emb[:m], emb[m : 2 * m]), cosine_pairs(emb[:m], emb[2 * m :])
        return build_result(
            self,
            encoder,
            dataset=source_label(self.source),
            dataset_hash=self.dataset_hash(),
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
