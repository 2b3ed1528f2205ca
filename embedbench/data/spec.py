"""Declarative sources: a ``SourceSpec`` (one entry of a set's ``train``/``dev``/``test`` list in bench.toml) and ``read_source``.

The same table is every eval task's ``source`` (``embedbench tasks`` lists them), so whatever prep can
read, eval can evaluate.

Example (TOML)::

    [prep.sets.nli]
    # relative paths that do not exist here are looked up in the data folder (embedbench.paths.data_dir)
    train = [{ kind = "snli", path = "snli", split = "dev", output = "triplets" }]

    # a delimited file with its own header, 1-5 scores, and a column marking each row's split
    [prep.sets.my-sts]
    train = [{ kind = "table", path = "my/sts.csv", output = "scored", split = "train", split_column = "set", columns = { sentence1 = "left", sentence2 = "right", score = "rating" }, score_range = [1, 5] }]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from embedbench.data import hub
from embedbench.data.beir import BeirData, beir_pairs, read_beir, require_known
from embedbench.data.common import require_unique
from embedbench.data.labelled import labelled_pairs, labelled_triplets, read_labelled
from embedbench.data.mrpc import mrpc_positive_pairs, read_mrpc
from embedbench.data.shapes import CORPUS, PAIR_CLASS_INT, QRELS, QUERIES, SHAPES, Schema, check_schema
from embedbench.data.snli import read_snli, snli_entailment_pairs, snli_triplets
from embedbench.data.sts import read_sts_gold, read_stsb
from embedbench.data.table import Filters, conform, read_frame, read_table, select_rows
from embedbench.errors import EmbedbenchError
from embedbench.paths import data_dir

Kind = Literal["beir", "stsb", "sts", "snli", "mrpc", "labelled", "table", "hub"]
Output = Literal["pairs", "triplets", "scored", "pair-class", "labelled", "texts"]

OUTPUTS: dict[str, tuple[str, ...]] = {
    "beir": ("pairs",),
    "stsb": ("scored",),
    "sts": ("scored",),
    "snli": ("pair-class", "pairs", "triplets"),
    "mrpc": ("pairs", "pair-class"),
    "labelled": ("labelled", "pairs", "triplets"),
    "table": tuple(SHAPES),
    "hub": tuple(SHAPES),
}
"""Outputs each kind can produce; the first is the default (table and hub need ``output``)."""

FILE_IN_FOLDER = {"stsb": "sts-{split}.csv", "mrpc": "msr_paraphrase_{split}.txt", "labelled": "{split}.csv"}
"""When ``path`` is a folder, the file of ``split`` inside it (the layout of the shared data copies)."""


class SourceSpec(BaseModel):
    """One source of a prepared set: what to read (``kind``, ``path``, ``split``) and which shape to produce."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    kind: Kind
    """The reader: beir, stsb, sts (an STS12-16 year folder), snli, mrpc, labelled, table (any file), hub."""
    path: str
    """File or folder (hub: the dataset name). Relative paths not found here are looked up in ``data_dir()``."""
    split: str | None = None
    """The split: a file in a folder layout, a key of a JSON object of splits, or the value of `split_column`."""
    output: Output | None = None
    """The shape to produce (table and hub need it; each kind has a default)."""
    columns: dict[str, str | int] = {}
    """Target column -> source column (table, hub; labelled: ``text`` and ``label``); an int is a position from 1."""
    subset: str | None = None
    """hub: the dataset's configuration name."""
    format: Literal["csv", "tsv", "json", "jsonl", "parquet"] | None = None
    """Table format (default: the file suffix, before ``.gz``)."""
    header: bool = True
    """CSV/TSV: the first line names the columns; false: columns are positions ``1``, ``2``, ..."""
    field: str | None = None
    """JSON: the top-level key holding the rows (or the object of splits)."""
    where: dict[str, str | int | float | bool | list[str | int | float | bool]] = {}
    """Keep rows whose column holds the value (or one of the values); file columns for tables, else output columns."""
    split_column: str | None = None
    """A column naming each row's split; ``split`` picks the rows kept."""
    score_max: float = 1.0
    """Scored shapes: the file's top score (the scale is [0, score_max]); or use score_range."""
    score_range: tuple[float, float] | None = None
    """The file's score scale ``[lo, hi]`` (scored shapes): scores outside raise, then map to [0, 1]."""
    labels: str | list[str] | None = None
    """Allowed labels (labelled): a list, or a JSON file holding one (e.g. ``banking77/categories.json``)."""
    seed: int = 0
    """labelled -> pairs/triplets: the seed that draws partners."""
    min_score: int = 1
    """beir -> pairs: the lowest qrels grade that counts as relevant."""
    limit: int | None = Field(None, ge=1)
    """Keep only the first ``limit`` rows (quick and CI profiles)."""

    @field_validator("path", "labels", mode="before")
    @classmethod
    def _path_text(cls, v: object) -> object:
        return str(v) if isinstance(v, Path) else v

    @model_validator(mode="after")
    def _check(self) -> SourceSpec:
        allowed = OUTPUTS[self.kind]
        if self.output is not None and self.output not in allowed:
            raise ValueError(
                f"output {self.output!r} is not available for kind {self.kind!r}; allowed: {list(allowed)}"
            )
        if self.output is None and self.kind in ("table", "hub"):
            raise ValueError(f"kind {self.kind!r} needs `output`, one of {list(allowed)}")
        if self.split is None and self.kind in ("beir", "snli"):
            raise ValueError(f"kind {self.kind!r} needs `split` (e.g. 'test', 'dev')")
        if self.score_max <= 0:
            raise ValueError(f"score_max must be positive, got {self.score_max}")
        if self.score_range is not None:
            lo, hi = self.score_range
            if not lo < hi:
                raise ValueError(f"score_range must be [lo, hi] with lo < hi, got {list(self.score_range)}")
            if self.score_max != 1.0:
                raise ValueError("set score_range or score_max, not both")
        if self.split_column is not None and self.split is None:
            raise ValueError(f"split_column {self.split_column!r} needs `split`: the value of the rows to keep")
        return self

    @property
    def filters(self) -> Filters:
        """The ``where`` filters."""
        return self.where

    @property
    def shape(self) -> str:
        """The output shape (the kind's default when ``output`` is not set)."""
        return self.output or OUTPUTS[self.kind][0]


