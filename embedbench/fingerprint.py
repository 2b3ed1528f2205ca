"""Content fingerprints of model folders, and the cache that saves re-hashing unchanged weights.

A fingerprint is a short SHA-256 over the files that define a model's behaviour (weights, configs,
tokenizer), by relative path, so the same model in two places has one fingerprint.
:func:`folder_fingerprint` only computes. :class:`FingerprintCache` is the one place that writes: a
JSON file (``<cache dir>/fingerprints.json``) mapping a folder's absolute path to the size and
modification time of each of its model files and the fingerprint they gave; while the files are
unchanged, :func:`model_fingerprint` returns the remembered value instead of reading gigabytes again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedbench.errors import EmbedbenchError
from embedbench.io import file_sha256, read_manifest, write_json_atomic
from embedbench.paths import cache_dir

# Files whose bytes define a model's behaviour (weights, configs, tokenizer); README etc. excluded.
_FINGERPRINT_SUFFIXES = (".safetensors", ".bin", ".json", ".txt", ".model", ".onnx")
_FINGERPRINT_SKIP = {"README.md", "fingerprint.json", "embedbench.json", "manifest.json", "train_log.json"}

FileState = list[list[Any]]
"""``[relative path, size, mtime_ns]`` per model file, sorted by path."""


def model_files(folder: Path) -> list[Path]:
    """The files of ``folder`` a fingerprint covers (checkpoints and hidden folders left out)."""
    files = sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix in _FINGERPRINT_SUFFIXES and p.name not in _FINGERPRINT_SKIP
        and not any(part.startswith(("checkpoint-", ".")) for part in p.relative_to(folder).parts)
    )
    if not files:
        raise EmbedbenchError(f"{folder} holds no model files (expected config.json and weights)")
    return files


def file_state(folder: Path) -> FileState:
    """Size and modification time of each model file: what the cache compares to trust a stored hash."""
    return [[str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns] for p in model_files(folder)]


def folder_fingerprint(folder: Path, state: FileState) -> str:
    """Hash the model files listed in ``state`` (path and content of each); reads, never writes."""
    h = hashlib.sha256()
    for rel, _, _ in state:
        h.update(str(rel).encode())
        h.update(file_sha256(folder / str(rel)).encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class FingerprintCache:
    """Remembered fingerprints, one JSON file; each write replaces the file atomically."""

    path: Path

    @classmethod
    def default(cls) -> FingerprintCache:
        """The cache under embedbench's cache dir (``$EMBEDBENCH_CACHE``)."""
        return cls(cache_dir() / "fingerprints.json")

    def get(self, folder: Path, state: FileState) -> str | None:
        """The fingerprint stored for ``folder`` if its files still have ``state``, else None."""
        entry = (read_manifest(self.path) or {}).get(str(folder))
        return entry["fingerprint"] if entry and entry.get("state") == state else None

    def put(self, folder: Path, state: FileState, fingerprint: str) -> None:
        """Store ``fingerprint`` for ``folder`` with the file state it was computed from."""
        memo = read_manifest(self.path) or {}
        memo[str(folder)] = {"state": state, "fingerprint": fingerprint}
        write_json_atomic(self.path, memo)


def model_fingerprint(folder: str | Path, cache: FingerprintCache | None = None) -> str:
    """Content hash of a model folder, through ``cache`` (default: :meth:`FingerprintCache.default`).

    The files are hashed only when their size or modification time changed since the stored entry;
    a fresh hash is stored in the cache.
    """
    folder = Path(folder).resolve()
    cache = cache or FingerprintCache.default()
    state = file_state(folder)
    remembered = cache.get(folder, state)
    if remembered is not None:
        return remembered
    fingerprint = folder_fingerprint(folder, state)
    cache.put(folder, state, fingerprint)
    return fingerprint
