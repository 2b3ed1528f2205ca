"""prep.schemas: shape constants, check_schema messages, n-tuples, final-write selection."""

from __future__ import annotations

import polars as pl
import pytest

from embedbench.errors import EmbedbenchError
from embedbench.data.shapes import (
    LABELLED,
    PAIR,
    PAIR_CLASS,
    SCORED,
    SHAPES,
    TRIPLET,
    check_schema,
    empty_frame,
    ntuple,
    select_schema,
)


def test_column_order_follows_sentence_transformers():
    assert list(PAIR) == ["anchor", "positive"]
    assert list(TRIPLET) == ["anchor", "positive", "negative"]
    assert list(SCORED) == ["sentence1", "sentence2", "score"]
    assert list(PAIR_CLASS) == ["premise", "hypothesis", "label"]
    assert list(LABELLED) == ["text", "label"]
    assert set(SHAPES) == {"pairs", "triplets", "scored", "pair-class", "labelled"}


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
