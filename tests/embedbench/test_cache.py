"""The embedding cache: exact hit/miss counts, identical arrays, no collisions, crash consistency."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from embedbench import encode as encode_mod
from embedbench.cache import EmbeddingCache, Space, text_hash, unique_in_order
from embedbench.encode import CachedEncoder, Encoder


class FakeModel:
    """Deterministic stand-in for a SentenceTransformer: a text's vector depends on its bytes and the prompt."""

    max_seq_length = 128

    def __init__(self, dim: int = 8, fail_after: int | None = None) -> None:
        self.dim = dim
        self.calls: list[list[str]] = []
        self.fail_after = fail_after

    def get_embedding_dimension(self) -> int:
        return self.dim

    def encode(self, texts, batch_size=64, prompt=None, normalize_embeddings=True, **_):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise RuntimeError("simulated crash")
        self.calls.append(list(texts))
        out = []
        for t in texts:
            seed = int.from_bytes(text_hash((prompt or "") + t)[:4], "little")
            v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            out.append(v / np.linalg.norm(v) if normalize_embeddings else v)
        return np.stack(out)


def make(tmp_path, model=None, **kw) -> CachedEncoder:
    return CachedEncoder(model or FakeModel(), name="fake", fingerprint="fp1", cache=EmbeddingCache(tmp_path / "e.sqlite"), **kw)


def test_unique_in_order():
    uniq, inv = unique_in_order(["b", "a", "b", "c", "a"])
    assert uniq == ["b", "a", "c"]
    assert inv.tolist() == [0, 1, 0, 2, 1]


def test_encoder_protocol():
    enc = CachedEncoder(FakeModel(), name="fake", fingerprint="fp", cache=None)
    assert isinstance(enc, Encoder)


def test_hits_and_misses_are_exact(tmp_path):
    enc = make(tmp_path)
    first = enc.encode(["a", "b", "a", "a"])
    assert (enc.hits, enc.misses) == (0, 2)
    assert enc.model.calls == [["a", "b"]]  # repeated text encoded once
    second = enc.encode(["a", "c", "b"])
    assert (enc.hits, enc.misses) == (2, 3)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[2])
    stats = {s.model: s for s in enc.cache.stats()}["fake"]
    assert (stats.hits, stats.misses, stats.rows) == (2, 3, 3)


def test_warm_call_encodes_nothing_and_returns_identical_arrays(tmp_path):
    texts = [f"sentence {i}" for i in range(50)] * 2
    cold = make(tmp_path).encode(texts)
    warm_enc = make(tmp_path)
    warm = warm_enc.encode(texts)
    assert warm_enc.model.calls == []
    assert warm.dtype == np.float32 and warm.shape == (100, 8)
    np.testing.assert_array_equal(cold, warm)
    # and the cached values are exactly what the model returns
    direct = FakeModel().encode(texts)
    np.testing.assert_array_equal(warm, direct)


def test_spaces_never_collide(tmp_path):
    base = make(tmp_path)
    a = base.encode(["hello"])
    with_prompt = base.with_prompt("query: ")
    b = with_prompt.encode(["hello"])
    assert with_prompt.misses == 1  # not served from the unprompted space
    assert not np.allclose(a, b)
    other_model = CachedEncoder(FakeModel(), name="fake", fingerprint="fp2", cache=base.cache)
    other_model.encode(["hello"])
    assert other_model.misses == 1
    short = FakeModel()
    short.max_seq_length = 64
    other_len = CachedEncoder(short, name="fake", fingerprint="fp1", cache=base.cache)
    other_len.encode(["hello"])
    assert other_len.misses == 1
    unnormalised = make(tmp_path, normalize=False)
    unnormalised.encode(["hello"])
    assert unnormalised.misses == 1
    keys = {Space("m", "fp1").key, Space("m", "fp1", "q").key, Space("m", "fp1", "", 64).key, Space("m", "fp1", normalize=False).key}
    assert len(keys) == 4


def test_exception_mid_encode_leaves_consistent_store(tmp_path, monkeypatch):
    monkeypatch.setattr(encode_mod, "WRITE_CHUNK", 4)
    texts = [f"t{i}" for i in range(10)]
    enc = make(tmp_path, model=FakeModel(fail_after=1))
    with pytest.raises(RuntimeError, match="simulated crash"):
        enc.encode(texts)
    store = EmbeddingCache(tmp_path / "e.sqlite")
    assert store.integrity_ok()
    assert {s.model: s.rows for s in store.stats()}["fake"] == 4  # the first chunk committed, nothing partial
    retry = make(tmp_path)
    out = retry.encode(texts)
    assert retry.misses == 6
    np.testing.assert_array_equal(out, FakeModel().encode(texts))


def test_killed_writer_leaves_readable_store(tmp_path):
    db = tmp_path / "kill.sqlite"
    script = textwrap.dedent(
        f"""
        import numpy as np, os, signal
        from embedbench.cache import EmbeddingCache, Space, text_hash
        store = EmbeddingCache({str(db)!r}); sp = Space("m", "fp"); store.register(sp)
        for batch in range(1000):
            hs = [text_hash(f"{{batch}}-{{i}}") for i in range(200)]
            store.put_many(sp, hs, np.ones((200, 16), dtype=np.float32))
            if batch == 5:
                print("ready", flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.kill()
    proc.wait()
    store = EmbeddingCache(db)
    assert store.integrity_ok()
    rows = store.stats()[0].rows
    assert rows >= 1200 and rows % 200 == 0  # whole transactions only
    vec_sizes = {len(v) for (v,) in store._conn().execute("SELECT vec FROM embeddings")}
    assert vec_sizes == {16 * 4}


def test_clear_one_model(tmp_path):
    enc = make(tmp_path)
    enc.encode(["x", "y"])
    other = CachedEncoder(FakeModel(), name="other", fingerprint="fp9", cache=enc.cache)
    other.encode(["x"])
    assert enc.cache.clear("fake") == 2
    assert [s.model for s in enc.cache.stats()] == ["other"]
    assert enc.cache.clear() == 1


def test_empty_input(tmp_path):
    out = make(tmp_path).encode([])
    assert out.shape == (0, 8)
