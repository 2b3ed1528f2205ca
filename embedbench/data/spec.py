"""Declarative sources: a ``SourceSpec`` (one entry of a set's ``train``/``dev``/``test`` list in bench.toml) and ``read_source``.

Example (TOML)::

    [prep.sets.nli]
    # relative paths that do not exist here are looked up in the data folder (embedbench.paths.data_dir)
    train = [{ kind = "snli", path = "snli", split = "dev", output = "triplets" }]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from embedbench.data import hub
from embedbench.data.beir import beir_pairs, read_beir
from embedbench.data.labelled import labelled_pairs, labelled_triplets, read_labelled
from embedbench.data.mrpc import mrpc_positive_pairs, read_mrpc
from embedbench.data.shapes import PAIR_CLASS_INT, SHAPES, check_schema
from embedbench.data.snli import read_snli, snli_entailment_pairs, snli_triplets
from embedbench.data.sts import read_sts_gold, read_stsb
from embedbench.data.table import conform, read_table
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

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind
    path: str
    """File or folder (hub: the dataset name). Relative paths not found here are looked up in ``data_dir()``."""
    split: str | None = None
    output: Output | None = None
    columns: dict[str, str] = {}
    """Target column -> source column (table, hub; labelled: ``text`` and ``label``)."""
    subset: str | None = None
    format: Literal["csv", "tsv", "jsonl", "parquet"] | None = None
    score_max: float = 1.0
    labels: str | list[str] | None = None
    """Allowed labels (labelled): a list, or a JSON file holding one (e.g. ``banking77/categories.json``)."""
    seed: int = 0
    min_score: int = 1
    limit: int | None = Field(None, ge=1)
    """Keep only the first ``limit`` rows (quick and CI profiles)."""

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
        return self

    @property
    def shape(self) -> str:
        """The output shape (the kind's default when ``output`` is not set)."""
        return self.output or OUTPUTS[self.kind][0]


def resolve_path(path: str | Path) -> Path:
    """``path`` as given when it is absolute or exists; else the same relative path under ``data_dir()``."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    return data_dir() / p


def _file(spec: SourceSpec) -> Path:
    path = resolve_path(spec.path)
    if path.is_dir() and spec.kind in FILE_IN_FOLDER:
        if spec.split is None:
            raise EmbedbenchError(f"{path} is a folder: set the source's `split` or point `path` at a file")
        path = path / FILE_IN_FOLDER[spec.kind].format(split=spec.split)
    return path


def _labels(spec: SourceSpec) -> list[str] | None:
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
        df = read_stsb(_file(spec))
    elif spec.kind == "sts":
        df = read_sts_gold(resolve_path(spec.path), dropped)
    elif spec.kind == "snli":
        df = read_snli(resolve_path(spec.path), spec.split or "", dropped)
        df = {"pairs": snli_entailment_pairs, "triplets": snli_triplets}.get(shape, lambda d: d)(df)
    elif spec.kind == "mrpc":
        df = read_mrpc(_file(spec))
        if shape == "pairs":
            df = mrpc_positive_pairs(df)
        else:
            df = df.rename({"sentence1": "premise", "sentence2": "hypothesis"})
            check_schema(df, PAIR_CLASS_INT, spec.path)
    elif spec.kind == "labelled":
        text, label = spec.columns.get("text", "text"), spec.columns.get("label", "category")
        df = read_labelled(_file(spec), text, label, labels=_labels(spec))
        if shape != "labelled":
            df = (labelled_pairs if shape == "pairs" else labelled_triplets)(df, seed=spec.seed)
    elif spec.kind == "table":
        df = read_table(_file(spec), spec.columns, shape, fmt=spec.format, score_max=spec.score_max)
    else:
        frame = hub.load_hub(spec.path, spec.subset, spec.split or "train")
        frame = frame.with_row_index("row", offset=1).with_columns(pl.col("row").cast(pl.Int64))
        df = conform(frame, spec.columns, shape, Path(f"hub:{spec.path}"), score_max=spec.score_max)
    if spec.kind not in ("table", "hub") and not (spec.kind == "mrpc" and shape == "pair-class"):
        check_schema(df, SHAPES[shape], f"{spec.kind}:{spec.path}")  # table/hub: checked by conform
    return df.head(spec.limit) if spec.limit is not None else df
