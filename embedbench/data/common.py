"""Shared reading helpers: decoding with exact error places, line frames, field splitting, typed casts.

Line-oriented sources (tab-separated files without quoting, JSON lines) are read as a frame of
``row`` (1-based line number) and ``line``; fields are then split with Polars expressions. This keeps
exact line numbers in every error and makes quoting a non-issue (quotes are ordinary characters).
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import zlib
from collections.abc import Callable
from pathlib import Path

import polars as pl

from embedbench.errors import EmbedbenchError

ROW = "row"
SOURCE = "source"


def plain_suffix(path: Path) -> str:
    """The file's format suffix, lower case, without a trailing ``.gz`` (``x.csv.gz`` -> ``.csv``)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def record_unit(path: Path) -> str:
    """What a file's records are called in messages: ``row`` for Parquet and JSON (no line per record), else ``line``."""
    return "row" if plain_suffix(path) in (".parquet", ".json") else "line"


def where(path: Path, row: int | None = None, column: str | None = None) -> str:
    """``file, line N, column 'c'`` for error messages (``row N`` for Parquet, which has no lines)."""
    out = str(path)
    if row is not None:
        out += f", {record_unit(path)} {row}"
    if column is not None:
        out += f", column '{column}'"
    return out


def require_file(path: str | Path, what: str) -> Path:
    """Return ``path`` as a Path; raise naming ``what`` it should hold when it is not a readable file.

    A folder, a symbolic link that loops and a missing file each get their own message.
    """
    path = Path(path)
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise EmbedbenchError(
                f"{path}: symbolic link loop (the link points back at itself); expected {what}. "
                "Point the path at the real file"
            ) from None
        raise EmbedbenchError(f"{path}: file not found; expected {what}. Check the path") from None
    if path.is_dir():
        raise EmbedbenchError(f"{path}: is a folder, not a file; expected {what}. Point the path at the file")
    if not path.is_file():
        raise EmbedbenchError(f"{path}: not a regular file; expected {what}")
    return path


def read_bytes(path: Path) -> bytes:
    """The bytes of ``path``, decompressed when its name ends in ``.gz``; a corrupt gzip file raises."""
    data = path.read_bytes()
    if path.suffix.lower() != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise EmbedbenchError(
            f"{path}: not a readable gzip file ({exc}); recompress it with `gzip` or drop the .gz suffix"
        ) from None


