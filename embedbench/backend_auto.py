"""Backend ``auto``: per model, the fastest exact fp32 backend on this machine, measured once and remembered.

Candidates are torch, ONNX Runtime and OpenVINO, all fp32 (int8 changes the embeddings and is never
chosen here). Each is loaded (exported once if needed), encodes the throughput probe
(:mod:`embedbench.throughput`) in interleaved rounds, and counts as exact when its probe embeddings
are within ``EXACT_TOL`` (max abs diff) of torch fp32's. The exact one that encodes the probe in the
least time wins (each candidate's best round, since other work on the machine only slows a round).
A fine-tuned model (its ``embedbench.json`` names its base) takes its base's remembered choice unmeasured.

The choice and its measurements are kept in ``cache_dir()/backends.json`` per model fingerprint +
machine, so every step (mining, dedupe, teacher, eval) and every later run loads the same backend and
each text is still encoded once per model. Each candidate's throughput goes to ``throughput.json`` too.
A file lock makes concurrent processes (Ray actors, parallel steps) wait for one measurement.
"""

from __future__ import annotations

import fcntl
import importlib.util
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedbench import throughput
from embedbench.backend_spec import Backend, Precision, tag
from embedbench.io import read_manifest, write_json_atomic
from embedbench.models import ResolvedModel, model_meta
from embedbench.paths import cache_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Loader = Callable[[Backend], "tuple[SentenceTransformer, str]"]
"""Loads a model with a backend in fp32 and says its fingerprint (``embedbench.backends.choose_backend``
passes ``load_backend``; injected so this module does not import the one that calls it)."""

EXACT_TOL = 1e-4
"""Max abs difference from torch fp32 on the probe embeddings for a backend to count as exact."""
CANDIDATES = (Backend.TORCH, Backend.ONNX, Backend.OPENVINO)
RUNTIME_PACKAGE = {Backend.ONNX: "onnxruntime", Backend.OPENVINO: "openvino"}
CHOICES_FILE = "backends.json"
MAX_ROUNDS = 3
CLEAR_LEAD = 0.15
"""Stop measuring early when the fastest exact backend is this much faster than every other one."""


@dataclass(frozen=True)
class Candidate:
    """One backend as measured: its throughput, probe seconds (best round), distance to torch, or why it was left out."""

    backend: str
    throughput: dict[str, Any] | None = None
    probe_seconds: float | None = None
    max_abs_diff: float | None = None
    left_out: str = ""

    @property
    def exact(self) -> bool:
        """Measured and within ``EXACT_TOL`` of torch fp32."""
        return not self.left_out and self.max_abs_diff is not None and self.max_abs_diff < EXACT_TOL


@dataclass(frozen=True)
class Choice:
    """The backend ``auto`` picked for a model on a machine, why, and every candidate's measurement."""

    model: str
    fingerprint: str
    machine: str
    backend: Backend
    reason: str
    candidates: tuple[Candidate, ...] = ()
    measured_at: str = ""
    rounds: int = 0
    precision: Precision = field(default=Precision.FP32)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in ``backends.json``."""
        out = asdict(self)
        out["backend"], out["precision"] = self.backend.value, self.precision.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Choice:
        """Read :meth:`to_dict`'s form back."""
        return cls(
            model=data["model"], fingerprint=data["fingerprint"], machine=data["machine"],
            backend=Backend(data["backend"]), reason=data["reason"],
            candidates=tuple(Candidate(**c) for c in data.get("candidates", ())),
            measured_at=data.get("measured_at", ""), rounds=int(data.get("rounds", 0)),
        )


def installed(backend: Backend) -> bool:
    """Whether the runtime of ``backend`` is importable (torch always is)."""
    package = RUNTIME_PACKAGE.get(backend)
    return package is None or importlib.util.find_spec(package) is not None


def _store() -> Path:
    return cache_dir() / CHOICES_FILE


def _key(fingerprint: str, machine: str) -> str:
    return f"{fingerprint}|{machine}|probe{throughput.PROBE_VERSION}"


def recalled_choice(resolved: ResolvedModel) -> Choice | None:
    """The remembered choice for this model on this machine, if its backend is still installed."""
    return _recalled(resolved.fingerprint)


def _recalled(fingerprint: str) -> Choice | None:
    entry = (read_manifest(_store()) or {}).get(_key(fingerprint, throughput.machine_id()))
    if not entry:
        return None
    choice = Choice.from_dict(entry)
    return choice if installed(choice.backend) else None


def remembered_choices() -> list[Choice]:
    """Every choice remembered for this machine (for ``embedbench models``); reads a file, measures nothing."""
    machine = throughput.machine_id()
    return [Choice.from_dict(e) for e in (read_manifest(_store()) or {}).values() if e.get("machine") == machine]


