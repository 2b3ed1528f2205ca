"""The training side of a contamination audit: any training data, read into one table of texts.

Any of: a prepared set folder (its ``train.parquet``), a trained model's folder (the training files its
``manifest.json`` records), a CSV/TSV/JSONL/Parquet file, or a source spec as JSON
(``{"kind": "stsb", "path": "stsbenchmark", "split": "train"}``), all read through the one source spec
(:mod:`embedbench.data.spec`). :mod:`embedbench.evalsuite.contamination` matches the tasks' test texts
against what :func:`training_texts` returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import ValidationError

from embedbench.data.shapes import detect_shape
from embedbench.data.spec import OUTPUTS, SourceSpec, read_source, resolve_path
from embedbench.data.table import read_frame
from embedbench.errors import EmbedbenchError
from embedbench.io import file_sha256, read_manifest, tree_sha256
from embedbench.text import normalise_expr

TABLE_SHAPES = OUTPUTS["table"]
"""Shapes a data file can be read into through ``SourceSpec(kind="table")``."""



# -- the training side ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingTexts:
    """Every training text (normalised, unique, with where it first came from) and the files read."""

    texts: pl.DataFrame
    """``text, ref``: ``ref`` is ``<file or source>:<row>:<column>``."""
    files: list[dict[str, str]]
    """``{"path", "sha256"}`` of every file read (the audit's cache key)."""
    label: str


def _frame_texts(frame: pl.DataFrame, label: str, where: str) -> pl.DataFrame:
    """The text columns of a frame in a known shape, one row per text, ``ref`` = ``label:row:column``."""
    shape = detect_shape(frame.columns)
    if shape is None:
        raise EmbedbenchError(
            f"{where}: columns {frame.columns} are no known shape; expected e.g. anchor, positive "
            "(pairs), sentence1, sentence2, score (scored) or text, label (labelled)"
        )
    row = pl.col("row").cast(pl.String) if "row" in frame.columns else (pl.int_range(pl.len()) + 1).cast(pl.String)
    parts = [
        frame.select(pl.col(c).cast(pl.String).alias("text"), pl.format(f"{label}:{{}}:{c}", row).alias("ref"))
        for c in shape.texts
    ]
    return pl.concat(parts)


def _manifest_files(folder: Path, manifest: dict[str, Any]) -> list[tuple[str, Path]]:
    """``(label, file)`` of the training data a model's or a prepared set's manifest points at."""
    if manifest.get("step") == "train":
        inputs = manifest.get("inputs") or {}
        names = list(manifest.get("datasets") or {})
        files = []
        for name in names:
            entry = inputs.get(name)
            if not isinstance(entry, dict) or "path" not in entry:
                raise EmbedbenchError(
                    f"{folder / 'manifest.json'}: dataset {name!r} has no inputs.{name}.path; retrain the model "
                    "with this version of embedbench (`embedbench train --force`)"
                )
            path = Path(entry["path"])
            candidates = [path] if path.is_absolute() else [path, folder.parent.parent / path, folder / path]
            found = next((p for p in candidates if p.is_file()), None)
            if found is None:
                raise EmbedbenchError(
                    f"{folder / 'manifest.json'}: training file of dataset {name!r} not found (looked at "
                    f"{', '.join(map(str, candidates))}); rebuild it with `embedbench prep` or pass the data with --train"
                )
            files.append((name, found))
        if not files:
            raise EmbedbenchError(f"{folder / 'manifest.json'}: the training manifest lists no datasets")
        return files
    if "set" in manifest:
        path = folder / "train.parquet"
        if not path.is_file():
            raise EmbedbenchError(f"{path}: the prepared set has no train split; rebuild it with `embedbench prep`")
        return [(str(manifest["set"]), path)]
    raise EmbedbenchError(
        f"{folder / 'manifest.json'}: neither a prepared set's manifest (no 'set') nor a training run's "
        "(no step = 'train'); pass a set folder, a model folder, a data file or a source spec"
    )


def _spec(text: str) -> SourceSpec:
    try:
        return SourceSpec.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "spec"
        raise EmbedbenchError(
            f"--train {text!r}: {key}: {first['msg']}; expected a source spec such as "
            '{"kind": "stsb", "path": "stsbenchmark", "split": "train"}'
        ) from None


def training_texts(sources: Sequence[str | Path], *, shape: str | None = None) -> TrainingTexts:
    """Read every training source (see the module docstring) into one normalised, unique text frame.

    ``shape`` names the shape of a data file's columns (``pairs``, ``scored``...; default: found from
    the column names).
    """
    if not sources:
        raise EmbedbenchError("no training data: pass --train PATH (a set folder, a model folder, a file or a spec)")
    if shape is not None and shape not in TABLE_SHAPES:
        raise EmbedbenchError(f"--shape {shape!r}: unknown shape; use one of {list(TABLE_SHAPES)}")
    parts: list[pl.DataFrame] = []
    files: list[dict[str, str]] = []
    for source in sources:
        text = str(source)
        if text.lstrip().startswith("{"):
            spec = _spec(text)
            path = resolve_path(spec.path)
            if spec.kind != "hub" and not path.exists():
                raise EmbedbenchError(f"--train {text}: {spec.path!r} not found (looked at {path})")
            label = f"{spec.kind}:{spec.path}" + (f":{spec.split}" if spec.split else "")
            parts.append(_frame_texts(read_source(spec), label, label))
            digest = (tree_sha256(path) if path.is_dir() else file_sha256(path)) if path.exists() else text
            files.append({"path": label, "sha256": digest})
            continue
        path = resolve_path(text)
        if not path.exists():
            raise EmbedbenchError(
                f"--train {text}: not found (looked at {path}); pass a prepared set folder, a model folder, "
                "a CSV/TSV/JSONL/Parquet file or a source spec as JSON"
            )
        if path.is_dir():
            manifest = read_manifest(path / "manifest.json")
            if manifest is None:
                raise EmbedbenchError(
                    f"{path / 'manifest.json'}: missing or not valid JSON; expected a prepared set folder "
                    "(`embedbench prep`) or a trained model folder (`embedbench train`)"
                )
            for label, file in _manifest_files(path, manifest):
                parts.append(_frame_texts(read_frame(file), label, str(file)))
                files.append({"path": str(file), "sha256": file_sha256(file)})
            continue
        columns = read_frame(path).columns
        found = shape or (s.name if (s := detect_shape(columns)) else None)
        if found in TABLE_SHAPES:
            frame = read_source(SourceSpec(kind="table", path=str(path), output=found))  # type: ignore[arg-type]
        else:
            frame = read_frame(path)
        parts.append(_frame_texts(frame, path.name, str(path)))
        files.append({"path": str(path), "sha256": file_sha256(path)})
    texts = (
        pl.concat(parts)
        .with_columns(normalise_expr(pl.col("text")))
        .filter(pl.col("text").str.len_chars() > 0)
        .unique("text", keep="first", maintain_order=True)
    )
    return TrainingTexts(texts, files, ", ".join(map(str, sources)))
