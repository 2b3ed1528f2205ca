"""Semantic textual similarity: cosine similarity of each pair against gold scores (Spearman, Pearson).

Correlations are fractions in [-1, 1] (mteb's convention: MiniLM-L6 on STSB test is 0.8203, not 82.03).
Per pair: ``score`` (the cosine similarity), ``gold`` (gold score scaled to [0, 1]) and ``id``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from embedbench.data import read_sts_gold, read_stsb, read_table
from embedbench.encode import Encoder
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.metrics import cosine_pairs, pearson, spearman
from embedbench.evalsuite.tasks.base import (
    build_result,
    check_finite,
    check_options,
    dataset_hash,
    dataset_label,
    encode_texts,
    first_n,
    require_encoder,
)
from embedbench.evalsuite.types import TaskResult

STS_FORMATS = ("stsb", "sts", "table")


def read_scored(path: Path, fmt: str) -> pl.DataFrame:
    """``sentence1, sentence2, score`` (gold in [0, 1]) plus a unique ``id`` per pair, through the prep readers.

    ``fmt``: ``stsb`` (one STS Benchmark TSV), ``sts`` (an STS12–16 year folder, all its sub-sets
    pooled, as mteb scores them) or ``table`` (CSV/TSV/JSONL/Parquet with those columns, score in [0, 1]).
    """
    if fmt == "stsb":
        df = read_stsb(path).with_columns(pl.col("row").cast(pl.String).alias("id"))
    elif fmt == "sts":
        df = read_sts_gold(path).with_columns(pl.format("{}:{}", "subset", "row").alias("id"))
    elif fmt == "table":
        df = read_table(path, None, "scored").with_columns(pl.col("row").cast(pl.String).alias("id"))
    else:
        raise EmbedbenchError(f"unknown STS format {fmt!r}; use one of {list(STS_FORMATS)}")
    return df.select("sentence1", "sentence2", "score", "id", "row")


@dataclass(frozen=True)
class STSTask:
    """STS on one scored file or STS year folder.

    Args:
        name: task name in results (``"stsb"``, ``"sts12"``…).
        path: the file or folder (see ``read_scored``).
        fmt: ``stsb``, ``sts`` or ``table``.
        limit: evaluate only the first N pairs (quick runs); None: all.
    """

    name: str
    path: Path
    fmt: str = "stsb"
    limit: int | None = None
    task_type: str = "sts"

    def __post_init__(self) -> None:
        check_options(self.name, self.limit, self.fmt, STS_FORMATS, "STS")

    def evaluate(self, encoder: Encoder) -> TaskResult:
        """Cosine similarity per pair; Spearman and Pearson against the gold scores."""
        started = time.perf_counter()
        encoder = require_encoder(encoder, self.name)
        df = first_n(read_scored(Path(self.path), self.fmt), self.limit)
        if df.height < 2:
            raise EmbedbenchError(f"{self.path}: {df.height} scored pair(s); a correlation needs at least 2")
        gold = df["score"].to_numpy()
        check_finite(gold, "the gold score", str(self.path), df["row"].to_list())
        s1, s2 = df["sentence1"].to_list(), df["sentence2"].to_list()
        emb = encode_texts(encoder, s1 + s2)
        cos = cosine_pairs(emb[: len(s1)], emb[len(s1) :])
        if np.ptp(gold) == 0:
            raise EmbedbenchError(
                f"{self.path}: every gold score is {gold[0]}; a correlation needs varying scores"
            )
        return build_result(
            self,
            encoder,
            dataset=dataset_label(self.path),
            dataset_hash=dataset_hash(self.path),
            main_metric="spearman",
            metrics={"spearman": spearman(cos, gold), "pearson": pearson(cos, gold)},
            per_item={"id": df["id"].to_list(), "score": cos.tolist(), "gold": gold.tolist()},
            aggregations={"spearman": "spearman:score,gold", "pearson": "pearson:score,gold"},
            started=started,
            extra={"n_pairs": df.height},
        )
