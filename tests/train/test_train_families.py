"""Every loss family trains a few steps on the tiny model, and its loss goes down on a repeated batch."""

from __future__ import annotations

import json

import pytest

from embedbench.train.run import train

# (loss, shape, loss_options, extra [train] keys)
FAMILIES = [
    ("MultipleNegativesRankingLoss", "pairs", {}, {}),
    ("MultipleNegativesRankingLoss", "triplets", {}, {}),
    ("MultipleNegativesRankingLoss", "n-tuples", {}, {}),
    ("MultipleNegativesSymmetricRankingLoss", "pairs", {}, {}),
    ("CachedMultipleNegativesRankingLoss", "pairs", {"mini_batch_size": 4}, {}),
    ("GISTEmbedLoss", "pairs", {"guide": "tiny"}, {}),
    ("CoSENTLoss", "scored", {}, {}),
    ("AnglELoss", "scored", {}, {}),
    ("CosineSimilarityLoss", "scored", {}, {}),
    ("SoftmaxLoss", "pair-class", {}, {}),
    ("ContrastiveLoss", "binary-pairs", {}, {}),
    ("OnlineContrastiveLoss", "binary-pairs", {}, {}),
    ("BatchAllTripletLoss", "labelled", {}, {}),
    ("BatchHardTripletLoss", "labelled", {}, {}),
    ("BatchSemiHardTripletLoss", "labelled", {}, {}),
    ("TripletLoss", "triplets", {"distance_metric": "COSINE", "triplet_margin": 0.5}, {}),
    ("MultipleNegativesRankingLoss", "pairs", {}, {"matryoshka_dims": [32, 16, 8]}),
    ("CoSENTLoss", "scored", {}, {"adaptive_layers": True}),
    ("MultipleNegativesRankingLoss", "pairs", {}, {"matryoshka_dims": [32, 16], "adaptive_layers": True}),
]


@pytest.mark.parametrize(
    ("loss", "shape", "options", "extra"),
    FAMILIES,
    ids=[f"{f[0]}-{f[1]}" + ("-" + "-".join(f[3]) if f[3] else "") for f in FAMILIES],
)
def test_loss_goes_down_on_a_repeated_batch(make_config, toy, loss, shape, options, extra):
    cfg = make_config({"d": toy(shape)}, losses={"d": loss}, options={"d": options}, max_steps=5, **extra)
    result = train(cfg)
    assert not result.skipped and result.steps == 5
    assert len(result.losses) == 5
    assert result.losses[-1] < result.losses[0], result.losses
    manifest = json.loads((cfg.run_dir / "manifest.json").read_text())
    assert manifest["datasets"]["d"]["loss"] == loss
    assert manifest["datasets"]["d"]["shape"] == shape


@pytest.mark.parametrize(
    ("shape", "loss", "sampler"),
    [
        ("pairs", "MultipleNegativesRankingLoss", "no_duplicates"),
        ("triplets", "MultipleNegativesRankingLoss", "no_duplicates"),
        ("n-tuples", "MultipleNegativesRankingLoss", "no_duplicates"),
        ("scored", "CoSENTLoss", "batch_sampler"),
        ("binary-pairs", "OnlineContrastiveLoss", "batch_sampler"),
        ("pair-class", "SoftmaxLoss", "batch_sampler"),
        ("labelled", "BatchAllTripletLoss", "group_by_label"),
    ],
)
def test_loss_and_sampler_are_chosen_from_the_shape(toy, shape, loss, sampler):
    from embedbench.data.shapes import detect_shape
    from embedbench.train.columns import check_columns
    from embedbench.train.losses import choose_loss, spec_for

    frame = toy(shape)
    detected = detect_shape(frame.columns)
    assert detected is not None and detected.name == shape
    assert choose_loss(shape) == loss
    assert spec_for(loss).sampler == sampler
    checked = check_columns(frame, loss=loss, shapes=spec_for(loss).shapes, where="toy")
    assert checked.frame.columns == list(detected.columns)