def decode(path: Path, *, lossy: bool = False, what: str = "text") -> str:
    """Read ``path`` as UTF-8 (a leading byte-order mark is removed; ``.gz`` files are decompressed first).

    Undecodable bytes raise ``EmbedbenchError`` with line and byte position, unless ``lossy`` is set,
    in which case they become U+FFFD. An empty file raises.
    """
    data = read_bytes(path)
    if not data.strip():
        raise EmbedbenchError(f"{path}: file is empty; expected {what}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if lossy:
            return data.decode("utf-8-sig", errors="replace")
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise EmbedbenchError(
            f"{path}, line {line}, byte {col}: not valid UTF-8 ({exc.reason}, byte 0x{data[exc.start]:02x}); "
            "re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT`"
        ) from None


def read_lines(path: Path, *, lossy: bool = False, what: str = "text") -> pl.DataFrame:
    """Frame of ``row`` (1-based line number, Int64) and ``line`` (without its ``\\n`` or ``\\r\\n``)."""
    text = decode(path, lossy=lossy, what=what)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return (
        pl.DataFrame({"line": lines}, schema={"line": pl.String})
        .with_row_index(ROW, offset=1)
        .with_columns(pl.col(ROW).cast(pl.Int64), pl.col("line").str.strip_suffix("\r"))
    )


def split_fields(
    lines: pl.DataFrame, path: Path, names: list[str], *, max_fields: int | None = None
) -> pl.DataFrame:
    """Split each ``line`` on tabs into ``names`` (plus ``row``); a line with too few or too many fields raises.

    ``max_fields`` allows trailing fields beyond ``names`` (they are ignored); default: exactly ``len(names)``.
    """
    hi = max_fields or len(names)
    parts = pl.col("line").str.split("\t")
    counted = lines.with_columns(parts.alias("_f"), parts.list.len().alias("_n"))
    bad = counted.filter(~pl.col("_n").is_between(len(names), hi))
    if bad.height:
        first = bad.row(0, named=True)
        expected = f"{len(names)}" if hi == len(names) else f"{len(names)} to {hi}"
        raise EmbedbenchError(
            f"{where(path, first[ROW])}: expected {expected} tab-separated fields ({', '.join(names)}), "
            f"got {first['_n']} in {first['line'][:80]!r}"
            + (f" ({bad.height - 1} more such lines)" if bad.height > 1 else "")
            + "; fix or remove the line (fields must be separated by single tabs)"
        )
    return counted.select(ROW, *[pl.col("_f").list.get(i).alias(name) for i, name in enumerate(names)])


def raise_first_bad(bad: pl.DataFrame, path: Path, column: str, problem: Callable[[dict], str], fix: str) -> None:
    """If ``bad`` has rows, raise naming the first one's line (``row``), ``column``, the problem and the fix."""
    if bad.height:
        first = bad.row(0, named=True)
        raise EmbedbenchError(
            f"{where(path, first.get(ROW), column)}: {problem(first)}"
            + (f" ({bad.height - 1} more such {record_unit(path)}s)" if bad.height > 1 else "")
            + f"; {fix}"
        )


def cast_column(
    df: pl.DataFrame,
    column: str,
    dtype: pl.DataType | type[pl.DataType],
    path: Path,
    expected: str,
    label: str | None = None,
) -> pl.DataFrame:
    """Cast ``column`` to ``dtype``; a value that does not parse raises naming its line, value and ``label``
    (the column's name in the file; default ``column``)."""
    stripped = pl.col(column).str.strip_chars() if df.schema[column] == pl.String else pl.col(column)
    cast = stripped.cast(dtype, strict=False)
    bad = df.filter(cast.is_null() & pl.col(column).is_not_null())
    raise_first_bad(
        bad, path, label or column, lambda r: f"expected {expected}, got {r[column]!r}", "fix the value or remove the row"
    )
    return df.with_columns(cast.alias(column))


def require_not_null(
    df: pl.DataFrame, columns: list[str], path: Path, fix: str = "fill it or remove the row"
) -> None:
    """Raise naming the first row (``row`` column) whose value in one of ``columns`` is null."""
    for column in columns:
        raise_first_bad(df.filter(pl.col(column).is_null()), path, column, lambda r: "value is missing", fix)


def require_range(
    df: pl.DataFrame, column: str, lo: float, hi: float, path: Path, label: str | None = None
) -> None:
    """Raise naming the first row whose ``column`` lies outside ``[lo, hi]`` (``label``: the column's name in the file)."""
    bad = df.filter(~pl.col(column).is_between(lo, hi))
    raise_first_bad(
        bad, path, label or column, lambda r: f"expected a value in [{lo:g}, {hi:g}], got {r[column]!r}",
        "check that the file uses this scale",
    )


def require_unique(df: pl.DataFrame, column: str, path: Path) -> None:
    """Raise naming the lines of the first value of ``column`` that occurs more than once."""
    dup = df.filter(pl.col(column).is_duplicated())
    if dup.height:
        value = dup.item(0, column)
        rows = dup.filter(pl.col(column) == value)[ROW].to_list()
        n_ids = dup[column].n_unique()
        raise EmbedbenchError(
            f"{where(path, rows[0], column)}: id {value!r} occurs on lines {rows}"
            + (f" ({n_ids - 1} more duplicated ids)" if n_ids > 1 else "")
            + "; ids must be unique, remove or rename the duplicates"
        )


def parse_jsonl(
    path: Path, schema: dict[str, pl.DataType | type[pl.DataType]] | None = None, what: str = "JSON lines"
) -> pl.DataFrame:
    """Read a JSON-lines file into ``schema``'s fields (inferred when None) plus ``row`` (1-based line number).

    Blank lines are skipped and extra keys ignored; a line that is not a JSON object raises naming the
    file and line.
    """
    lines = read_lines(path, what=what).filter(pl.col("line").str.strip_chars() != "")
    df = None
    try:
        if schema is not None:
            df = lines.select(ROW, pl.col("line").str.json_decode(pl.Struct(schema)).alias("_j")).unnest("_j")
        else:
            body = "\n".join(lines["line"]).encode()
            df = pl.read_ndjson(io.BytesIO(body), infer_schema_length=None).insert_column(0, lines[ROW])
    except pl.exceptions.PolarsError:
        pass
    if df is not None:
        # Polars turns an object or array into its JSON text in a string column: look at those lines again
        texts = [c for c, t in df.schema.items() if t == pl.String]
        suspect = pl.any_horizontal(pl.col(c).str.starts_with("{") | pl.col(c).str.starts_with("[") for c in texts)
        rows = set(df.filter(suspect)[ROW].to_list()) if texts else set()
        if not rows:
            return df
        lines = lines.filter(pl.col(ROW).is_in(rows))
    for row, line in lines.iter_rows():  # only on failure: find the offending line for the message
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EmbedbenchError(
                f"{where(path, row)}: malformed JSON ({exc.msg} at character {exc.pos + 1}); "
                "each line must be one JSON object"
            ) from None
        if not isinstance(obj, dict):
            raise EmbedbenchError(
                f"{where(path, row)}: expected a JSON object {{...}}, got {type(obj).__name__}; "
                "each line must be one JSON object"
            )
        for key, value in obj.items():
            if (schema is None or key in schema) and isinstance(value, dict | list):
                raise EmbedbenchError(
                    f"{where(path, row, key)}: expected a plain value, got a JSON {type(value).__name__}; "
                    "fix the value"
                )
    if df is not None:
        return df
    raise EmbedbenchError(f"{path}: could not read as JSON lines (one object per line, plain values)")


def drop_rows(df: pl.DataFrame, reason: str, dropped: list[pl.DataFrame] | None) -> None:
    """Append ``df`` with a ``reason`` column to ``dropped`` (when a list is given and ``df`` is not empty)."""
    if dropped is not None and df.height:
        dropped.append(df.with_columns(pl.lit(reason).alias("reason")))
