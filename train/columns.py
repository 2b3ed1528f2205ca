"""Does a dataset fit its loss? The column and value checks that run before a model loads.

A prepared Parquet file is recognised by its column names (the shape vocabulary,
``embedbench.data.shapes``); each loss accepts some shapes (``train.losses``). Other columns
(provenance such as ``query_id``, ``row``) are not fed to the loss. String labels are mapped to
integers in sorted order, and the mapping is returned so the run can record it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from embedbench.data.shapes import SHAPE_COLUMNS, Shape, detect_shape
from embedbench.errors import EmbedbenchError


@dataclass(frozen=True)
class CheckedData:
    """A dataset that fits its loss: the frame with only the loss's columns, labels as integers."""

    frame: pl.DataFrame
    shape: Shape
    ignored_columns: tuple[str, ...] = ()
    label_map: dict[str, int] = field(default_factory=dict)

    @property
    def num_labels(self) -> int:
        """Number of classes (for SoftmaxLoss): mapped labels, or the largest integer label + 1."""
        if self.label_map:
            return len(self.label_map)
        if self.shape.target == "label" and self.frame.height:
            return int(self.frame["label"].max()) + 1  # type: ignore[arg-type]
        return 0


def expected_columns(shapes: tuple[str, ...]) -> str:
    """Human-readable list of acceptable column sets, e.g. ``(sentence1, sentence2, score) [scored]``."""
    return " or ".join(f"({', '.join(SHAPE_COLUMNS[s])}) [{s}]" for s in shapes)


def _mismatch(loss: str, shapes: tuple[str, ...], found: list[str], where: str, why: str = "") -> EmbedbenchError:
    detail = f": {why}" if why else ""
    return EmbedbenchError(
        f"{where}: loss {loss} expects columns {expected_columns(shapes)}; "
        f"found columns ({', '.join(found)}){detail}. "
        f"Pick a loss that fits these columns, or prepare the data in the expected shape."
    )


def _first_null_row(frame: pl.DataFrame, column: str) -> int:
    return int(frame.select(pl.col(column).is_null().arg_max()).item()) + 1


def check_columns(frame: pl.DataFrame, *, loss: str, shapes: tuple[str, ...], where: str) -> CheckedData:
    """Check that ``frame`` fits a loss accepting ``shapes``; return it reduced to the loss's columns.

    Fails with ``EmbedbenchError`` naming ``where`` (file), the loss, the expected and the found columns,
    and for bad values the 1-based row. Label columns are checked by type: ``binary-pairs`` need 0/1
    integers, ``pair-class`` and ``labelled`` take strings (mapped to ints in sorted order) or integers >= 0.
    """
    found = list(frame.columns)
    shape = detect_shape(found)
    if shape is None or shape.name not in shapes:
        raise _mismatch(loss, shapes, found, where)
    for col in shape.texts:
        dtype = frame.schema[col]
        if dtype != pl.String:
            raise _mismatch(loss, shapes, found, where, f"text column {col!r} is {dtype}, expected String")
        if frame[col].null_count():
            raise EmbedbenchError(
                f"{where}: row {_first_null_row(frame, col)}, column {col!r} is empty (null); "
                "drop or fill such rows in prep"
            )
    if frame.height == 0:
        raise EmbedbenchError(f"{where}: no rows to train on")
    out = frame.select(shape.columns)
    label_map: dict[str, int] = {}
    if shape.target is not None:
        target = shape.target
        if frame[target].null_count():
            raise EmbedbenchError(
                f"{where}: row {_first_null_row(frame, target)}, column {target!r} is empty (null)"
            )
        out, label_map = _check_target(out, shape, loss=loss, shapes=shapes, found=found, where=where)
    ignored = tuple(c for c in found if c not in shape.columns)
    return CheckedData(out, shape, ignored, label_map)


def _check_target(
    frame: pl.DataFrame, shape: Shape, *, loss: str, shapes: tuple[str, ...], found: list[str], where: str
) -> tuple[pl.DataFrame, dict[str, int]]:
    col = str(shape.target)
    dtype = frame.schema[col]
    if shape.name == "scored":
        if not dtype.is_numeric():
            raise _mismatch(loss, shapes, found, where, f"score column is {dtype}, expected a number")
        return frame.with_columns(pl.col(col).cast(pl.Float64)), {}
    if dtype == pl.Boolean:
        frame = frame.with_columns(pl.col(col).cast(pl.Int64))
        dtype = pl.Int64()
    if shape.name == "binary-pairs":
        if not dtype.is_integer():
            raise _mismatch(loss, shapes, found, where, f"label column is {dtype}, expected integers 0/1")
        bad = frame.with_row_index("row", offset=1).filter(~pl.col(col).is_in([0, 1]))
        if bad.height:
            raise EmbedbenchError(
                f"{where}: row {bad['row'][0]}, column 'label' is {bad[col][0]}; loss {loss} needs labels 0 or 1"
            )
        return frame.with_columns(pl.col(col).cast(pl.Int64)), {}
    if dtype == pl.String or dtype == pl.Categorical:
        values = sorted(frame[col].cast(pl.String).unique().to_list())
        mapping = {v: i for i, v in enumerate(values)}
        mapped = frame.with_columns(pl.col(col).cast(pl.String).replace_strict(mapping, return_dtype=pl.Int64))
        return mapped, mapping
    if dtype.is_integer():
        negative = frame.with_row_index("row", offset=1).filter(pl.col(col) < 0)
        if negative.height:
            raise EmbedbenchError(
                f"{where}: row {negative['row'][0]}, column 'label' is {negative[col][0]}; class ids must be >= 0"
            )
        return frame.with_columns(pl.col(col).cast(pl.Int64)), {}
    raise _mismatch(loss, shapes, found, where, f"label column is {dtype}, expected strings or integers")


