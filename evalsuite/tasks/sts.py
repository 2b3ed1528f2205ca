"""Semantic textual similarity: cosine similarity of each pair against gold scores (Spearman, Pearson).

Any source that reads into the ``scored`` shape works (an STS Benchmark file, an STS12–16 year folder,
or your own table with ``columns`` and ``score_range``). Correlations are fractions in [-1, 1] (mteb's
convention: MiniLM-L6 on STSB test is 0.8203, not 82.03). Per pair: ``score`` (the cosine similarity),
``gold`` (gold score scaled to [0, 1]) and ``id`` (the line, ``subset:line`` for STS12–16).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from embedbench.data.spec import SourceSpec
from embedbench.encode import Encoder
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.metrics import cosine_pairs, pearson, spearman
from embedbench.evalsuite.tasks.base import (
    SourceTask,
    build_result,
    check_finite,
    encode_texts,
    read_task_source,
    require_encoder,
    row_ids,
    source_label,
)
from embedbench.evalsuite.types import TaskResult


@dataclass(frozen=True)
class STSTask(SourceTask):
    """STS on any scored source.

    Args:
        name: task name in results (``"stsb"``, ``"sts12"``…).
        source: what to read (prep's source keys; read into the ``scored`` shape; ``limit`` keeps the first N pairs).
    """

    name: str
    source: SourceSpec
    task_type: str = "sts"

    def frame(self) -> pl.DataFrame:
        """The scored pairs: ``sentence1, sentence2, score`` (gold in [0, 1]), ``id``, ``row``."""
        df = read_task_source(self.name, self.source, "scored")
        return df.with_columns(pl.Series("id", row_ids(df))).select("sentence1", "sentence2", "score", "id", "row")

    def texts(self) -> list[str]:
        """Every text the task encodes (both sides of every pair, in order)."""
        df = self.frame()
        return df["sentence1"].to_list() + df["sentence2"].to_list()

    def evaluate(self, encoder: Encoder) -> TaskResult:
        """Cosine similarity per pair; Spearman and Pearson against the gold scores."""
        started = time.perf_counter()
        encoder = require_encoder(encoder, self.name)
        df = self.frame()
        where = self.source.path
        if df.height < 2:
            raise EmbedbenchError(f"{where}: {df.height} scored pair(s); a correlation needs at least 2")
        gold = df["score"].to_numpy()
        check_finite(gold, "the gold score", where, df["row"].to_list())
        if np.ptp(gold) == 0:
            raise EmbedbenchError(f"{where}: every gold score is {gold[0]}; a correlation needs varying scores")
        s1, s2 = df["sentence1"].to_list(), df["sentence2"].to_list()
        emb = encode_texts(encoder, s1 + s2)
        cos = cosine_pairs(emb[: len(s1)], emb[len(s1) :])
        return build_result(
            self,
            encoder,
            dataset=source_label(self.source),
            dataset_hash=self.dataset_hash(),
            main_metric="spearman",
            metrics={"spearman": spearman(cos, gold), "pearson": pearson(cos, gold)},
            per_item={"id": df["id"].to_list(), "score": cos.tolist(), "gold": gold.tolist()},
            aggregations={"spearman": "spearman:score,gold", "pearson": "pearson:score,gold"},
            started=started,
            extra={"n_pairs": df.height},
        )
