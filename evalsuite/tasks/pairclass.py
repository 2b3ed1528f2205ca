"""Pair classification (MRPC or your own pairs): cosine similarity as the score of "is a positive pair"; AP and best-threshold F1.

Any source that reads into the ``pair-class`` shape works (MRPC, or a table mapping ``premise``,
``hypothesis`` and ``label``); labels must be 0/1 (``true``/``false`` too). Per pair: ``score`` (cosine),
``label`` (0/1) and ``id`` (the line). ``ap`` is the main metric (sklearn's average precision); ``f1`` is
the F1 at the best threshold, reported with its precision, recall and threshold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import polars as pl

from embedbench.data.common import raise_first_bad
from embedbench.data.spec import SourceSpec, resolve_path
from embedbench.encode import Encoder
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.metrics import average_precision, best_f1, cosine_pairs
from embedbench.evalsuite.tasks.base import (
    SourceTask,
    build_result,
    encode_texts,
    read_task_source,
    require_encoder,
    row_ids,
    source_label,
)
from embedbench.evalsuite.types import TaskResult

BINARY = {"0": 0, "1": 1, "false": 0, "true": 1}


@dataclass(frozen=True)
class PairClassificationTask(SourceTask):
    """Binary pair classification from cosine similarity.

    Args:
        name: task name in results (e.g. ``"mrpc"``).
        source: what to read (prep's source keys; read into the ``pair-class`` shape with 0/1 labels).
    """

    name: str
    source: SourceSpec
    task_type: str = "pair-classification"

    def frame(self) -> pl.DataFrame:
        """``sentence1, sentence2, label`` (Int64 0/1) and ``id``."""
        df = read_task_source(self.name, self.source, "pair-class")
        text = pl.col("label").cast(pl.String).str.strip_chars().str.to_lowercase()
        column = str(self.source.columns.get("label", "label"))
        raise_first_bad(
            df.filter(~text.is_in(list(BINARY))), resolve_path(self.source.path), column,
            lambda r: f"label {r['label']!r}; expected 0 or 1", "pair classification needs 0/1 labels",
        )
        return df.select(
            pl.col("premise").alias("sentence1"),
            pl.col("hypothesis").alias("sentence2"),
            text.replace_strict(BINARY, return_dtype=pl.Int64).alias("label"),
            pl.Series("id", row_ids(df)),
        )

    def texts(self) -> list[str]:
        """Every text the task encodes (both sides of every pair)."""
        df = self.frame()
        return df["sentence1"].to_list() + df["sentence2"].to_list()

    def evaluate(self, encoder: Encoder) -> TaskResult:
        """Average precision and best-threshold F1 of cosine scores against the 0/1 labels."""
        started = time.perf_counter()
        encoder = require_encoder(encoder, self.name)
        df = self.frame()
        labels = df["label"].to_numpy()
        if labels.sum() == 0 or labels.sum() == len(labels):
            raise EmbedbenchError(
                f"{self.source.path}: every label is {labels[0] if len(labels) else '?'}; need both 0 and 1"
            )
        s1, s2 = df["sentence1"].to_list(), df["sentence2"].to_list()
        emb = encode_texts(encoder, s1 + s2)
        cos = cosine_pairs(emb[: len(s1)], emb[len(s1) :])
        f1 = best_f1(cos, labels)
        return build_result(
            self,
            encoder,
            dataset=source_label(self.source),
            dataset_hash=self.dataset_hash(),
            main_metric="ap",
            metrics={
                "ap": average_precision(cos, labels),
                "f1": f1.f1,
                "f1_precision": f1.precision,
                "f1_recall": f1.recall,
                "f1_threshold": f1.threshold,
            },
            per_item={"id": df["id"].to_list(), "score": cos.tolist(), "label": labels.tolist()},
            aggregations={"ap": "ap:score,label", "f1": "best_f1:score,label"},
            started=started,
            extra={"n_pairs": df.height, "n_positive": int(labels.sum())},
        )
