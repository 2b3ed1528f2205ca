"""The ``Encoder`` protocol and the cached sentence-transformers encoder every step uses.

Any object with ``name``, ``fingerprint`` and ``encode(texts) -> float32 array`` is an Encoder (a
BM25 baseline, an ONNX session and a test fake fit without inheritance). ``CachedEncoder`` wraps a
``SentenceTransformer``: each unique text is encoded at most once per embedding space, ever.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from embedbench import compute, models
from embedbench.cache import EmbeddingCache, Space, text_hash, unique_in_order

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# Texts encoded between two cache writes: bounds memory and the work lost to a crash.
WRITE_CHUNK = 1024


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into a float32 matrix, one row per text, in input order."""

    name: str
    fingerprint: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; returns shape ``(len(texts), dim)``, dtype float32."""
        ...


class CachedEncoder:
    """A sentence-transformers model behind the shared embedding cache.

    Args:
        model: the loaded ``SentenceTransformer``.
        name: display name (registry name or folder name).
        fingerprint: content hash of the model (``models.model_fingerprint``).
        cache: the embedding cache; ``None`` disables caching.
        prompt: text prepended by the model (e.g. ``"query: "``); part of the cache key.
        normalize: L2-normalise the embeddings; part of the cache key.
        batch_size: model batch size.
        show_progress: show a progress bar while encoding misses.
        backend: what runs the transformer (``torch``, ``onnx``, ``openvino``), for provenance.
        precision: ``fp32`` or ``int8``, for provenance.
        backend_reason: why this backend (e.g. ``"auto: fastest exact fp32 (...)"``), for provenance.
        source: the name ``load_encoder`` was given (what a Ray worker loads); default ``name``.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        *,
        name: str,
        fingerprint: str,
        cache: EmbeddingCache | None = None,
        prompt: str | None = None,
        normalize: bool = True,
        batch_size: int = 64,
        show_progress: bool = True,
        backend: str = "torch",
        precision: str = "fp32",
        backend_reason: str = "",
        source: str | None = None,
    ) -> None:
        self.model = model
        self.source = source or name
        self.backend = str(backend)
        self.precision = str(precision)
        self.backend_reason = backend_reason
        self.name = name
        self.fingerprint = fingerprint
        self.cache = cache
        self.prompt = prompt or ""
        self.normalize = normalize
        self.batch_size = batch_size
        self.show_progress = show_progress
        self.hits = 0
        self.misses = 0
        self.space = Space(name, fingerprint, self.prompt, model.max_seq_length, normalize)
        if cache is not None:
            cache.register(self.space)

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"model {self.name!r} does not report its embedding dimension")
        return int(dim)

    def with_prompt(self, prompt: str | None) -> CachedEncoder:
        """The same model and cache with another prompt (a separate cache space)."""
        return CachedEncoder(
            self.model, name=self.name, fingerprint=self.fingerprint, cache=self.cache, prompt=prompt,
            normalize=self.normalize, batch_size=self.batch_size, show_progress=self.show_progress,
            backend=self.backend, precision=self.precision, backend_reason=self.backend_reason,
            source=self.source,
        )

    def _encode_model(self, texts: list[str]) -> np.ndarray:
        emb = self.model.encode(
            texts,
            batch_size=self.batch_size,
            prompt=self.prompt or None,
            normalize_embeddings=self.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(emb, dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` in input order; repeated and cached texts are not re-encoded."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique, inverse = unique_in_order(texts)
        out = np.empty((len(unique), self.dim), dtype=np.float32)
        hashes = [text_hash(t) for t in unique]
        found = self.cache.get_many(self.space, hashes) if self.cache is not None else {}
        missing = []
        for i, h in enumerate(hashes):
            vec = found.get(h)
            if vec is None:
                missing.append(i)
            else:
                out[i] = vec
        hits, misses = len(unique) - len(missing), len(missing)
        self.hits += hits
        self.misses += misses
        if missing:
            self._encode_missing(unique, hashes, missing, out)
        if self.cache is not None:
            self.cache.count(self.space, hits, misses)
        return out[inverse]

    def _encode_missing(self, unique: list[str], hashes: list[bytes], missing: list[int], out: np.ndarray) -> None:
        remote = compute.hook("encode_missing")
        if remote is not None:  # e.g. Ray: the misses go to the cluster; the cache stays with this process
            remote(self, unique, hashes, missing, out, chunk=WRITE_CHUNK, cfg=compute.active())
            return
        # Sort by length so each model batch pads little; write to the cache chunk by chunk.
        order = sorted(missing, key=lambda i: len(unique[i]))
        progress = None
        if self.show_progress and len(order) > WRITE_CHUNK:
            from tqdm.auto import tqdm

            progress = tqdm(total=len(order), desc=f"encode {self.name}", unit="text")
        try:
            for start in range(0, len(order), WRITE_CHUNK):
                idx = order[start : start + WRITE_CHUNK]
                vecs = self._encode_model([unique[i] for i in idx])
                out[idx] = vecs
                if self.cache is not None:
                    self.cache.put_many(self.space, [hashes[i] for i in idx], vecs)
                if progress is not None:
                    progress.update(len(idx))
        finally:
            if progress is not None:
                progress.close()


def load_encoder(
    name: str,
    *,
    prompt: str | None = None,
    normalize: bool = True,
    batch_size: int = 64,
    cache: EmbeddingCache | None | bool = True,
    show_progress: bool = True,
    device: str | None = None,
    backend: str | None = None,
    precision: str = "fp32",
    threads: int | None = None,
) -> CachedEncoder:
    """Resolve and load a model (registry name, folder or hub id) behind the shared cache.

    ``cache=True`` uses the default store, ``False``/``None`` disables it, or pass an ``EmbeddingCache``.
    ``backend`` (``torch``, ``onnx``, ``openvino``, ``auto``) and ``precision`` (``fp32``, ``int8``) pick how
    the transformer runs (``embedbench.backends``). The default (``None``) is ``$EMBEDBENCH_BACKEND``, else
    ``auto``: the fastest exact fp32 backend of this model on this machine, measured once and remembered
    (``embedbench.backend_auto``); it keeps the plain name. Named backends other than torch fp32 change the
    name (``name@onnx-int8``); every backend has its own fingerprint (an export's is shared by
    ``name@onnx-fp32`` and auto's onnx), so cached embeddings never mix backends or precisions.
    ``threads``: CPU threads of the backend (default: ``backends.cpu_threads()``).
    """
    from embedbench.backends import load_backend  # imports torch: only when a model loads

    loaded = load_backend(models.resolve(name), backend, precision, device=device, threads=threads)
    info = loaded.info
    store = EmbeddingCache() if cache is True else (cache or None)
    return CachedEncoder(
        loaded.model, name=info.name, fingerprint=info.fingerprint, cache=store, prompt=prompt,
        normalize=normalize, batch_size=batch_size, show_progress=show_progress,
        backend=info.backend.value, precision=info.precision.value, backend_reason=info.reason,
        source=name,
    )
