"""BM25 baseline for retrieval tasks, with bm25s (Lucene's BM25 variant, English stopwords, Snowball stemmer).

``BM25Retriever`` fits the ``Retriever`` path of ``RetrievalTask``: ``index(corpus)`` returns a
``BM25Index`` whose ``search(queries, k)`` returns corpus positions and scores. It has no embeddings,
so tasks that need an ``Encoder`` (STS, triplet, pair classification, mteb) refuse it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata

import numpy as np

from embedbench.errors import EmbedbenchError
from embedbench.io import config_hash

BM25_NAME = "bm25"


def _stemmer(language: str | None):  # noqa: ANN202 - PyStemmer has no stubs
    if not language:
        return None
    try:
        import Stemmer
    except ImportError:
        raise EmbedbenchError(
            "BM25 stemming needs PyStemmer: pip install PyStemmer (or set stemmer to none)"
        ) from None
    return Stemmer.Stemmer(language)


class BM25Index:
    """A bm25s index over a corpus; ``search`` tokenises queries the same way as the corpus."""

    def __init__(self, retriever: BM25Retriever, corpus: Sequence[str]) -> None:
        import bm25s

        if not corpus:
            raise EmbedbenchError("BM25: the corpus is empty; nothing to index")
        self.config = retriever
        self.n_docs = len(corpus)
        self._stem = _stemmer(retriever.stemmer)
        self.model = bm25s.BM25(k1=retriever.k1, b=retriever.b, method=retriever.method)
        self.model.index(self._tokenize(corpus), show_progress=False)

    def _tokenize(self, texts: Sequence[str]):  # noqa: ANN202 - bm25s.tokenization.Tokenized
        import bm25s

        return bm25s.tokenize(
            list(texts), stopwords=self.config.stopwords, stemmer=self._stem, show_progress=False
        )

    def search(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` corpus positions and BM25 scores per query (positions -1 beyond the corpus size)."""
        n = len(queries)
        ids = np.full((n, k), -1, dtype=np.int64)
        scores = np.zeros((n, k), dtype=np.float32)
        if n == 0:
            return ids, scores
        kk = min(k, self.n_docs)
        found, found_scores = self.model.retrieve(self._tokenize(queries), k=kk, show_progress=False)
        ids[:, :kk] = found
        scores[:, :kk] = found_scores
        return ids, scores


@dataclass(frozen=True)
class BM25Retriever:
    """BM25 settings; ``index(corpus)`` builds the searchable index.

    Args:
        k1: term-frequency saturation.
        b: length normalisation.
        method: bm25s variant (``lucene``, ``robertson``, ``atire``, ``bm25l``, ``bm25+``).
        stopwords: bm25s stopword list name (``"en"``) or None.
        stemmer: Snowball stemmer language for PyStemmer, or None for no stemming.
    """

    k1: float = 1.5
    b: float = 0.75
    method: str = "lucene"
    stopwords: str | None = "en"
    stemmer: str | None = "english"
    name: str = BM25_NAME

    @property
    def fingerprint(self) -> str:
        """Hash of the settings and the bm25s version (BM25 has no weights)."""
        settings = {
            "k1": self.k1,
            "b": self.b,
            "method": self.method,
            "stopwords": self.stopwords,
            "stemmer": self.stemmer,
            "bm25s": metadata.version("bm25s"),
        }
        return config_hash(settings)

    def index(self, corpus: Sequence[str]) -> BM25Index:
        """Tokenise and index ``corpus``."""
        return BM25Index(self, corpus)
