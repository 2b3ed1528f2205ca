"""Retrieval on a BEIR folder (SciFact here): nDCG@10, MRR@10, recall@k, MAP@100… with per-query scores.

The model is either an embedding ``Encoder`` (searched exactly through ``embedbench.index``: inner
product over L2-normalised vectors, i.e. cosine, queries in batches so memory stays bounded) or a lexical
``Retriever`` such as the BM25 baseline: anything with ``index(corpus) -> SearchIndex`` whose
``search(queries, k)`` returns the top-k corpus positions and scores.

Documents are ``(title + " " + text).strip()`` (mteb's join, also the embedding-cache key the other
steps use). Graded qrels are respected (nDCG gain = relevance); judgements <= 0 are not relevant,
and queries with no relevant document are skipped (as mteb and sentence-transformers do) and counted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from embedbench.data import read_beir
from embedbench.encode import Encoder
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.metrics import ir_metrics, parse_ir_metric, relevance
from embedbench.evalsuite.tasks.base import (
    build_result,
    check_limit,
    dataset_hash,
    dataset_label,
    encode_texts,
)
from embedbench.evalsuite.types import TaskResult
from embedbench.index import IndexPlan, build_index, l2_normalised, search

DEFAULT_METRICS = (
    "ndcg@10",
    "mrr@10",
    "map@100",
    "recall@1",
    "recall@10",
    "recall@100",
    "precision@1",
    "precision@10",
    "accuracy@1",
    "accuracy@10",
)


@runtime_checkable
class SearchIndex(Protocol):
    """A searchable corpus."""

    def search(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` corpus positions (int64, -1 where fewer exist) and scores, best first, one row per query."""
        ...


@runtime_checkable
class Retriever(Protocol):
    """Something that indexes a corpus for search (a dense encoder wrapper, BM25…)."""

    @property
    def name(self) -> str:
        """The name results are filed under."""
        ...

    @property
    def fingerprint(self) -> str:
        """What changes when its rankings may change."""
        ...

    def index(self, corpus: Sequence[str]) -> SearchIndex:
        """Index ``corpus`` (texts in position order)."""
        ...


