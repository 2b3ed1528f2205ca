"""Writing a prepared set: every file into a temporary folder, then one swap onto ``<output_dir>/<set>``.

A failure anywhere before the swap leaves the previous output untouched (or absent); the manifest is
written last inside the temporary folder, so a folder with a manifest is always complete.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from embedbench.io import make_temp_dir, record_outputs, write_json_atomic, write_parquet_atomic

SPLITS = ("train", "dev", "test")


def write_set(
    out_dir: Path,
    splits: dict[str, pl.DataFrame],
    dropped: pl.DataFrame,
    manifest: dict[str, Any],
    extra: Callable[[Path], dict[str, Any]] | None = None,
) -> dict[str, str]:
    """Write ``{split}.parquet`` (non-empty splits), ``dropped.parquet`` and ``manifest.json`` atomically.

    The manifest's ``outputs`` lists every other file with its size and SHA-256.

    ``extra(tmp_dir)`` may write more files (e.g. mined negatives) and returns entries for the manifest's
    ``files``. Returns the written file names by role.
    """
    tmp = make_temp_dir(out_dir)
    try:
        files: dict[str, Any] = {}
        for split in SPLITS:
            frame = splits.get(split)
            if frame is not None and frame.height:
                write_parquet_atomic(frame, tmp / f"{split}.parquet")
                files[split] = f"{split}.parquet"
        write_parquet_atomic(dropped, tmp / "dropped.parquet")
        files["dropped"] = "dropped.parquet"
        if extra is not None:
            files.update(extra(tmp))
        outputs = record_outputs(tmp)  # size and hash of every file: the skip check verifies them
        write_json_atomic(tmp / "manifest.json", {**manifest, "files": files, "outputs": outputs})
        _swap(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return files


def _swap(new: Path, target: Path) -> None:
    """Put folder ``new`` at ``target``, replacing what was there (rename, rename, delete)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(target, old)
    try:
        os.replace(new, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