def resolve_path(path: str | Path) -> Path:
    """``path`` as given when it is absolute or exists (or is a link, even a broken one, so that the reader
    can say what is wrong with it); else the same relative path under ``data_dir()``."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists() or p.is_symlink():
        return p
    return data_dir() / p


def _file(spec: SourceSpec) -> tuple[Path, str | None]:
    """The file to read and the split left to select inside it (None when the folder layout chose the file)."""
    path = resolve_path(spec.path)
    if path.is_dir() and spec.kind in FILE_IN_FOLDER:
        if spec.split is None:
            raise EmbedbenchError(f"{path} is a folder: set the source's `split` or point `path` at a file")
        return path / FILE_IN_FOLDER[spec.kind].format(split=spec.split), None
    return path, spec.split


def source_files(spec: SourceSpec) -> list[Path]:
    """The files (or folders) ``spec`` reads, for content hashes (empty for the hub)."""
    path = resolve_path(spec.path)
    if spec.kind == "hub":
        return []
    if spec.kind == "beir":
        return [path / "corpus.jsonl", path / "queries.jsonl", path / "qrels" / f"{spec.split}.tsv"]
    if spec.kind == "snli":
        return [path / f"{stem}.{spec.split}" for stem in ("s1", "s2", "labels")]
    if spec.kind in FILE_IN_FOLDER or spec.kind == "table":
        return [_file(spec)[0]]
    return [path]


def table_options(spec: SourceSpec, split: str | None) -> dict[str, object]:
    """The keyword arguments of :func:`embedbench.data.table.read_table` that ``spec`` sets."""
    return {
        "fmt": spec.format, "header": spec.header, "field": spec.field, "split": split,
        "filters": spec.filters, "split_column": spec.split_column,
    }


def label_list(spec: SourceSpec) -> list[str] | None:
    """The source's allowed labels (``labels``: a list, or a JSON file holding one), in their order; None if unset."""
    if spec.labels is None or isinstance(spec.labels, list):
        return spec.labels
    path = resolve_path(spec.labels)
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise EmbedbenchError(
            f"{path}: cannot read the label list ({exc}); expected a JSON list of strings"
        ) from None
    if not (isinstance(labels, list) and all(isinstance(x, str) for x in labels)):
        raise EmbedbenchError(f"{path}: expected a JSON list of label strings")
    return labels


