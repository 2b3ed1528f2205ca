"""The rest of the loss catalogue: each loss trains a few steps on the tiny model, and rejects a wrong shape first.

The teacher labels here are fixed numbers (the prep teacher step, tested in tests/prep/test_teacher.py,
computes real ones); what is tested is that each loss takes the columns and labels it documents.
"""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

from embedbench.errors import EmbedbenchError
from embedbench.train.losses import LOSSES
from embedbench.train.plan import plan_training
from embedbench.train.run import train


def with_teacher(frame: pl.DataFrame, label: str, dim: int = 32) -> pl.DataFrame:
    """``frame`` plus a teacher label column of the kind ``label`` (seeded numbers of the right shape)."""
    rng = np.random.default_rng(0)
    texts = [c for c in frame.columns if c in ("text", "anchor", "positive", "negative") or c.startswith("negative_")]
    negatives = len(texts) - 2
    n = frame.height
    if label == "teacher_margin":
        values = rng.uniform(0.05, 0.4, size=(n, negatives))
        col = pl.Series(label, values[:, 0] if negatives == 1 else values.tolist())
    elif label == "teacher_scores":
        pos = rng.uniform(0.6, 0.9, size=(n, 1))
        col = pl.Series(label, np.hstack([pos, pos - rng.uniform(0.1, 0.5, size=(n, negatives))]).tolist())
    else:
        emb = rng.normal(size=(n, len(texts), dim)).astype(np.float32)
        col = pl.Series(label, (emb / np.linalg.norm(emb, axis=-1, keepdims=True)).tolist())
    return frame.with_columns(col)


# (loss, shape, teacher label column or None, loss_options, extra [train] keys)
CATALOGUE = [
    ("MarginMSELoss", "triplets", "teacher_margin", {}, {}),
    ("MarginMSELoss", "n-tuples", "teacher_margin", {}, {}),
    ("DistillKLDivLoss", "n-tuples", "teacher_scores", {}, {}),
    ("MSELoss", "texts", "teacher_embedding", {}, {}),
    ("EmbedDistillLoss", "pairs", "teacher_embedding", {}, {}),
    ("CachedGISTEmbedLoss", "triplets", None, {"guide": "tiny", "mini_batch_size": 4}, {}),
    ("CachedMultipleNegativesSymmetricRankingLoss", "pairs", None, {"mini_batch_size": 4}, {}),
    ("MegaBatchMarginLoss", "pairs", None, {"mini_batch_size": 4}, {}),
    ("BatchHardSoftMarginTripletLoss", "labelled", None, {}, {}),
    ("GlobalOrthogonalRegularizationLoss", "pairs", None, {}, {}),
    ("InfoNCEGORLoss", "pairs", None, {}, {}),
    ("AnglELoss", "triplets", None, {}, {}),
    ("AnglELoss", "n-tuples", None, {}, {}),
    ("ContrastiveTensionLoss", "texts", None, {"pos_neg_ratio": 4}, {}),
    ("ContrastiveTensionLossInBatchNegatives", "texts", None, {}, {}),
    ("DenoisingAutoEncoderLoss", "texts", None, {}, {}),
]


@pytest.mark.parametrize(
    ("loss", "shape", "label", "options", "extra"), CATALOGUE, ids=[f"{c[0]}-{c[1]}" for c in CATALOGUE]
)
def test_each_catalogue_loss_trains_a_few_steps(make_config, toy, loss, shape, label, options, extra):
    frame = toy(shape)
    if label is not None:
        frame = with_teacher(frame, label, dim=48 if loss == "EmbedDistillLoss" else 32)
    cfg = make_config({"d": frame}, losses={"d": loss}, options={"d": options}, max_steps=2, **extra)
    result = train(cfg)
    assert not result.skipped and result.steps == 2
    assert len(result.losses) == 2 and all(math.isfinite(x) for x in result.losses), result.losses
    manifest = json.loads((cfg.run_dir / "manifest.json").read_text())
    assert manifest["datasets"]["d"]["loss"] == loss
    assert manifest["datasets"]["d"]["sampler"] == LOSSES[loss].sampler


@pytest.mark.parametrize(
    ("loss", "frame_shape", "label"),
    [
        ("MarginMSELoss", "pairs", None),  # needs negatives
        ("MarginMSELoss", "triplets", None),  # needs its teacher_margin column
        ("DistillKLDivLoss", "triplets", "teacher_margin"),  # a number per row, scores need a list
        ("MSELoss", "scored", None),
        ("ContrastiveTensionLoss", "pairs", None),
        ("DenoisingAutoEncoderLoss", "labelled", None),
        ("BatchHardSoftMarginTripletLoss", "texts", None),
        ("MegaBatchMarginLoss", "triplets", None),
        ("AnglELoss", "pairs", None),
    ],
)
def test_wrong_shape_or_label_fails_before_a_model_loads(make_config, toy, monkeypatch, loss, frame_shape, label):
    import embedbench.models as models

    def no_load(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(models, "load_model", no_load)
    frame = toy(frame_shape)
    if label is not None:
        frame = with_teacher(frame, label)
    cfg = make_config({"d": frame}, losses={"d": loss})
    with pytest.raises(EmbedbenchError) as err:
        plan_training(cfg)
    text = str(err.value)
    assert "d.parquet" in text and loss in text


def test_label_length_mismatch_names_the_row(make_config, toy):
    frame = with_teacher(toy("n-tuples"), "teacher_scores")
    bad = frame["teacher_scores"].to_list()
    bad[4] = bad[4][:2]
    cfg = make_config({"d": frame.with_columns(pl.Series("teacher_scores", bad))}, losses={"d": "DistillKLDivLoss"})
    with pytest.raises(EmbedbenchError, match=r"row 5, column 'teacher_scores' has 2 values; .* needs 3"):
        plan_training(cfg)


def test_single_texts_become_the_pairs_each_unsupervised_loss_takes(make_config, toy):
    cfg = make_config(
        {"ct": toy("texts"), "dae": toy("texts")},
        losses={"ct": "ContrastiveTensionLoss", "dae": "DenoisingAutoEncoderLoss"},
        options={"ct": {"pos_neg_ratio": 4}},
    )
    ct, dae = plan_training(cfg).datasets
    same = ct.frame.filter(pl.col("text1") == pl.col("text2")).height
    assert same == math.ceil(ct.frame.height / 4) and set(ct.frame["text1"]) <= set(toy("texts")["text"])
    assert dae.frame.columns == ["damaged", "original"] and dae.frame["original"].to_list() == toy("texts")["text"].to_list()
    for damaged, original in dae.frame.iter_rows():
        words = original.split()
        assert 1 <= len(damaged.split()) <= len(words) and set(damaged.split()) <= set(words)
