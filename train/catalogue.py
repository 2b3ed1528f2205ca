"""The loss catalogue for people: what each loss takes, and which losses fit each prepared set of a config.

``catalogue()`` is the inputs/labels table of sentence-transformers' loss overview for the losses
embedbench trains (``train.losses.LOSSES``); ``set_fits(path)`` reads the column names of each prepared
set's train split (no rows, no model) and says which losses accept them, and which one training
uses: the loss ``[train.datasets]`` names for that set, else the one chosen from the shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from embedbench.config import PREPARED_DIR, Experiment
from embedbench.data.shapes import SHAPE_COLUMNS, detect_shape
from embedbench.train.losses import AUTO_LOSS, LOSSES, losses_for


@dataclass(frozen=True)
class CatalogueRow:
    """One loss: accepted shapes with their columns, the label it reads, its batch sampler."""

    loss: str
    inputs: str
    labels: str
    sampler: str


def catalogue() -> list[CatalogueRow]:
    """Every loss embedbench trains, in registry order."""
    rows = []
    for spec in LOSSES.values():
        inputs = "; ".join(f"{s} ({', '.join(SHAPE_COLUMNS[s])})" for s in spec.shapes)
        if spec.prepare == "ct-pairs":
            inputs += " -> pairs, 1 in pos_neg_ratio identical"
        elif spec.prepare == "tsdae":
            inputs += " -> (damaged, original), words deleted"
        rows.append(CatalogueRow(spec.name, inputs, spec.labels, spec.sampler))
    return rows


@dataclass(frozen=True)
class SetFit:
    """A prepared set's train split: its shape and columns, the losses that fit, the one training uses."""

    set: str
    file: Path
    shape: str | None
    columns: tuple[str, ...]
    fits: tuple[str, ...]
    chosen: str | None
    why: str


def set_fits(path: str | Path) -> list[SetFit]:
    """For each ``[prep.sets]`` entry of experiment file ``path``: which losses fit its train split."""
    exp = Experiment.load(path)
    prep = exp.prep or {}
    train = exp.train or {}
    prepared = exp.folder / str(train.get("prepared_dir") or prep.get("output_dir") or PREPARED_DIR)
    named = {d.get("set"): d for d in train.get("datasets", []) if isinstance(d, dict) and d.get("set")}
    out = []
    for name in prep.get("sets", {}):
        file = prepared / name / "train.parquet"
        if not file.is_file():
            out.append(SetFit(name, file, None, (), (), None, "not prepared yet: run `embedbench prep`"))
            continue
        columns = tuple(pl.read_parquet_schema(file))
        shape = detect_shape(list(columns))
        if shape is None:
            out.append(SetFit(name, file, None, columns, (), None, "no known shape"))
            continue
        fits = tuple(losses_for(shape.name, columns))
        spec = named.get(name)
        if spec is not None and spec.get("loss"):
            chosen, why = str(spec["loss"]), f"named in [train.datasets] {spec.get('name')!r}"
            if chosen not in fits:
                why += " (does NOT fit these columns)"
        elif spec is not None:
            chosen, why = AUTO_LOSS[shape.name], f"chosen from the shape for [train.datasets] {spec.get('name')!r}"
        else:
            chosen, why = AUTO_LOSS[shape.name], "default for the shape (not in [train.datasets])"
        out.append(SetFit(name, file, shape.name, columns, fits, chosen, why))
    return out
