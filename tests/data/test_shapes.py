"""The shape vocabulary: names, schema constants, detecting a frame's shape, check_schema messages, n-tuples."""

from __future__ import annotations

import polars as pl
import pytest

from embedbench.data.shapes import (
    BINARY_PAIR,
    LABELLED,
    PAIR,
    PAIR_CLASS,
    SCORED,
    SHAPE_COLUMNS,
    SHAPE_NAMES,
    SHAPES,
    TRIPLET,
    check_schema,
    detect_shape,
    empty_frame,
    ntuple,
    select_schema,
)
from embedbench.errors import EmbedbenchError


def test_column_order_follows_sentence_transformers():
    assert list(PAIR) == ["anchor", "positive"]
    assert list(TRIPLET) == ["anchor", "positive", "negative"]
    assert list(SCORED) == ["sentence1", "sentence2", "score"]
    assert list(PAIR_CLASS) == ["premise", "hypothesis", "label"]
    assert list(LABELLED) == ["text", "label"]
    assert set(SHAPES) == {"pairs", "triplets", "scored", "pair-class", "labelled", "texts"}


def test_extra_columns_pass_and_select_schema_drops_them():
    df = pl.DataFrame({"row": [1], "anchor": ["a"], "positive": ["b"], "query_id": ["q"]})
    check_schema(df, PAIR, "here")
    check_schema(df.lazy(), PAIR, "here")
    out = select_schema(df, PAIR, "here")
    assert out.columns == ["anchor", "positive"]


def test_missing_column_is_named():
    df = pl.DataFrame({"sentence1": ["a"], "sentence_2": ["b"], "score": [0.5]})
    with pytest.raises(
        EmbedbenchError,
        match=r"stage X: .*missing column\(s\) \['sentence2'\].*present: \['sentence1', 'sentence_2', 'score'\]",
    ):
        check_schema(df, SCORED, "stage X")


def test_mistyped_column_is_named():
    df = pl.DataFrame({"sentence1": ["a"], "sentence2": ["b"], "score": ["0.5"]})
    with pytest.raises(EmbedbenchError, match="score is String, expected Float64"):
        check_schema(df, SCORED, "s")


def test_ntuple_names():
    assert ntuple(1) == TRIPLET
    assert list(ntuple(3)) == ["anchor", "positive", "negative_1", "negative_2", "negative_3"]
    with pytest.raises(EmbedbenchError, match="at least 1 negative"):
        ntuple(0)


def test_empty_frame_has_the_types():
    assert empty_frame(SCORED).schema == pl.Schema(
        {"sentence1": pl.String, "sentence2": pl.String, "score": pl.Float64}
    )


def test_one_vocabulary_names_every_shape():
    assert set(SHAPE_NAMES) == {
        "pairs", "triplets", "n-tuples", "scored", "pair-class", "labelled", "binary-pairs", "texts"
    }
    assert set(SHAPE_COLUMNS) == set(SHAPE_NAMES)
    assert set(SHAPES) < set(SHAPE_NAMES)
    assert SHAPE_COLUMNS["binary-pairs"] == tuple(BINARY_PAIR) == ("sentence1", "sentence2", "label")
    assert SHAPE_COLUMNS["n-tuples"][:3] == ("anchor", "positive", "negative_1")


@pytest.mark.parametrize(
    ("columns", "name", "shape_columns"),
    [
        (["anchor", "positive"], "pairs", ("anchor", "positive")),
        (["query_id", "anchor", "positive", "row"], "pairs", ("anchor", "positive")),
        (["anchor", "positive", "negative"], "triplets", ("anchor", "positive", "negative")),
        (["anchor", "positive", "negative_2", "negative_1"], "n-tuples", ("anchor", "positive", "negative_1", "negative_2")),
        (["sentence1", "sentence2", "score"], "scored", ("sentence1", "sentence2", "score")),
        (["sentence1", "sentence2", "label"], "binary-pairs", ("sentence1", "sentence2", "label")),
        (["premise", "hypothesis", "label"], "pair-class", ("premise", "hypothesis", "label")),
        (["text", "label"], "labelled", ("text", "label")),
        (["text", "row"], "texts", ("text",)),
    ],
)
def test_detect_shape_from_columns(columns, name, shape_columns):
    shape = detect_shape(columns)
    assert shape is not None and shape.name == name and shape.columns == shape_columns


def test_every_schema_constant_is_detected_as_its_shape():
    for name, schema in {**SHAPES, "binary-pairs": BINARY_PAIR}.items():
        assert detect_shape(list(schema)).name == name  # type: ignore[union-attr]
    assert detect_shape(list(ntuple(3))).name == "n-tuples"  # type: ignore[union-attr]


def test_unknown_columns_and_gaps_in_negatives_have_no_shape():
    assert detect_shape(["question", "answer"]) is None
    assert detect_shape(["anchor", "positive", "negative_1", "negative_3"]) is None
