"""What a prepared set reads: its sources (one frame with ``split`` and marks), evaluation texts, the mining
corpus, and the content hashes that decide whether the set must be rebuilt.

Errors name the config key of the source (``prep.sets.<set>.train[0]``) in front of the reader's own
message (file, line, column, fix).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from embedbench.data.common import require_file
from embedbench.data.corpus import read_corpus_texts
from embedbench.data.spec import SourceSpec, read_source, resolve_path
from embedbench.errors import EmbedbenchError
from embedbench.io import file_sha256, tree_sha256
from embedbench.prep.marks import init_marks

ROLES = ("test", "dev", "train")
"""Order of the rows in a set's frame: evaluation rows first, so a train row duplicating one is dropped."""


def source_label(spec: SourceSpec) -> str:
    """Short name of a source: ``kind:path[:split]``."""
    return f"{spec.kind}:{spec.path}" + (f":{spec.split}" if spec.split else "")


def source_path(spec: SourceSpec, key: str) -> Path | None:
    """The resolved file or folder of ``spec`` (None for the hub); missing ones raise naming ``key``."""
    if spec.kind == "hub":
        return None
    path = resolve_path(spec.path)
    if not path.exists():
        if path.is_symlink():  # a link that loops or points nowhere: the reader's own message says which
            require_file(path, "a data file")
        raise EmbedbenchError(
            f"{key}.path: {spec.path!r} not found (looked at {path}); fix the path or put the data there "
            f"(relative paths are tried in the working directory, then in the data folder)"
        )
    return path


def describe_input(spec: SourceSpec, key: str) -> dict[str, Any]:
    """``{key, source, path, sha256}`` of one source; folders hash every file inside them."""
    path = source_path(spec, key)
    if path is None:
        return {"key": key, "source": source_label(spec), "path": spec.path, "sha256": None}
    return describe_path(path, key, source_label(spec))


def describe_path(path: Path, key: str, source: str) -> dict[str, Any]:
    """``{key, source, path, sha256}`` of an existing file or folder (a folder hashes every file inside it)."""
    digest = tree_sha256(path) if path.is_dir() else file_sha256(path)
    return {"key": key, "source": source, "path": str(path), "sha256": digest}


def read_one(spec: SourceSpec, key: str, dropped: list[pl.DataFrame]) -> pl.DataFrame:
    """Read one source; reader errors are prefixed with the config ``key``; reader drops go to ``dropped``."""
    source_path(spec, key)
    skipped: list[pl.DataFrame] = []
    try:
        frame = read_source(spec, skipped)
    except EmbedbenchError as exc:
        raise EmbedbenchError(f"{key} ({source_label(spec)}): {exc}") from None
    except (OSError, UnicodeError, pl.exceptions.PolarsError) as exc:
        raise EmbedbenchError(f"{key} ({source_label(spec)}): cannot read it: {exc}") from None
    label = source_label(spec)
    for d in skipped:
        dropped.append(d.with_columns(pl.lit(label).alias("source")) if "source" not in d.columns else d)
    if "source" not in frame.columns:
        frame = frame.with_columns(source=pl.lit(label))
    return frame


@dataclass(frozen=True)
class SetFrame:
    """All rows of a set, in one marked frame, and the rows the readers skipped."""

    frame: pl.DataFrame
    reader_dropped: pl.DataFrame | None


def read_set(name: str, specs: dict[str, list[SourceSpec]]) -> SetFrame:
    """Read every source of a set into one marked frame with ``split`` = test | dev | auto (train sources).

    Rows are ordered test, dev, train, so dedupe keeps evaluation rows over training rows.
    """
    frames: list[pl.DataFrame] = []
    dropped: list[pl.DataFrame] = []
    for role in ROLES:
        for i, spec in enumerate(specs.get(role, [])):
            frame = read_one(spec, f"prep.sets.{name}.{role}[{i}]", dropped)
            frames.append(frame.with_columns(split=pl.lit("auto" if role == "train" else role)))
    merged = pl.concat(frames, how="diagonal_relaxed")
    reader_dropped = pl.concat(dropped, how="diagonal_relaxed") if dropped else None
    if reader_dropped is not None:
        reader_dropped = reader_dropped.with_columns(stage=pl.lit("read"))
    return SetFrame(frame=init_marks(merged), reader_dropped=reader_dropped)


def corpus_path(value: str, key: str) -> Path:
    """The resolved file or folder of a configured corpus; a missing one raises naming ``key``."""
    path = resolve_path(value)
    if not path.exists():
        if path.is_symlink():
            require_file(path, "a corpus file")
        raise EmbedbenchError(
            f"{key}: {value!r} not found (looked at {path}); fix the path or put the corpus there "
            f"(relative paths are tried in the working directory, then in the data folder)"
        )
    return path


def read_mining_corpus(value: str, key: str) -> pl.Series:
    """Document texts of a configured corpus (:func:`embedbench.data.corpus.read_corpus_texts`), errors prefixed with ``key``."""
    path = corpus_path(value, key)
    try:
        return read_corpus_texts(path)
    except EmbedbenchError as exc:
        raise EmbedbenchError(f"{key}: {exc}") from None
