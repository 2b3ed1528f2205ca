"""Generic tables: CSV/TSV/JSONL/Parquet mapped onto prep's shapes, and every way such a file goes wrong."""

from __future__ import annotations

import polars as pl
import pytest

from embedbench.data.shapes import PAIR, SCORED
from embedbench.data.table import read_frame, read_table
from embedbench.errors import EmbedbenchError


def test_csv_pairs_with_mapping(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text('question,answer,extra\n"Why, then?",Because.,x\nHow?,"Like ""this"".",y\n')
    df = read_table(path, {"anchor": "question", "positive": "answer"}, "pairs")
    assert df.columns == [*PAIR, "row"]
    assert df.rows() == [("Why, then?", "Because.", 2), ("How?", 'Like "this".', 3)]


def test_tsv_scored_keeps_raw_score_and_scales(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text("a\tb\tsim\nx\ty\t4\nu\tv\t0.5\n")
    df = read_table(path, {"sentence1": "a", "sentence2": "b", "score": "sim"}, "scored", score_max=5)
    assert df.columns == [*SCORED, "row", "score_raw"]
    assert df.select("score", "score_raw", "row").rows() == [(0.8, 4.0, 2), (0.1, 0.5, 3)]


def test_jsonl_identity_mapping_and_ntuples(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"anchor": "a", "positive": "p", "negative_1": "n1", "negative_2": "n2"}\n\n'
        '{"anchor": "b", "positive": "q", "negative_1": "m1", "negative_2": "m2"}\n'
    )
    df = read_table(path, None, "triplets")
    assert df.columns == ["anchor", "positive", "negative_1", "negative_2", "row"]
    assert df["row"].to_list() == [1, 3]  # line numbers, blank line skipped


def test_parquet_int_labels_become_strings(tmp_path):
    path = tmp_path / "t.parquet"
    pl.DataFrame({"sentence": ["a", "b"], "intent": [3, 7]}).write_parquet(path)
    df = read_table(path, {"text": "sentence", "label": "intent"}, "labelled")
    assert df.rows() == [("a", "3", 1), ("b", "7", 2)]


@pytest.mark.parametrize(
    ("name", "content", "columns", "shape", "message"),
    [
        (
            "t.csv",
            "q,a\nx,y\n",
            {"anchor": "query", "positive": "a"},
            "pairs",
            r"column\(s\) not found: anchor <- 'query'; the file has \['q', 'a'\]",
        ),
        (
            "t.csv",
            "q,a\nx,y\n",
            {"anchor": "q", "positve": "a"},
            "pairs",
            r"columns mapping names \['positve'\], which the shape lacks",
        ),
        (
            "t.csv",
            "sentence1,sentence2,score\nx,y,0.3\nx,y,n/a\n",
            None,
            "scored",
            r"t.csv, line 3, column 'score': expected a number, got 'n/a'",
        ),
        (
            "t.csv",
            "s1,s2,score\nx,y,3\n",
            {"sentence1": "s1", "sentence2": "s2"},
            "scored",
            r"t.csv, line 2, column 'score': score 3.0 is outside the declared score_range \[0, 1\]",
        ),
        (
            "t.jsonl",
            '{"anchor": "a", "positive": "b"}\n{"anchor": null, "positive": "c"}\n',
            None,
            "pairs",
            r"t.jsonl, line 2, column 'anchor': value is missing",
        ),
        (
            "t.jsonl",
            '{"anchor": 1, "positive": "b"}\n',
            None,
            "pairs",
            r"t.jsonl, line 1, column 'anchor': expected text, got Int64 1",
        ),
        (
            "t.jsonl",
            '{"anchor": "a", "positive": "b"}\n{"anchor": "a", positive: "b"}\n',
            None,
            "pairs",
            r"t.jsonl, line 2: malformed JSON",
        ),
        (
            "t.tsv",
            "a\tb\tsim\nx\ty\thigh\n",
            {"sentence1": "a", "sentence2": "b", "score": "sim"},
            "scored",
            r"t.tsv, line 2, column 'sim': expected a number, got 'high'",  # the file's column name
        ),
        ("t.txt", "anchor,positive\n", None, "pairs", r"unknown table format '.txt'"),
        (
            "t.csv",
            "anchor,positive\na,b\n",
            None,
            "quadruplets",
            r"unknown output shape 'quadruplets'; expected one of",
        ),
    ],
)
def test_broken_tables(tmp_path, name, content, columns, shape, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(EmbedbenchError, match=message):
        read_table(path, columns, shape)


def test_parquet_nulls_and_garbage(tmp_path):
    path = tmp_path / "t.parquet"
    pl.DataFrame({"text": ["a", None], "label": ["x", "y"]}).write_parquet(path)
    with pytest.raises(EmbedbenchError, match=r"t.parquet, row 2, column 'text': value is missing"):
        read_table(path, None, "labelled")
    path.write_bytes(b"not parquet at all")
    with pytest.raises(EmbedbenchError, match=r"t.parquet: not a readable Parquet file"):
        read_frame(path)


def test_format_override_and_ragged_tsv(shared_data):
    """STS Benchmark is TSV named .csv with 7 or 9 fields: the generic reader refuses it (read_stsb handles it)."""
    with pytest.raises(EmbedbenchError, match="cannot parse as TSV"):
        read_frame(shared_data / "stsbenchmark" / "sts-test.csv", fmt="tsv")  # 7 vs 9 fields: ragged
    with pytest.raises(EmbedbenchError, match="use one of"):
        read_frame(shared_data / "stsbenchmark" / "sts-test.csv", fmt="xlsx")
