"""The Ray engine encodes exactly as the local engine: same vectors, input order, only misses sent."""

from __future__ import annotations

import numpy as np
import pytest

from embedbench import compute, ray_engine
from embedbench.cache import EmbeddingCache, text_hash
from embedbench.compute import ComputeConfig
from embedbench.data.sts import read_stsb
from embedbench.encode import load_encoder
from embedbench.ray_engine import as_spec, encode_on_ray


@pytest.fixture(scope="module")
def sts_texts(shared_data) -> list[str]:
    """300 real sentences of the STS Benchmark test file, with a few repeated (in input order)."""
    df = read_stsb(shared_data / "stsbenchmark" / "sts-test.csv").head(150)
    texts = [*df["sentence1"].to_list(), *df["sentence2"].to_list()]
    return texts + texts[:7]


@pytest.fixture(scope="module")
def local_vectors(sts_texts, encode_locally) -> np.ndarray:
    return encode_locally(sts_texts)


@pytest.mark.slow
def test_encode_on_ray_equals_local(ray_cfg, sts_texts, local_vectors):
    got = encode_on_ray("tiny", sts_texts, ray_cfg)
    assert got.shape == local_vectors.shape and got.dtype == np.float32
    assert float(np.abs(got - local_vectors).max()) < 1e-6


@pytest.mark.slow
def test_cached_encoder_sends_only_misses_and_fills_the_cache(ray_cfg, tmp_path, sts_texts, local_vectors, monkeypatch):
    cache = EmbeddingCache(tmp_path / "emb.sqlite")
    enc = load_encoder("tiny", cache=cache, show_progress=False, batch_size=32)
    first = sts_texts[:100]
    enc.encode(first)  # the local engine fills the cache with these
    sent: list[str] = []
    real = ray_engine.iter_encoded

    def recording(model, texts, cfg, positions=None):
        sent.extend(texts)
        return real(model, texts, cfg, positions)

    monkeypatch.setattr(ray_engine, "iter_encoded", recording)
    compute.activate(ray_cfg)
    try:
        got = enc.encode(sts_texts)  # only the texts the cache lacks go to Ray
    finally:
        compute.activate(ComputeConfig())
    assert sorted(sent) == sorted(set(sts_texts) - set(first))
    assert enc.hits == len(set(first)) and enc.misses == len(set(sts_texts))
    assert float(np.abs(got - local_vectors).max()) < 1e-6
    stored = cache.get_many(enc.space, [text_hash(t) for t in sts_texts])
    assert len(stored) == len(set(sts_texts))


def test_spec_of_an_encoder_names_what_a_worker_loads():
    enc = load_encoder("tiny", cache=False, show_progress=False, prompt="query: ")
    spec = as_spec(enc)
    assert (spec.source, spec.backend, spec.precision, spec.prompt) == ("tiny", "torch", "fp32", "query: ")
    assert spec.fingerprint == enc.fingerprint
    assert as_spec("tiny@onnx-int8").backend == "onnx"
