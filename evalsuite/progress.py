"""One progress bar per model during ``embedbench eval``, over the texts its plan says it will encode.

:class:`ProgressEncoder` wraps a model's encoder for the pairs of one model: every text it encodes
(a cache miss) moves that model's bar, whichever task asked for it, so the bar's ETA is over the
model's whole planned work, not one task's. Large requests are sent on in length-sorted chunks so
the bar moves while a corpus is encoded; each chunk is still one cached, padded-by-length encode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from embedbench.cache import unique_in_order
from embedbench.compute import active
from embedbench.evalsuite.plan import Plan

CHUNK = 1024
"""Texts per encode call the wrapper makes (the encoder's own cache-write chunk)."""


class ProgressEncoder:
    """``inner`` (a ``CachedEncoder``-like encoder) whose cache misses advance ``bar`` (a tqdm bar).

    Everything else (``name``, ``fingerprint``, ``dim``, ``model``, ``hits``, ``misses``) is the inner
    encoder's. ``chunk=None`` sends each request whole (the Ray engine batches a request itself).
    """

    def __init__(self, inner: Any, bar: Any, chunk: int | None = CHUNK) -> None:
        self.inner = inner
        self.bar = bar
        self.chunk = chunk
        if hasattr(inner, "show_progress"):
            inner.show_progress = False  # this bar replaces the encoder's own per-request bar

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def with_prompt(self, prompt: str | None) -> ProgressEncoder:
        """The inner encoder under another prompt, moving the same bar."""
        return ProgressEncoder(self.inner.with_prompt(prompt), self.bar, self.chunk)

    def _encode(self, texts: list[str]) -> np.ndarray:
        before = int(getattr(self.inner, "misses", 0))
        out = np.asarray(self.inner.encode(texts), dtype=np.float32)
        self.bar.update(int(getattr(self.inner, "misses", 0)) - before)
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` in input order through the inner encoder, moving the bar as chunks finish."""
        texts = list(texts)
        if self.chunk is None or len(texts) <= self.chunk:
            return self._encode(texts)
        unique, inverse = unique_in_order(texts)
        order = sorted(range(len(unique)), key=lambda i: len(unique[i]))
        out: np.ndarray | None = None
        for start in range(0, len(order), self.chunk):
            idx = order[start : start + self.chunk]
            vecs = self._encode([unique[i] for i in idx])
            if out is None:
                out = np.empty((len(unique), vecs.shape[1]), dtype=np.float32)
            out[idx] = vecs
        assert out is not None  # texts is not empty here
        return out[inverse]


def model_bar(model: str, total: int, enabled: bool = True) -> Any:
    """A tqdm bar over ``total`` texts for ``model`` (a no-op bar when disabled or nothing is planned)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"encode {model}", unit="text", disable=not enabled or total <= 0,
                dynamic_ncols=True)


class ModelBars:
    """One progress bar per model over the texts the plan says it will encode (wraps of ``runner.Pair`` s' encoders)."""

    def __init__(self, plan: Plan, enabled: bool = True) -> None:
        self.plan = plan
        self.enabled = enabled
        self.bars: dict[str, Any] = {}

    def wrap(self, pair: Any, encoder: Any) -> Any:
        """``encoder`` moving its model's bar (the bar opens at the model's first pair; the last model's closes)."""
        if pair.model.lexical or not self.enabled:
            return encoder
        if pair.model.name not in self.bars:
            self.close()
            self.bars[pair.model.name] = model_bar(pair.model.name, self.plan.to_encode(pair.model.name))
        chunk = None if active().engine == "ray" else CHUNK
        return ProgressEncoder(encoder, self.bars[pair.model.name], chunk)

    def close(self) -> None:
        """Close every open bar."""
        for bar in self.bars.values():
            bar.close()
        self.bars = {}