@contextmanager
def _lock() -> Iterator[None]:
    path = cache_dir() / (CHOICES_FILE + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def choose(
    resolved: ResolvedModel, *, load: Loader, device: str | None = None, batch_size: int = 64, remeasure: bool = False,
) -> Choice:
    """The fastest exact fp32 backend of ``resolved`` here: remembered, else measured (seconds) and remembered.

    A hub model (no local folder to export) or a non-CPU device gets torch, with that reason.
    ``remeasure=True`` measures again (machines differ between days).
    """
    machine = throughput.machine_id()
    if not resolved.is_local:
        return Choice(resolved.name, resolved.fingerprint, machine, Backend.TORCH,
                      "torch: a hub model has no local folder to export to ONNX/OpenVINO")
    if device not in (None, "cpu"):
        return Choice(resolved.name, resolved.fingerprint, machine, Backend.TORCH,
                      f"torch: device {device!r} (the ONNX/OpenVINO exports run on the CPU only)")
    if not remeasure and (known := recalled_choice(resolved)) is not None:
        return known
    with _lock():
        if not remeasure and (known := recalled_choice(resolved)) is not None:
            return known  # another process measured while this one waited
        inherited = None if remeasure else _base_choice(resolved)
        choice = inherited or measure_choice(resolved, load, batch_size=batch_size)
        data = read_manifest(_store()) or {}
        data[_key(resolved.fingerprint, machine)] = choice.to_dict()
        write_json_atomic(_store(), data)
    return choice


def _base_choice(resolved: ResolvedModel) -> Choice | None:
    """A fine-tuned model's choice taken from its base's remembered one, if this machine has measured the base.

    Fine-tuning changes the weights, not the graph, so the backends rank the same; and a base and its
    fine-tuned version on one backend make the report's throughput comparison like for like. The folder's
    ``embedbench.json`` (written by ``embedbench train``) names the base and its fingerprint.
    """
    base_fp = model_meta(resolved.path).get("base_fingerprint")
    base = _recalled(str(base_fp)) if base_fp else None
    if base is None:
        return None
    return Choice(
        resolved.name, resolved.fingerprint, base.machine, base.backend,
        f"{base.backend.value}: as its base {base.model} (same architecture, fine-tuned weights; measured {base.measured_at})",
        (), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), 0,
    )


class ProbeEncoder:
    """A loaded candidate as the throughput functions see it: no cache, normalised like ``CachedEncoder``."""

    def __init__(self, loaded: tuple[SentenceTransformer, str], name: str, backend: Backend, batch_size: int) -> None:
        (self.model, self.fingerprint), self.name, self.batch_size = loaded, name, batch_size
        self.backend, self.precision = backend.value, Precision.FP32.value

    def encode(self, texts: list[str]) -> Any:
        """Embed without any cache."""
        return self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False)


def measure_choice(resolved: ResolvedModel, load: Loader, *, batch_size: int = 64) -> Choice:
    """Load every installed candidate, time the probe in interleaved rounds, check exactness, pick the fastest."""
    import numpy as np

    short, long = throughput.probe_texts()
    left_out: dict[Backend, str] = {}
    encoders: dict[Backend, Any] = {}
    for b in CANDIDATES:
        if not installed(b):
            left_out[b] = f"not installed (pip install {RUNTIME_PACKAGE[b]})"
            continue
        try:
            encoders[b] = ProbeEncoder(load(b), resolved.name, b, batch_size)
        except Exception as exc:  # noqa: BLE001 - a backend that cannot load this model is left out, torch remains
            if b is Backend.TORCH:
                raise
            left_out[b] = f"does not load: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    best: dict[Backend, list[float]] = {b: [np.inf, np.inf] for b in encoders}
    diffs: dict[Backend, float] = {}
    rounds = 0
    for rounds in range(1, MAX_ROUNDS + 1):
        ref = None
        for b, enc in encoders.items():
            if rounds == 1:
                throughput.warm_up(enc)
            ts, es = throughput.timed_encode(enc, short)
            tl, el = throughput.timed_encode(enc, long)
            best[b] = [min(best[b][0], ts), min(best[b][1], tl)]
            if rounds == 1:
                emb = np.concatenate([es, el])
                ref = emb if b is Backend.TORCH else ref
                diffs[b] = float(np.abs(emb - ref).max()) if ref is not None else float("nan")
        exact = sorted((sum(best[b]), b) for b in encoders if diffs[b] < EXACT_TOL)
        if len(exact) < 2 or exact[0][0] <= (1 - CLEAR_LEAD) * exact[1][0]:
            break
    candidates = []
    for b in CANDIDATES:
        if b in left_out:
            candidates.append(Candidate(b.value, left_out=left_out[b]))
            continue
        tp = throughput.make_throughput(encoders[b], *best[b])
        throughput.remember(encoders[b].fingerprint, resolved.name, tp)
        note = "" if diffs[b] < EXACT_TOL else f"not exact: max abs diff {diffs[b]:.1e} vs torch fp32 >= {EXACT_TOL:g}"
        candidates.append(Candidate(b.value, tp.to_dict(), sum(best[b]), diffs[b], note))
    winner = min((c for c in candidates if c.exact), key=lambda c: c.probe_seconds or np.inf)
    return Choice(
        resolved.name, resolved.fingerprint, throughput.machine_id(), Backend(winner.backend),
        _reason(winner, candidates), tuple(candidates), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), rounds,
    )


def _reason(winner: Candidate, candidates: list[Candidate]) -> str:
    """E.g. ``"fastest exact fp32 on the probe: openvino 8.95 s (2.65 long/s), torch 13.3 s (1.61 long/s); ..."``."""
    ranked = sorted((c for c in candidates if c.exact), key=lambda c: c.probe_seconds or 0.0)
    speeds = ", ".join(
        f"{c.backend} {c.probe_seconds:.3g} s ({c.throughput['long_per_s']:.3g} long/s)"
        for c in ranked if c.throughput and c.probe_seconds is not None
    )
    out = f"fastest exact fp32 on the probe: {speeds}" if len(ranked) > 1 else f"{winner.backend}: the only exact fp32 backend"
    notes = [f"{c.backend} {c.left_out}" for c in candidates if c.left_out]
    return "; ".join([out, *notes])


def describe_choice(choice: Choice) -> str:
    """One line for logs: model, backend chosen, reason."""
    return f"{choice.model}: {tag(choice.backend, choice.precision)} ({choice.reason})"
