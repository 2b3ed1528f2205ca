"""Atomic writes, content hashing and manifests shared by every step."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from embedbench.errors import EmbedbenchError

TRACKED_PACKAGES = (
    "embedbench",
    "torch",
    "sentence-transformers",
    "transformers",
    "datasets",
    "mteb",
    "faiss-cpu",
    "polars",
    "numpy",
)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A crash or exception inside the block leaves ``path`` untouched (old content or absent).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp creates 0600; give the file the usual umask-based mode
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically (datetimes and paths become strings)."""
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def write_parquet_atomic(df: Any, path: str | Path) -> Path:
    """Write a Polars frame to Parquet atomically."""
    with atomic_path(path) as tmp:
        df.write_parquet(tmp)
    return Path(path)


def sha256_text(text: str) -> str:
    """Hex SHA-256 of a UTF-8 string."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def tree_sha256(root: str | Path, patterns: tuple[str, ...] = ("*",)) -> str:
    """Hash of every file under ``root`` matching ``patterns`` (relative path + content), order-independent."""
    root = Path(root)
    h = hashlib.sha256()
    files = sorted({p for pat in patterns for p in root.rglob(pat) if p.is_file()})
    for p in files:
        h.update(str(p.relative_to(root)).encode())
        h.update(file_sha256(p).encode())
    return h.hexdigest()


def config_hash(obj: Any) -> str:
    """Stable hash of a JSON-serialisable configuration (keys sorted)."""
    return sha256_text(json.dumps(obj, sort_keys=True, default=str))[:16]


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed versions of the packages that decide a result (None when not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def provenance() -> dict[str, Any]:
    """Fields every manifest and result carries: date, versions, machine."""
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "python": platform.python_version(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
    }


def read_json(path: str | Path, *, missing: str, fix: str = "") -> Any:
    """Parse a JSON file; a missing file or malformed JSON raises ``EmbedbenchError`` naming the place.

    Args:
        path: the file.
        missing: what to say when the file does not exist (e.g. "no such results file; run ...").
        fix: appended to the malformed-JSON message (how to repair it).
    """
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EmbedbenchError(f"{path}: {missing}") from None
    except json.JSONDecodeError as exc:
        raise EmbedbenchError(
            f"{path}, line {exc.lineno}, column {exc.colno}: malformed JSON ({exc.msg})" + (f"; {fix}" if fix else "")
        ) from None


def read_manifest(path: str | Path) -> dict[str, Any] | None:
    """The manifest at ``path``, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def is_up_to_date(manifest_path: str | Path, inputs_hash: str, cfg_hash: str) -> bool:
    """True when a step's manifest records the same input and config hashes (the step can be skipped)."""
    m = read_manifest(manifest_path)
    return m is not None and m.get("inputs_hash") == inputs_hash and m.get("config_hash") == cfg_hash