class DenseIndex:
    """Exact cosine search over L2-normalised corpus embeddings (``embedbench.index``, flat inner product)."""

    def __init__(self, encoder: Encoder, doc_emb: np.ndarray, query_batch: int) -> None:
        self.encoder = encoder
        self.query_batch = query_batch
        self.index = build_index(l2_normalised(doc_emb), IndexPlan("flat"))

    def search(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Encode queries ``query_batch`` at a time and return the exact top-``k`` by cosine."""
        ids, scores = [np.zeros((0, k), dtype=np.int64)], [np.zeros((0, k), dtype=np.float32)]
        for start in range(0, len(queries), self.query_batch):
            q = l2_normalised(encode_texts(self.encoder, queries[start : start + self.query_batch]))
            s, i = search(self.index, q, k, batch_size=self.query_batch)
            ids.append(i)
            scores.append(s)
        return np.concatenate(ids), np.concatenate(scores)


@dataclass(frozen=True)
class DenseRetriever:
    """An embedding model used as a retriever (optionally with query / document prompts)."""

    encoder: Encoder
    query_prompt: str | None = None
    doc_prompt: str | None = None
    query_batch: int = 1024

    @property
    def name(self) -> str:
        """The encoder's name."""
        return self.encoder.name

    @property
    def fingerprint(self) -> str:
        """The encoder's fingerprint."""
        return self.encoder.fingerprint

    def _side(self, prompt: str | None) -> Encoder:
        if not prompt:
            return self.encoder
        with_prompt = getattr(self.encoder, "with_prompt", None)
        if with_prompt is None:
            raise EmbedbenchError(
                f"encoder {self.encoder.name!r} has no with_prompt(); remove the query/doc prompt"
            )
        return with_prompt(prompt)

    def index(self, corpus: Sequence[str]) -> DenseIndex:
        """Encode the corpus (through the cache) and build the FAISS index."""
        doc_emb = encode_texts(self._side(self.doc_prompt), corpus)
        return DenseIndex(self._side(self.query_prompt), doc_emb, self.query_batch)


def as_retriever(model: object, query_prompt: str | None = None, doc_prompt: str | None = None) -> Retriever:
    """A ``Retriever`` for ``model``: lexical retrievers as they are, encoders wrapped in ``DenseRetriever``."""
    if isinstance(model, Retriever):
        return model
    if isinstance(model, Encoder):
        return DenseRetriever(model, query_prompt=query_prompt, doc_prompt=doc_prompt)
    raise EmbedbenchError(
        f"{type(model).__name__} is neither an Encoder (encode(texts)) nor a Retriever (index(corpus).search(queries, k))"
    )


def document_texts(titles: Sequence[str | None], texts: Sequence[str | None]) -> list[str]:
    """mteb's document string per row: ``(title + " " + text).strip()``, the text alone when the title is empty."""
    return [((t or "") + " " + (x or "")).strip() for t, x in zip(titles, texts, strict=True)]


@dataclass(frozen=True)
class RetrievalTask:
    """Retrieval on one split of a BEIR folder.

    Args:
        name: task name in results (e.g. ``"scifact"``).
        path: BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``).
        split: qrels split to evaluate.
        metrics: metric names ``NAME@K`` (see ``evalsuite.metrics.IR_METRICS``); the first is the main one.
        query_prompt: prompt prepended to queries by the encoder (e.g. ``"query: "``), if any.
        doc_prompt: prompt prepended to documents, if any.
        limit: evaluate only the first N judged queries (the corpus stays whole); None: all.
    """

    name: str
    path: Path
    split: str = "test"
    metrics: tuple[str, ...] = DEFAULT_METRICS
    query_prompt: str | None = None
    doc_prompt: str | None = None
    limit: int | None = None
    task_type: str = "retrieval"

    def __post_init__(self) -> None:
        check_limit(self.name, self.limit)
        if not self.metrics:
            raise EmbedbenchError(f"task {self.name!r}: metrics is empty; name at least one, e.g. ndcg@10")
        for m in self.metrics:
            parse_ir_metric(m)

    @property
    def depth(self) -> int:
        """Deepest rank any metric needs."""
        return max(parse_ir_metric(m)[1] for m in self.metrics)

    def evaluate(self, encoder: Encoder | Retriever) -> TaskResult:
        """Rank the corpus for every judged query and score the rankings against the qrels."""
        started = time.perf_counter()
        folder = Path(self.path)
        data = read_beir(folder, self.split)
        if data.corpus.height == 0:
            raise EmbedbenchError(
                f"{folder / 'corpus.jsonl'}: the corpus is empty; a retrieval task needs documents"
            )
        judged = data.relevant_docs
        query_ids = [q for q in data.queries["query_id"].to_list() if any(s > 0 for s in judged[q].values())]
        skipped = data.queries.height - len(query_ids)
        query_ids = query_ids[: self.limit]
        if not query_ids:
            raise EmbedbenchError(
                f"{folder / 'qrels' / (self.split + '.tsv')}: no query has a relevant document (score > 0); "
                "check the qrels scores or the split"
            )
        query_text = dict(zip(data.queries["query_id"], data.queries["text"], strict=True))
        doc_ids = data.corpus["doc_id"].to_list()
        docs = document_texts(data.corpus["title"].to_list(), data.corpus["text"].to_list())

        retriever = as_retriever(encoder, self.query_prompt, self.doc_prompt)
        index = retriever.index(docs)
        top, _ = index.search([query_text[q] for q in query_ids], min(self.depth, len(docs)))
        ranked = [[doc_ids[i] for i in row if i >= 0] for row in top]
        per_query = ir_metrics(relevance(ranked, [judged[q] for q in query_ids], self.depth), self.metrics)

        return build_result(
            self,
            retriever,
            dataset=dataset_label(folder, self.split),
            dataset_hash=dataset_hash(
                folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / f"{self.split}.tsv"
            ),
            main_metric=self.metrics[0],
            metrics={m: float(v.mean()) for m, v in per_query.items()},
            per_item={"id": query_ids, **{m: v.tolist() for m, v in per_query.items()}},
            aggregations={m: f"mean:{m}" for m in self.metrics},
            started=started,
            extra={
                "n_queries": len(query_ids),
                "n_corpus": len(docs),
                "skipped_queries_without_relevant": skipped,
            },
        )
