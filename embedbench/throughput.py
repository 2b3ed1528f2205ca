"""Encode throughput measured on this machine, remembered, and turned into time estimates.

A model's speed is measured once on two probes of real text shipped with the package
(``probe_texts.json``): 64 short STS Benchmark sentences and 16 long SciFact abstracts (truncated by the
model at its ``max_seq_length``). The measurement takes a few seconds and is remembered per model
fingerprint + backend + machine in ``cache_dir()/throughput.json``, so every later plan reuses it.
:func:`estimate_seconds` turns it into a time for any list of token counts: the cost of one text is
interpolated linearly in its token count between the two probes.

What a transformer costs depends on how many tokens it reads, not on what they say, so two probes of
very different length are enough to estimate a mixed workload.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from embedbench.io import read_manifest, write_json_atomic
from embedbench.paths import cache_dir

PROBE_FILE = Path(__file__).with_name("probe_texts.json")
THROUGHPUT_FILE = "throughput.json"
# Bump when the probe or the timing changes: older measurements are then measured again.
PROBE_VERSION = 1


@dataclass(frozen=True)
class Throughput:
    """Texts per second on the short and the long probe, and their mean token counts (after truncation).

    ``backend``/``precision`` say what ran the model, ``machine`` where (:func:`machine_id`).
    """

    short_per_s: float
    long_per_s: float
    short_tokens: float
    long_tokens: float
    backend: str
    precision: str
    machine: str
    max_tokens: int | None = None
    """The model's ``max_seq_length``: longer texts are truncated to it, so they cost no more."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in ``throughput.json`` and ``backends.json``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Throughput:
        """Read :meth:`to_dict`'s form back (unknown keys ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def probe_texts() -> tuple[list[str], list[str]]:
    """The short and the long probe texts (real sentences and abstracts shipped with the package)."""
    data = _probe_data()
    return list(data["short"]), list(data["long"])


@cache
def _probe_data() -> dict[str, Any]:
    return json.loads(PROBE_FILE.read_text(encoding="utf-8"))


@cache
def machine_id() -> str:
    """What measured speeds depend on, as a short string: CPU model, usable cores, GPU if any.

    No host name: containers get a new one on every start, and two machines with the same CPU and
    core count encode at the same speed.
    """
    from embedbench.backends import cpu_threads  # the one definition of "usable cores"

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out = f"{' '.join(cpu.split())} x{cpu_threads()}"
    try:
        import torch

        if torch.cuda.is_available():
            out += f" + {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return out


def token_counts(encoder: Any, texts: Sequence[str]) -> list[int]:
    """Tokens the encoder's model reads for each text (special tokens included, truncated at its
    ``max_seq_length``); words for an encoder without a tokenizer (BM25, fakes)."""
    model = getattr(encoder, "model", None)
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        return [len(t.split()) for t in texts]
    limit = getattr(model, "max_seq_length", None)
    ids = tokenizer(list(texts), truncation=limit is not None, max_length=limit, add_special_tokens=True)["input_ids"]
    return [len(x) for x in ids]


def _encode_fn(encoder: Any) -> Any:
    """Encode bypassing the embedding cache (a cache hit would measure nothing)."""
    raw = getattr(encoder, "_encode_model", None)
    return raw if raw is not None else encoder.encode


def timed_encode(encoder: Any, texts: list[str]) -> tuple[float, np.ndarray]:
    """Seconds to encode ``texts`` once (no cache), and the embeddings."""
    fn = _encode_fn(encoder)
    start = time.perf_counter()
    emb = np.asarray(fn(texts), dtype=np.float32)
    return time.perf_counter() - start, emb


def warm_up(encoder: Any) -> None:
    """One small untimed call: the first run of a session or compiled model pays one-off costs."""
    short, long = probe_texts()
    _encode_fn(encoder)(short[:4] + long[:1])


def make_throughput(encoder: Any, short_s: float, long_s: float) -> Throughput:
    """A ``Throughput`` from the seconds one pass over each probe took."""
    short, long = probe_texts()
    model = getattr(encoder, "model", None)
    return Throughput(
        short_per_s=len(short) / max(short_s, 1e-9), long_per_s=len(long) / max(long_s, 1e-9),
        short_tokens=float(np.mean(token_counts(encoder, short))), long_tokens=float(np.mean(token_counts(encoder, long))),
        backend=str(getattr(encoder, "backend", "torch")), precision=str(getattr(encoder, "precision", "fp32")),
        machine=machine_id(), max_tokens=getattr(model, "max_seq_length", None),
    )


def measure(encoder: Any) -> Throughput:
    """Time one pass over each probe (after a warm-up call); nothing is remembered."""
    short, long = probe_texts()
    warm_up(encoder)
    short_s, _ = timed_encode(encoder, short)
    long_s, _ = timed_encode(encoder, long)
    return make_throughput(encoder, short_s, long_s)


def _key(fingerprint: str, backend: str, precision: str, machine: str) -> str:
    return f"{fingerprint}|{backend}-{precision}|{machine}|probe{PROBE_VERSION}"


def _store_path() -> Path:
    return cache_dir() / THROUGHPUT_FILE


def recalled(fingerprint: str, backend: str, precision: str) -> Throughput | None:
    """The remembered throughput of a model fingerprint + backend on this machine, if any."""
    entry = (read_manifest(_store_path()) or {}).get(_key(fingerprint, backend, precision, machine_id()))
    return Throughput.from_dict(entry["throughput"]) if entry else None


def remember(fingerprint: str, model: str, tp: Throughput) -> None:
    """Keep a measurement in ``throughput.json`` (read, update, atomic rewrite)."""
    path = _store_path()
    data = read_manifest(path) or {}
    data[_key(fingerprint, tp.backend, tp.precision, tp.machine)] = {
        "model": model, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "throughput": tp.to_dict(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, data)


def throughput_of(encoder: Any) -> Throughput:
    """The encoder's throughput on this machine: remembered, else measured (a few seconds) and remembered.

    Keyed by the encoder's ``fingerprint`` (an export has its own), ``backend``, ``precision`` and
    :func:`machine_id`.
    """
    backend, precision = str(getattr(encoder, "backend", "torch")), str(getattr(encoder, "precision", "fp32"))
    known = recalled(encoder.fingerprint, backend, precision)
    if known is not None:
        return known
    tp = measure(encoder)
    remember(encoder.fingerprint, encoder.name, tp)
    return tp


def seconds_per_text(tp: Throughput, tokens: float) -> float:
    """Estimated seconds to encode one text of ``tokens`` tokens (see :func:`estimate_seconds`)."""
    return estimate_seconds(tp, [tokens])


def estimate_seconds(tp: Throughput, token_counts: Sequence[float]) -> float:
    """Estimated seconds to encode texts with these token counts.

    A text's cost is linear in its tokens between the short probe (``short_tokens``, ``1/short_per_s``)
    and the long one, extended beyond the long probe with the same slope; below the short probe a text
    costs what a short one does (batch overhead dominates there). Counts above ``max_tokens`` are capped:
    the model truncates them.
    """
    counts = np.asarray(list(token_counts), dtype=np.float64)
    if counts.size == 0:
        return 0.0
    x0, y0 = tp.short_tokens, 1.0 / tp.short_per_s
    x1, y1 = tp.long_tokens, 1.0 / tp.long_per_s
    if tp.max_tokens:
        counts = np.minimum(counts, tp.max_tokens)
    if x1 <= x0:  # degenerate probes: one cost per text
        return float(counts.size * max(y0, y1))
    per_text = np.where(counts <= x0, y0, y0 + (y1 - y0) * (counts - x0) / (x1 - x0))
    return float(np.maximum(per_text, 0.0).sum())
