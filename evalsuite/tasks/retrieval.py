"""Retrieval on any BEIR folder or a (queries, corpus, qrels) trio of tables: nDCG@10, MRR@10, recall@k, MAP@100…
with per-query scores.

The model is either an embedding ``Encoder`` (searched exactly through ``embedbench.index``: inner
product over L2-normalised vectors, i.e. cosine, queries in batches so memory stays bounded) or a lexical
``Retriever`` such as the BM25 baseline: anything with ``index(corpus) -> SearchIndex`` whose
``search(queries, k)`` returns the top-k corpus positions and scores.

Documents are ``(title + " " + text).strip()`` (mteb's join, also the embedding-cache key the other
steps use). Graded qrels are respected (nDCG gain = relevance); judgements below ``relevance_threshold``
(default 1: zero grades) are not relevant, and are counted in the result (negative grades apart); queries
with no relevant document are skipped (as mteb and sentence-transformers do) and counted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import polars as pl

from embedbench.data import read_beir
from embedbench.data.beir import BeirData, doc_text
from embedbench.data.spec import SourceSpec, read_retrieval_tables, resolve_path, source_files
from embedbench.encode import Encoder
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.metrics import ir_metrics, parse_ir_metric, relevance
from embedbench.evalsuite.tasks.base import (
    as_source,
    build_result,
    check_limit,
    dataset_hash,
    encode_texts,
    source_label,
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


TRIO = ("queries", "corpus", "qrels")


@dataclass(frozen=True)
class RetrievalTask:
    """Retrieval on one split of a BEIR folder, or on a (queries, corpus, qrels) trio of tables.

    Args:
        name: task name in results (e.g. ``"scifact"``).
        source: a BEIR source (``{ kind = "beir", path = "folder", split = "test" }``); or set the trio:
        queries: a table source with ``query_id, text`` (map other names with ``columns``).
        corpus: a table source with ``doc_id, text`` and optionally ``title``.
        qrels: a table source with ``query_id, doc_id, score`` (integer grades).
        relevance_threshold: grades at or above it are relevant (default 1: zero grades are not).
        metrics: metric names ``NAME@K`` (see ``evalsuite.metrics.IR_METRICS``); the first is the main one.
        query_prompt: prompt prepended to queries by the encoder (e.g. ``"query: "``), if any.
        doc_prompt: prompt prepended to documents, if any.
        limit: evaluate only the first N judged queries (the corpus stays whole); None: all.
    """

    name: str
    source: SourceSpec | None = None
    queries: SourceSpec | None = None
    corpus: SourceSpec | None = None
    qrels: SourceSpec | None = None
    relevance_threshold: int = 1
    metrics: tuple[str, ...] = DEFAULT_METRICS
    query_prompt: str | None = None
    doc_prompt: str | None = None
    limit: int | None = None
    task_type: str = "retrieval"

    def __post_init__(self) -> None:
        check_limit(self.name, self.limit)
        if self.source is not None:
            object.__setattr__(self, "source", as_source(self.name, self.source))
            if self.source.kind != "beir":
                raise EmbedbenchError(
                    f"task {self.name!r}: source kind {self.source.kind!r}; a retrieval source is a BEIR folder "
                    "(kind = \"beir\"), or set `queries`, `corpus` and `qrels` to table sources instead"
                )
        for key in TRIO:
            value = getattr(self, key)
            if isinstance(value, dict) and value.get("kind", "table") == "table":
                value = {"kind": "table", "output": "pairs", **value}  # the trio has its own columns, not a shape
            if value is not None:
                object.__setattr__(self, key, as_source(self.name, value, key))
        given = [k for k in TRIO if getattr(self, k) is not None]
        if (self.source is None) == (len(given) == 0) or 0 < len(given) < 3:
            raise EmbedbenchError(
                f"task {self.name!r}: set either `source` (a BEIR folder) or all of `queries`, `corpus` and `qrels`"
                f" (got {['source'] if self.source else []} + {given})"
            )
        if self.relevance_threshold < 1:
            raise EmbedbenchError(
                f"task {self.name!r}: relevance_threshold must be at least 1 (grades below it are not relevant), "
                f"got {self.relevance_threshold}"
            )
        if not self.metrics:
            raise EmbedbenchError(f"task {self.name!r}: metrics is empty; name at least one, e.g. ndcg@10")
        for m in self.metrics:
            parse_ir_metric(m)

    @property
    def depth(self) -> int:
        """Deepest rank any metric needs."""
        return max(parse_ir_metric(m)[1] for m in self.metrics)

    def data(self) -> BeirData:
        """The corpus, the judged queries and the qrels."""
        if self.source is not None:
            return read_beir(resolve_path(self.source.path), self.source.split or "test")
        assert self.queries is not None and self.corpus is not None and self.qrels is not None
        return read_retrieval_tables(self.queries, self.corpus, self.qrels)

    def texts(self) -> list[str]:
        """Every text the task encodes: the judged queries, then the corpus documents."""
        data = self.data()
        docs = data.corpus.select(doc_text(pl.col("title"), pl.col("text"))).to_series().to_list()
        return data.queries["text"].to_list() + docs

    def dataset_hash(self) -> str:
        """Content hash of the files the task reads."""
        specs = [self.source] if self.source is not None else [getattr(self, k) for k in TRIO]
        return dataset_hash(*(p for spec in specs for p in source_files(spec)))

    def evaluate(self, encoder: Encoder | Retriever) -> TaskResult:
        """Rank the corpus for every judged query and score the rankings against the qrels."""
        started = time.perf_counter()
        data = self.data()
        qrels_file = source_files(self.source)[2] if self.source is not None else resolve_path(self.qrels.path)  # type: ignore[union-attr]
        if data.corpus.height == 0:
            raise EmbedbenchError(f"{qrels_file}: the corpus is empty; a retrieval task needs documents")
        grades = data.qrels["score"]
        below = int((grades < self.relevance_threshold).sum())
        negative = int((grades < 0).sum())
        judged: dict[str, dict[str, int]] = {}
        for qid, did, score in data.qrels.select("query_id", "doc_id", "score").iter_rows():
            judged.setdefault(qid, {})[did] = score if score >= self.relevance_threshold else 0
        query_ids = [q for q in data.queries["query_id"].to_list() if any(s > 0 for s in judged[q].values())]
        skipped = data.queries.height - len(query_ids)
        query_ids = query_ids[: self.limit]
        if not query_ids:
            raise EmbedbenchError(
                f"{qrels_file}: no query has a relevant document (grade >= {self.relevance_threshold}); "
                "check the qrels grades, the split or relevance_threshold"
            )
        query_text = dict(zip(data.queries["query_id"], data.queries["text"], strict=True))
        doc_ids = data.corpus["doc_id"].to_list()
        docs = document_texts(data.corpus["title"].to_list(), data.corpus["text"].to_list())

        retriever = as_retriever(encoder, self.query_prompt, self.doc_prompt)
        index = retriever.index(docs)
        top, _ = index.search([query_text[q] for q in query_ids], min(self.depth, len(docs)))
        ranked = [[doc_ids[i] for i in row if i >= 0] for row in top]
        per_query = ir_metrics(relevance(ranked, [judged[q] for q in query_ids], self.depth), self.metrics)
        spec = self.source if self.source is not None else self.qrels
        assert spec is not None
        return build_result(
            self,
            retriever,
            dataset=source_label(spec),
            dataset_hash=self.dataset_hash(),
            main_metric=self.metrics[0],
            metrics={m: float(v.mean()) for m, v in per_query.items()},
            per_item={"id": query_ids, **{m: v.tolist() for m, v in per_query.items()}},
            aggregations={m: f"mean:{m}" for m in self.metrics},
            started=started,
            extra={
                "n_queries": len(query_ids),
                "n_corpus": len(docs),
                "skipped_queries_without_relevant": skipped,
                "judgements_below_threshold": below,
                "negative_judgements": negative,
            },
        )
