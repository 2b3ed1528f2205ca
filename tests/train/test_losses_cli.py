"""``embedbench losses``: the catalogue table and, per prepared set, the losses that fit and the one chosen."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from embedbench.cli import app
from embedbench.errors import EXIT_BAD_INPUT
from embedbench.train.catalogue import catalogue, set_fits
from embedbench.train.losses import LOSSES

runner = CliRunner()

CONFIG = """
[prep]
output_dir = "prepared"
[prep.sets.tri]
train = [{ kind = "beir", path = "scifact", split = "train" }]
[prep.sets.scored]
train = [{ kind = "stsb", path = "stsbenchmark", split = "train" }]
[prep.sets.missing]
train = [{ kind = "stsb", path = "stsbenchmark", split = "train" }]

[train]
[[train.datasets]]
name = "tri"
set = "tri"
loss = "MarginMSELoss"
[[train.datasets]]
name = "scored"
set = "scored"
"""


def write(tmp_path: Path) -> Path:
    for name, frame in {
        "tri": pl.DataFrame({"anchor": ["a"], "positive": ["p"], "negative": ["n"], "teacher_margin": [0.1]}),
        "scored": pl.DataFrame({"sentence1": ["a"], "sentence2": ["b"], "score": [0.5]}),
    }.items():
        (tmp_path / "prepared" / name).mkdir(parents=True)
        frame.write_parquet(tmp_path / "prepared" / name / "train.parquet")
    path = tmp_path / "bench.toml"
    path.write_text(CONFIG)
    return path


def test_catalogue_lists_every_loss_with_its_sampler():
    rows = {r.loss: r for r in catalogue()}
    assert set(rows) == set(LOSSES)
    assert rows["MarginMSELoss"].labels.startswith("teacher_margin")
    assert rows["BatchHardSoftMarginTripletLoss"].sampler == "group_by_label"
    assert rows["CachedGISTEmbedLoss"].sampler == "no_duplicates"
    assert "texts (text)" in rows["DenoisingAutoEncoderLoss"].inputs


def test_set_fits_reads_columns_and_names_the_chosen_loss(tmp_path):
    fits = {f.set: f for f in set_fits(write(tmp_path))}
    tri = fits["tri"]
    assert tri.shape == "triplets" and tri.chosen == "MarginMSELoss" and "named" in tri.why
    assert "MarginMSELoss" in tri.fits and "DistillKLDivLoss" not in tri.fits  # no teacher_scores column
    assert fits["scored"].chosen == "CoSENTLoss" and set(fits["scored"].fits) == {
        "CoSENTLoss", "AnglELoss", "CosineSimilarityLoss"
    }
    assert fits["missing"].chosen is None and "embedbench prep" in fits["missing"].why


def test_losses_command_prints_both_tables(tmp_path):
    result = runner.invoke(app, ["losses", "--config", str(write(tmp_path))])
    assert result.exit_code == 0, result.output
    for text in ("MarginMSELoss (named in [train.datasets]", "no_duplicates", "CoSENTLoss (chosen", "not prepared yet"):
        assert text in result.output


def test_losses_command_on_a_broken_config_is_one_error_line(tmp_path):
    bad = tmp_path / "bench.toml"
    bad.write_text("[prep\n")
    result = runner.invoke(app, ["losses", "--config", str(bad)])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "error:" in result.output and "bench.toml" in result.output