def read_dataset(path: Path) -> pl.DataFrame:
    """Read a prepared Parquet file; a missing file says which step produces it."""
    if not path.is_file():
        raise EmbedbenchError(f"{path}: dataset not found; run `embedbench prep` first or fix the path in [train]")
    try:
        return pl.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any read failure is a bad file
        raise EmbedbenchError(f"{path}: not a readable Parquet file: {exc}") from exc


def _list_lengths(frame: pl.DataFrame, col: str) -> pl.DataFrame:
    return frame.select(pl.col(col).list.len().alias("n")).with_row_index("row", offset=1)


def check_label(
    frame: pl.DataFrame, shape: Shape, label: str, *, loss: str, where: str
) -> tuple[pl.Series, int | None]:
    """Check a teacher label column against the shape; return it (named ``label``) and its embedding width.

    ``teacher_margin``: a number per triplet, a list of n margins per n-tuple; ``teacher_scores``: a list
    of 1 + n scores (positive first); ``teacher_embedding``: a list of one embedding per text column (or a
    single embedding shared by every column), all of one width. Lists are ``List`` or ``Array`` columns.
    """
    hint = f"run the prep teacher step (teacher = {{ outputs = [\"{label.removeprefix('teacher_')}\"] }})"
    if label not in frame.columns:
        raise EmbedbenchError(
            f"{where}: loss {loss} reads its labels from column {label!r}, which is missing "
            f"(found {', '.join(frame.columns)}); {hint}"
        )
    col = frame[label]
    if col.null_count():
        raise EmbedbenchError(f"{where}: row {_first_null_row(frame, label)}, column {label!r} is empty (null); {hint}")
    if isinstance(col.dtype, pl.Array):
        col = col.cast(pl.List(col.dtype.inner))  # type: ignore[union-attr]
    negatives = len(shape.texts) - 2
    dtype = col.dtype
    inner = dtype.inner if isinstance(dtype, pl.List) else None  # type: ignore[union-attr]

    def bad_length(expected: int) -> None:
        lengths = _list_lengths(col.to_frame(), label)
        wrong = lengths.filter(pl.col("n") != expected)
        if wrong.height:
            raise EmbedbenchError(
                f"{where}: row {wrong['row'][0]}, column {label!r} has {wrong['n'][0]} values; loss {loss} on "
                f"{shape.name} ({', '.join(shape.texts)}) needs {expected}"
            )

    if label == "teacher_margin":
        if dtype.is_numeric() and negatives == 1:
            return col.cast(pl.Float64).alias("label"), None
        if inner is not None and inner.is_numeric():
            bad_length(negatives)
            return col.cast(pl.List(pl.Float64)).alias("label"), None
        raise EmbedbenchError(
            f"{where}: column {label!r} is {dtype}; loss {loss} needs a number per triplet or a list of "
            f"{negatives} numbers per n-tuple"
        )
    if label == "teacher_scores":
        if inner is None or not inner.is_numeric():
            raise EmbedbenchError(f"{where}: column {label!r} is {dtype}; loss {loss} needs a list of numbers per row")
        bad_length(negatives + 1)
        return col.cast(pl.List(pl.Float64)).alias("label"), None
    # teacher_embedding: List(Float) (shared by every column) or List(List(Float)) (one per column)
    if inner is not None and inner.is_numeric():
        widths = col.list.len()
        if widths.n_unique() != 1:
            raise EmbedbenchError(f"{where}: column {label!r} holds embeddings of different widths {sorted(widths.unique())}")
        return col.cast(pl.List(pl.Float32)).alias("label"), int(widths[0])
    if isinstance(inner, pl.Array):
        col = col.cast(pl.List(pl.List(inner.inner)))  # type: ignore[union-attr]
        inner = col.dtype.inner  # type: ignore[union-attr]
    if isinstance(inner, pl.List) and inner.inner.is_numeric():  # type: ignore[union-attr]
        bad_length(len(shape.texts))
        widths = col.explode().list.len()
        if widths.n_unique() != 1:
            raise EmbedbenchError(f"{where}: column {label!r} holds embeddings of different widths {sorted(widths.unique())}")
        return col.cast(pl.List(pl.List(pl.Float32))).alias("label"), int(widths[0])
    raise EmbedbenchError(
        f"{where}: column {label!r} is {dtype}; loss {loss} needs one embedding (a list of numbers) per text column"
    )
