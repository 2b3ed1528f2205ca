"""Fixtures for the evaluation-task tests: a bag-of-words encoder whose cosines are easy to work by hand,
a tiny BEIR folder writer, and a sentence-transformers shim that encodes through our cache."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

DIM = 64


class BowEncoder:
    """Counts of lower-cased words (one dimension per word, in first-seen order); records every call."""

    name = "bow"
    fingerprint = "bow-v1"

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.calls: list[list[str]] = []

    def encode(self, texts):
        texts = list(texts)
        self.calls.append(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, self.vocab.setdefault(w, len(self.vocab))] += 1
        return out

    @property
    def encoded(self) -> list[str]:
        return [t for call in self.calls for t in call]


def write_beir(
    folder: Path, corpus: dict, queries: dict, qrels: list[tuple[str, str, int]], split: str = "test"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "qrels").mkdir(exist_ok=True)
    with open(folder / "corpus.jsonl", "w") as f:
        for did, (title, text) in corpus.items():
            f.write(json.dumps({"_id": did, "title": title, "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w") as f:
        for qid, text in queries.items():
            f.write(json.dumps({"_id": qid, "text": text}) + "\n")
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in qrels]
    (folder / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    return folder


class CachedSentenceTransformer:
    """Enough of SentenceTransformer for sentence-transformers evaluators, encoding through our Encoder."""

    similarity_fn_name = "cosine"

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.model_card_data = SimpleNamespace(set_evaluation_metrics=lambda *a, **k: None)

    def encode(self, sentences, convert_to_tensor=False, **kwargs):
        import torch

        emb = self.encoder.encode([sentences] if isinstance(sentences, str) else list(sentences))
        return torch.from_numpy(emb) if convert_to_tensor else emb

    encode_query = encode
    encode_document = encode

    def similarity(self, a, b):
        from sentence_transformers.util import cos_sim

        return cos_sim(a, b)


@pytest.fixture
def bow():
    """A fresh bag-of-words encoder."""
    return BowEncoder()


@pytest.fixture
def beir_writer():
    """``write_beir(folder, corpus, queries, qrels, split)``."""
    return write_beir


@pytest.fixture
def st_shim():
    """``CachedSentenceTransformer(encoder)``: an ST-compatible model for ST evaluators."""
    return CachedSentenceTransformer
