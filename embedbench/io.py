"""Atomic writes, content hashing and manifests shared by every step."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
import time
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
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp creates 0600; give the file the usual umask-based mode
            os.chmod(tmp_path, 0o666 & ~current_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def current_umask() -> int:
    """The process's umask (read without changing it for longer than one call)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def make_temp_dir(target: str | Path) -> Path:
    """A new empty folder beside ``target`` to build it in (``.<name>.<pid>.<random>.tmp``), with the
    usual mode: ``tempfile.mkdtemp`` makes it 0700, which a rename onto ``target`` would keep."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o777 & ~current_umask())
    return tmp


def temp_prefix(name: str) -> str:
    """Prefix of our temporary files and folders for ``name``: ``.<name>.<pid>.``, so a later run can
    tell the leftovers of a killed process (its pid is gone) from the work of a running one."""
    return f".{name}.{os.getpid()}."


_TEMP = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)\.)?[A-Za-z0-9_]{8}\.tmp$")
_OLD_SWAP = re.compile(r"^\.(?P<name>.+)\.old-(?P<pid>\d+)$")
LEGACY_TEMP_AGE_S = 3600.0
"""A temporary file without a pid in its name (older embedbench) is removed once it is this old."""


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_temps(folder: str | Path, *, recursive: bool = False) -> list[Path]:
    """Remove the temporary files and folders of our own naming that a killed run left in ``folder``.

    Only names :func:`atomic_path`, :func:`make_temp_dir` and a folder swap make are touched
    (``.<name>.<pid>.<random>.tmp``, ``.<name>.old-<pid>``), and only when that process is gone;
    returns what was removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    candidates = folder.rglob(".*") if recursive else folder.glob(".*")
    for path in sorted(candidates):
        m = _TEMP.match(path.name) or _OLD_SWAP.match(path.name)
        if m is None or not path.exists():
            continue
        pid = m.group("pid")
        if pid is not None and _alive(int(pid)):
            continue
        if pid is None and time.time() - path.lstat().st_mtime < LEGACY_TEMP_AGE_S:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def check_output_dir(path: str | Path, what: str) -> Path:
    """Fail before any work when ``path`` cannot be a folder we write into; ``what`` names the setting.

    ``path`` may be missing (it is made later), but it must not be a file, nor lie under a file, nor
    under a folder we may not write.
    """
    path = Path(path)
    probe = path
    while not probe.exists() and probe.parent != probe:
        if probe.is_symlink():
            raise EmbedbenchError(f"{what} {path}: {probe} is a broken symbolic link; remove it or choose another folder")
        probe = probe.parent
    if not probe.is_dir():
        where = "is a file" if probe == path else f"lies under {probe}, which is a file"
        raise EmbedbenchError(f"{what} {path} {where}, expected a folder; remove it or choose another folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise EmbedbenchError(f"{what} {path}: cannot write in {probe} (permission denied); choose another folder")
    return path


def check_output_file(path: str | Path, what: str) -> Path:
    """Fail before any work when ``path`` cannot be written as a file (a folder there, or no folder for it)."""
    path = Path(path)
    if path.is_dir():
        raise EmbedbenchError(f"{what} {path} is a folder, expected a file name; choose another name")
    check_output_dir(path.parent, f"{what} {path}: its folder")
    return path


def file_record(path: str | Path) -> dict[str, Any]:
    """Size and SHA-256 of a file, as a manifest records an output (``{"bytes", "sha256"}``)."""
    path = Path(path)
    return {"bytes": path.stat().st_size, "sha256": file_sha256(path)}


def record_outputs(folder: str | Path, *, skip: tuple[str, ...] = ("manifest.json",)) -> dict[str, dict[str, Any]]:
    """Every file under ``folder`` (relative path -> size and hash), for a manifest to list what it wrote."""
    folder = Path(folder)
    return {
        p.relative_to(folder).as_posix(): file_record(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).as_posix() not in skip
    }


def outputs_problem(folder: str | Path, recorded: Any) -> str | None:
    """Why the outputs a manifest lists no longer hold (missing, other size, other hash), or None.

    A manifest that lists no outputs (written before they were recorded) is a problem too: it cannot
    be verified, so the step is rebuilt once.
    """
    folder = Path(folder)
    if not isinstance(recorded, dict) or not recorded:
        return "its manifest lists no output hashes (written by an older embedbench)"
    for name, rec in recorded.items():
        path = folder / name
        if not path.is_file():
            return f"{path} is missing"
        size = path.stat().st_size
        if not isinstance(rec, dict) or size != rec.get("bytes"):
            return f"{path} has {size} bytes, {rec.get('bytes') if isinstance(rec, dict) else '?'} were written"
        if file_sha256(path) != rec.get("sha256"):
            return f"{path} changed since it was written (its hash differs)"
    return None


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
