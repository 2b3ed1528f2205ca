"""Loss/column mismatches and bad configs fail before any model loads, with a message naming the fix."""

from __future__ import annotations

import polars as pl
import pytest

from embedbench.errors import EmbedbenchError
from embedbench.train.config import load_train_config, parse_train_config
from embedbench.train.plan import plan_training


@pytest.fixture(autouse=True)
def no_model_loads(monkeypatch):
    """Any attempt to resolve or load a model fails the test: checks must come first."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model was resolved or loaded before the column check")

    import embedbench.models

    monkeypatch.setattr(embedbench.models, "resolve", refuse)
    monkeypatch.setattr(embedbench.models, "load_model", refuse)
    monkeypatch.setattr(embedbench.models, "load_resolved", refuse)


# (loss, shape given, expected columns text, found columns text)
MISMATCHES = [
    ("MultipleNegativesRankingLoss", "scored", "(anchor, positive) [pairs]", "(sentence1, sentence2, score)"),
    ("CachedMultipleNegativesRankingLoss", "labelled", "(anchor, positive) [pairs]", "(text, label)"),
    ("GISTEmbedLoss", "binary-pairs", "(anchor, positive, negative) [triplets]", "(sentence1, sentence2, label)"),
    ("MultipleNegativesSymmetricRankingLoss", "triplets", "(anchor, positive) [pairs]", "(anchor, positive, negative)"),
    ("TripletLoss", "pairs", "(anchor, positive, negative) [triplets]", "(anchor, positive, query_id)"),
    ("TripletLoss", "n-tuples", "(anchor, positive, negative) [triplets]", "negative_1, negative_2"),
    ("CoSENTLoss", "triplets", "(sentence1, sentence2, score) [scored]", "(anchor, positive, negative)"),
    ("AnglELoss", "binary-pairs", "(sentence1, sentence2, score) [scored]", "(sentence1, sentence2, label)"),
    ("CosineSimilarityLoss", "pair-class", "(sentence1, sentence2, score) [scored]", "(premise, hypothesis, label)"),
    ("SoftmaxLoss", "labelled", "(premise, hypothesis, label) [pair-class]", "(text, label)"),
    ("ContrastiveLoss", "scored", "(sentence1, sentence2, label) [binary-pairs]", "(sentence1, sentence2, score)"),
    ("OnlineContrastiveLoss", "pair-class", "(sentence1, sentence2, label) [binary-pairs]", "(premise, hypothesis"),
    ("BatchAllTripletLoss", "pairs", "(text, label) [labelled]", "(anchor, positive, query_id)"),
    ("BatchHardTripletLoss", "scored", "(text, label) [labelled]", "(sentence1, sentence2, score)"),
    ("BatchSemiHardTripletLoss", "pair-class", "(text, label) [labelled]", "(premise, hypothesis, label)"),
]


@pytest.mark.parametrize(("loss", "shape", "expected", "found"), MISMATCHES, ids=[f"{m[0]}-{m[1]}" for m in MISMATCHES])
def test_mismatch_names_loss_expected_and_found_columns(make_config, toy, loss, shape, expected, found):
    cfg = make_config({"d": toy(shape)}, losses={"d": loss})
    with pytest.raises(EmbedbenchError) as err:
        plan_training(cfg)
    msg = str(err.value)
    assert f"loss {loss} expects columns" in msg
    assert expected in msg
    assert found in msg
    assert "d.parquet" in msg


@pytest.mark.parametrize(
    ("loss", "frame", "fragment"),
    [
        ("CoSENTLoss", pl.DataFrame({"sentence1": ["a"], "sentence2": ["b"], "score": ["high"]}),
         "score column is String, expected a number"),
        ("SoftmaxLoss", pl.DataFrame({"premise": ["a"], "hypothesis": ["b"], "label": [0.5]}),
         "label column is Float64, expected strings or integers"),
        ("OnlineContrastiveLoss", pl.DataFrame({"sentence1": ["a"], "sentence2": ["b"], "label": [1.0]}),
         "label column is Float64, expected integers 0/1"),
        ("BatchHardTripletLoss", pl.DataFrame({"text": ["a"], "label": [1.5]}),
         "label column is Float64, expected strings or integers"),
        ("MultipleNegativesRankingLoss", pl.DataFrame({"anchor": ["a"], "positive": [3]}),
         "text column 'positive' is Int64, expected String"),
    ],
)
def test_wrong_dtype_is_a_mismatch(make_config, loss, frame, fragment):
    cfg = make_config({"d": frame}, losses={"d": loss})
    with pytest.raises(EmbedbenchError, match=f"loss {loss} expects columns") as err:
        plan_training(cfg)
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    ("loss", "frame", "fragment"),
    [
        ("ContrastiveLoss", pl.DataFrame({"sentence1": ["a", "c"], "sentence2": ["b", "d"], "label": [1, 2]}),
         "row 2, column 'label' is 2; loss ContrastiveLoss needs labels 0 or 1"),
        ("CosineSimilarityLoss", pl.DataFrame({"sentence1": ["a", "c"], "sentence2": ["b", "d"], "score": [0.5, 4.0]}),
         "row 2, column 'score' is 4.0; loss CosineSimilarityLoss needs scores in [-1.0, 1.0]"),
        ("MultipleNegativesRankingLoss", pl.DataFrame({"anchor": ["a", "b", None], "positive": ["x", "y", "z"]}),
         "row 3, column 'anchor' is empty (null)"),
        ("BatchAllTripletLoss", pl.DataFrame({"text": ["a", "b"], "label": [1, -1]}),
         "row 2, column 'label' is -1; class ids must be >= 0"),
    ],
)
def test_bad_values_name_the_row(make_config, loss, frame, fragment):
    cfg = make_config({"d": frame}, losses={"d": loss})
    with pytest.raises(EmbedbenchError) as err:
        plan_training(cfg)
    assert fragment in str(err.value)
    assert "d.parquet" in str(err.value)


def test_unknown_shape_without_a_loss_lists_the_shapes(make_config):
    cfg = make_config({"d": pl.DataFrame({"question": ["a"], "answer": ["b"]})})
    with pytest.raises(EmbedbenchError, match=r"cannot choose a loss for columns \(question, answer\)") as err:
        plan_training(cfg)
    assert "pairs: (anchor, positive)" in str(err.value) and "labelled: (text, label)" in str(err.value)


def test_unknown_loss_option_lists_the_allowed_ones(make_config, toy):
    cfg = make_config({"d": toy("pairs")}, losses={"d": "MultipleNegativesRankingLoss"}, options={"d": {"temperature": 2}})
    with pytest.raises(EmbedbenchError, match="has no option.s. temperature; allowed: scale, similarity_fct") as err:
        plan_training(cfg)
    assert "directions" in str(err.value)


def test_wrapper_around_softmax_is_refused(make_config, toy):
    cfg = make_config({"d": toy("pair-class")}, matryoshka_dims=[16, 8])
    with pytest.raises(EmbedbenchError, match="cannot wrap SoftmaxLoss"):
        plan_training(cfg)


def test_group_by_label_needs_an_even_batch_of_at_least_four(make_config, toy):
    cfg = make_config({"d": toy("labelled")}, batch_size=5)
    with pytest.raises(EmbedbenchError, match="BatchAllTripletLoss .* needs an even batch_size >= 4"):
        plan_training(cfg)


def test_missing_dataset_says_to_run_prep(tmp_path):
    cfg = parse_train_config({"datasets": [{"name": "x", "set": "scifact"}]}, source=tmp_path / "bench.toml")
    with pytest.raises(EmbedbenchError, match="run `embedbench prep` first") as err:
        plan_training(cfg)
    assert str(tmp_path / "data" / "prepared" / "scifact" / "train.parquet") in str(err.value)


@pytest.mark.parametrize(
    ("train", "fragment"),
    [
        ({"datasets": [{"name": "a", "set": "s", "loss": "MNRL"}]}, "unknown loss 'MNRL'; allowed: MultipleNegativesRankingLoss"),
        ({"datasets": [{"name": "a", "set": "s", "path": "x.parquet"}]}, "give exactly one of `set`"),
        ({"datasets": [{"name": "a", "set": "s"}], "batch_size": 1}, "train.batch_size"),
        ({"datasets": [{"name": "a", "set": "s"}], "precision": "fp8"}, "train.precision: Input should be 'auto', 'fp32', 'fp16' or 'bf16'"),
        ({"datasets": [{"name": "a", "set": "s"}], "epoch": 2}, "train.epoch: unknown key (got 2); allowed keys at train"),
        ({"datasets": [{"name": "a", "set": "s"}, {"name": "a", "set": "t"}]}, "dataset names must be unique"),
        ({"datasets": [{"name": "a", "set": "s"}], "matryoshka_dims": [8, 8]}, "distinct positive integers"),
        ({}, "[train] needs at least one dataset"),
        ({"datasets": [{"name": "train", "set": "s"}]}, "dataset name(s) ['train'] are reserved"),
    ],
)
def test_config_errors_name_the_key(tmp_path, train, fragment):
    with pytest.raises(EmbedbenchError) as err:
        parse_train_config(train, source=tmp_path / "bench.toml")
    assert fragment in str(err.value)


def test_config_file_paths_resolve_against_its_folder(tmp_path):
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "bench.toml").write_text(
        '[train]\nrun = "r1"\n[[train.datasets]]\nname = "a"\npath = "d/train.parquet"\n'
        '[[train.datasets]]\nname = "b"\nset = "nli"\n[train.eval]\ncorpus = "c.parquet"\n'
    )
    cfg = load_train_config(tmp_path / "exp" / "bench.toml")
    root = tmp_path / "exp"
    assert cfg.dataset_file(cfg.datasets[0]) == root / "d" / "train.parquet"
    assert cfg.dataset_file(cfg.datasets[1]) == root / "data" / "prepared" / "nli" / "train.parquet"
    assert cfg.eval_file() == root / "d" / "dev.parquet"
    assert cfg.eval is not None and cfg.eval.corpus == root / "c.parquet"
    assert cfg.run_dir == root / "models" / "r1"