def read_source(spec: SourceSpec, dropped: list[pl.DataFrame] | None = None) -> pl.DataFrame:
    """Read ``spec`` into its output shape (required columns first, provenance columns after).

    Rows a reader skips (SNLI ``-`` labels, unscored STS pairs) are appended to ``dropped`` with a ``reason``.
    """
    shape = spec.shape
    if spec.kind == "beir":
        df = beir_pairs(read_beir(resolve_path(spec.path), spec.split or ""), min_score=spec.min_score)
    elif spec.kind == "stsb":
        df = read_stsb(_file(spec)[0])
    elif spec.kind == "sts":
        df = read_sts_gold(resolve_path(spec.path), dropped)
    elif spec.kind == "snli":
        df = read_snli(resolve_path(spec.path), spec.split or "", dropped)
        df = {"pairs": snli_entailment_pairs, "triplets": snli_triplets}.get(shape, lambda d: d)(df)
    elif spec.kind == "mrpc":
        df = read_mrpc(_file(spec)[0])
        if shape == "pairs":
            df = mrpc_positive_pairs(df)
        else:
            df = df.rename({"sentence1": "premise", "sentence2": "hypothesis"})
            check_schema(df, PAIR_CLASS_INT, spec.path)
    elif spec.kind == "labelled":
        text, label = str(spec.columns.get("text", "text")), str(spec.columns.get("label", "category"))
        path, split = _file(spec)
        df = read_labelled(path, text, label, labels=label_list(spec), **table_options(spec, split))
        if shape != "labelled":
            df = (labelled_pairs if shape == "pairs" else labelled_triplets)(df, seed=spec.seed)
    elif spec.kind == "table":
        path, split = _file(spec)
        df = read_table(
            path, spec.columns, shape, score_max=spec.score_max, score_range=spec.score_range,
            **table_options(spec, split),  # type: ignore[arg-type]
        )
    else:
        frame = hub.load_hub(spec.path, spec.subset, spec.split or "train")
        frame = frame.with_row_index("row", offset=1).with_columns(pl.col("row").cast(pl.Int64))
        hub_path = Path(f"hub:{spec.path}")
        frame = select_rows(frame, hub_path, spec.filters)
        df = conform(frame, spec.columns, shape, hub_path, score_max=spec.score_max, score_range=spec.score_range)
    if spec.kind not in ("table", "hub") and not (spec.kind == "mrpc" and shape == "pair-class"):
        check_schema(df, SHAPES[shape], f"{spec.kind}:{spec.path}")  # table/hub: checked by conform
    if spec.where and spec.kind not in ("table", "labelled", "hub"):
        df = select_rows(df, resolve_path(spec.path), spec.filters)  # on the reader's output columns
    return df.head(spec.limit) if spec.limit is not None else df


def read_schema(spec: SourceSpec, schema: Schema, defaults: dict[str, str] | None = None) -> pl.DataFrame:
    """A table source read into ``schema`` (not one of the shapes: e.g. BEIR's corpus, queries, qrels).

    ``defaults`` fills a target column the file lacks and the mapping does not name (e.g. an empty ``title``).
    """
    path, split = _file(spec)
    df = read_frame(path, spec.format, header=spec.header, field=spec.field, split=None if spec.split_column else split)
    df = select_rows(df, path, spec.filters, spec.split_column, spec.split if spec.split_column else None)
    for column, value in (defaults or {}).items():
        if column not in spec.columns and column not in df.columns:
            df = df.with_columns(pl.lit(value).alias(column))
    return conform(df, spec.columns, schema, path)


def read_retrieval_tables(queries: SourceSpec, corpus: SourceSpec, qrels: SourceSpec) -> BeirData:
    """A (queries, corpus, qrels) trio of tables as BEIR data: columns ``query_id, text``; ``doc_id, text``
    (``title`` optional); ``query_id, doc_id, score`` (integer grades), each mapped by its ``columns``.

    Ids must be unique and every judged id known; queries are limited to the judged ones.
    """
    paths = {name: _file(s)[0] for name, s in (("queries", queries), ("corpus", corpus), ("qrels", qrels))}
    q = read_schema(queries, QUERIES)
    c = read_schema(corpus, CORPUS, {"title": ""})
    j = read_schema(qrels, QRELS)
    require_unique(q.with_columns(pl.col("query_id").alias(str(queries.columns.get("query_id", "query_id")))),
                   str(queries.columns.get("query_id", "query_id")), paths["queries"])
    require_unique(c.with_columns(pl.col("doc_id").alias(str(corpus.columns.get("doc_id", "doc_id")))),
                   str(corpus.columns.get("doc_id", "doc_id")), paths["corpus"])
    for column, known, other in (("query_id", q, "queries"), ("doc_id", c, "corpus")):
        label = str(qrels.columns.get(column, column))
        require_known(j, column, known, paths["qrels"], paths[other], label)
    judged = j.select("query_id").unique()
    q = q.join(judged, on="query_id", how="semi", maintain_order="left")
    return BeirData(corpus=c, queries=q, qrels=j, split=qrels.split or "test")
