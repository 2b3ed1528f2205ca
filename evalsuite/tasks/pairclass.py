"""Pair classification (MRPC): cosine similarity as the score of "is a paraphrase"; AP and best-threshold F1.

Per pair: ``score`` (cosine), ``label`` (0/1) and ``id``. ``ap`` is the main metric (sklearn's average
precision); ``f1`` is the F1 at the best threshold, reported with its precision, recall and threshold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from embedbench.data import read_mrpc, read_table
from embedbench.data.shapes import BINARY_PAIR
from embedbench.encode import Encoder
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.metrics import average_precision, best_f1, cosine_pairs
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

PAIR_FORMATS = ("mrpc", "table")


def read_binary_pairs(path: Path, fmt: str) -> pl.DataFrame:
    """``sentence1, sentence2, label`` (Int64 0/1) and ``id`` through the prep readers.

    ``fmt``: ``mrpc`` (an MRPC TSV) or ``table`` (CSV/TSV/JSONL/Parquet with those columns).
    """
    if fmt == "mrpc":
        df = read_mrpc(path)
    elif fmt == "table":
        df = read_table(path, None, BINARY_PAIR)
    else:
        raise EmbedbenchError(f"unknown pair format {fmt!r}; use one of {list(PAIR_FORMATS)}")
    bad = df.filter(~pl.col("label").is_in([0, 1]))
    if bad.height:
        raise EmbedbenchError(
            f"{path}, line {bad.item(0, 'row')}: label {bad.item(0, 'label')}; expected 0 or 1"
        )
    return df.select("sentence1", "sentence2", "label", pl.col("row").cast(pl.String).alias("id"))


@dataclass(frozen=True)
class PairClassificationTask:
    """Binary pair classification from cosine similarity.

    Args:
        name: task name in results (e.g. ``"mrpc"``).
        path: the file.
        fmt: ``mrpc`` or ``table``.
        limit: evaluate only the first N pairs (quick runs); None: all.
    """

    name: str
    path: Path
    fmt: str = "mrpc"
    limit: int | None = None
    task_type: str = "pair-classification"

    def __post_init__(self) -> None:
        check_options(self.name, self.limit, self.fmt, PAIR_FORMATS, "pair")

    def evaluate(self, encoder: Encoder) -> TaskResult:
        """Average precision and best-threshold F1 of cosine scores against the 0/1 labels."""
        started = time.perf_counter()
        encoder = require_encoder(encoder, self.name)
        df = first_n(read_binary_pairs(Path(self.path), self.fmt), self.limit)
        labels = df["label"].to_numpy()
        if labels.sum() == 0 or labels.sum() == len(labels):
            raise EmbedbenchError(
                f"{self.path}: every label is {labels[0] if len(labels) else '?'}; need both 0 and 1"
            )
        s1, s2 = df["sentence1"].to_list(), df["sentence2"].to_list()
        emb = encode_texts(encoder, s1 + s2)
        cos = cosine_pairs(emb[: len(s1)], emb[len(s1) :])
        f1 = best_f1(cos, labels)
        return build_result(
            self,
            encoder,
            dataset=dataset_label(self.path),
            dataset_hash=dataset_hash(self.path),
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
