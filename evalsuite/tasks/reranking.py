"""Reranking: each query's candidates (its positives and negatives) ranked by cosine similarity; MAP and MRR@10.

The metrics are those of sentence-transformers' ``RerankingEvaluator``: per query, average precision is
sklearn's ``average_precision_score`` over the candidates, MRR@k the reciprocal rank of the first positive
within the top k (0 beyond), nDCG@k sklearn's ``ndcg_score``; each is averaged over queries. Queries
without a positive or without a negative are skipped (as the evaluator does) and counted.

Candidates come from any source, grouped by query in file order (a candidate repeated under one query
counts once):

- ``triplets`` (``anchor, positive, negative``): the anchor's positives and negatives;
- ``pair-class`` (``premise, hypothesis, label``): the hypotheses with ``label == positive_label`` are
  positives, the others negatives (e.g. SNLI with ``positive_label = "entailment"``).

Per query: ``ap``, ``mrr@k``, ``ndcg@k`` and ``id`` (the query's first row).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from embedbench.data.spec import SourceSpec
from embedbench.encode import Encoder
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.metrics import reranking_scores
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
class Sample:
    """One query with its positive and negative candidates."""

    id: str
    query: str
    positive: list[str]
    negative: list[str]


def group_samples(df: pl.DataFrame, query: str, positive: pl.Expr, doc: pl.Expr) -> list[Sample]:
    """Group rows by ``query`` (first-seen order): each row adds ``doc`` as a positive or negative candidate."""
    rows = df.select(pl.col(query).alias("q"), doc.alias("d"), positive.alias("p"), pl.col("row")).iter_rows()
    out: dict[str, tuple[str, dict[str, None], dict[str, None]]] = {}
    for q, d, is_pos, row in rows:
        rid, pos, neg = out.setdefault(q, (str(row), {}, {}))
        (pos if is_pos else neg).setdefault(d, None)
    return [Sample(rid, q, list(pos), [d for d in neg if d not in pos]) for q, (rid, pos, neg) in out.items()]


@dataclass(frozen=True)
class RerankingTask(SourceTask):
    """Rerank each query's positives and negatives by cosine similarity.

    Args:
        name: task name in results.
        source: a ``triplets`` or ``pair-class`` source (default shape: ``triplets``).
        positive_label: with a ``pair-class`` source, the label that marks a positive candidate.
        at_k: the cut-off of MRR and nDCG (sentence-transformers: 10).
    """

    name: str
    source: SourceSpec
    positive_label: str = "1"
    at_k: int = 10
    task_type: str = "reranking"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_positive("at_k")

    def samples(self) -> list[Sample]:
        """Every query with its candidates (queries lacking a positive or a negative included)."""
        shape = self.source.output or "triplets"
        if shape == "triplets":
            df = read_task_source(self.name, self.source, "triplets")
            both = pl.concat([
                df.select(pl.col("anchor"), pl.col("positive").alias("doc"), pl.lit(True).alias("pos"), "row"),
                df.select(pl.col("anchor"), pl.col("negative").alias("doc"), pl.lit(False).alias("pos"), "row"),
            ]).sort("row", maintain_order=True)
            return group_samples(both, "anchor", pl.col("pos"), pl.col("doc"))
        if shape == "pair-class":
            df = read_task_source(self.name, self.source, "pair-class")
            is_pos = pl.col("label").cast(pl.String) == self.positive_label
            return group_samples(df, "premise", is_pos, pl.col("hypothesis"))
        raise EmbedbenchError(
            f"task {self.name!r}: source output {shape!r}; reranking reads 'triplets' or 'pair-class' (with positive_label)"
        )

    def texts(self) -> list[str]:
        """Every text the task encodes: the queries, then each query's candidates."""
        samples = [s for s in self.samples() if s.positive and s.negative]
        return [s.query for s in samples] + [d for s in samples for d in s.positive + s.negative]

    def evaluate(self, encoder: Encoder) -> TaskResult:
        """MAP, MRR@k and nDCG@k of the cosine ranking of each query's candidates."""
        started = time.perf_counter()
        encoder = require_encoder(encoder, self.name)
        every = self.samples()
        samples = [s for s in every if s.positive and s.negative]
        if not samples:
            raise EmbedbenchError(
                f"{self.source.path}: no query has both a positive and a negative candidate; check the "
                f"source's columns{' and positive_label' if self.source.output == 'pair-class' else ''}"
            )
        q_emb = encode_texts(encoder, [s.query for s in samples])
        d_emb = encode_texts(encoder, [d for s in samples for d in s.positive + s.negative])
        per_query: dict[str, list[float]] = {"ap": [], f"mrr@{self.at_k}": [], f"ndcg@{self.at_k}": []}
        start = 0
        for s, q in zip(samples, q_emb, strict=True):
            n = len(s.positive) + len(s.negative)
            docs = d_emb[start : start + n]
            start += n
            cos = docs @ q / np.maximum(np.linalg.norm(docs, axis=1) * np.linalg.norm(q), 1e-12)
            scores = reranking_scores(cos, len(s.positive), self.at_k)
            for key, value in zip(per_query, scores, strict=True):
                per_query[key].append(value)
        return build_result(
            self,
            encoder,
            dataset=source_label(self.source),
            dataset_hash=self.dataset_hash(),
            main_metric="map",
            metrics={("map" if k == "ap" else k): float(np.mean(v)) for k, v in per_query.items()},
            per_item={"id": [s.id for s in samples], **per_query},
            aggregations={"map": "mean:ap", **{k: f"mean:{k}" for k in per_query if k != "ap"}},
            started=started,
            extra={"n_queries": len(samples), "skipped_queries": len(every) - len(samples)},
        )
