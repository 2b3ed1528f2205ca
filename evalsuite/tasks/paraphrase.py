"""Paraphrase mining: find the duplicate pairs among a pool of sentences by cosine similarity alone.

As sentence-transformers' ``ParaphraseMiningEvaluator``: every sentence is compared with every other
(``sentence_transformers.util.paraphrase_mining_embeddings``: each sentence's ``top_k`` neighbours, at most
``max_pairs`` pairs, best first) and the mined list is scored against the gold duplicates: average
precision (main), and the best F1 over cut points with its precision, recall and threshold.

The pool and the gold pairs come from any source: ``pairs`` (every pair is a duplicate) or ``pair-class``
/ MRPC (``label`` 1 marks a duplicate; the sentences of the other pairs stay in the pool as distractors).
Per gold pair: ``precision_at_rank`` (the precision of the mined list where the pair was found, 0 when it
was not), whose mean is the average precision, so the bootstrap CI and the paired test resample gold pairs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import polars as pl

from embedbench.data.spec import SourceSpec
from embedbench.encode import Encoder
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.metrics import mining_scores
from embedbench.evalsuite.tasks.base import (
    SourceTask,
    build_result,
    encode_texts,
    read_task_source,
    require_encoder,
    source_label,
)
from embedbench.evalsuite.tasks.pairclass import PairClassificationTask
from embedbench.evalsuite.types import TaskResult


@dataclass(frozen=True)
class ParaphraseMiningTask(SourceTask):
    """Mine duplicate pairs from the source's sentences and score them against its gold pairs.

    Args:
        name: task name in results.
        source: a ``pairs`` source (all duplicates) or a ``pair-class`` one (0/1 labels); default ``pairs``.
        top_k: neighbours mined per sentence (sentence-transformers: 100).
        max_pairs: most pairs mined (sentence-transformers: 500,000).
    """

    name: str
    source: SourceSpec
    top_k: int = 100
    max_pairs: int = 500_000
    task_type: str = "paraphrase-mining"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_positive("top_k", "max_pairs")

    def pool(self) -> tuple[list[str], set[tuple[int, int]]]:
        """The distinct sentences (first-seen order) and the gold duplicate pairs as ``(i, j)``, i < j."""
        if (self.source.output or "pairs") == "pairs":
            df = read_task_source(self.name, self.source, "pairs").select(
                pl.col("anchor").alias("sentence1"), pl.col("positive").alias("sentence2"), pl.lit(1).alias("label")
            )
        else:
            df = PairClassificationTask(self.name, self.source).frame()
        index: dict[str, int] = {}
        gold = set()
        for a, b, label in df.select("sentence1", "sentence2", "label").iter_rows():
            i, j = index.setdefault(a, len(index)), index.setdefault(b, len(index))
            if label == 1 and i != j:
                gold.add((min(i, j), max(i, j)))
        return list(index), gold

    def texts(self) -> list[str]:
        """Every sentence of the pool."""
        return self.pool()[0]

    def evaluate(self, encoder: Encoder) -> TaskResult:
        """Mine pairs by cosine similarity; average precision against the gold duplicates."""
        import torch
        from sentence_transformers.util import paraphrase_mining_embeddings

        started = time.perf_counter()
        encoder = require_encoder(encoder, self.name)
        sentences, gold = self.pool()
        if not gold:
            raise EmbedbenchError(f"{self.source.path}: no duplicate pair (label 1) to find; check the labels")
        emb = torch.from_numpy(encode_texts(encoder, sentences))
        mined = paraphrase_mining_embeddings(emb, top_k=self.top_k, max_pairs=self.max_pairs)
        s = mining_scores(mined, gold)
        pairs = sorted(gold)
        return build_result(
            self,
            encoder,
            dataset=source_label(self.source),
            dataset_hash=self.dataset_hash(),
            main_metric="average_precision",
            metrics={
                "average_precision": s.average_precision,
                "f1": s.f1,
                "precision": s.precision,
                "recall": s.recall,
                "threshold": s.threshold,
            },
            per_item={"id": [f"{i}-{j}" for i, j in pairs], "precision_at_rank": [s.contribution[p] for p in pairs]},
            aggregations={"average_precision": "mean:precision_at_rank"},
            started=started,
            extra={"n_sentences": len(sentences), "n_duplicates": len(gold), "n_mined": len(mined)},
        )
