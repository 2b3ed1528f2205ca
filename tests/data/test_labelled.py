"""Labelled texts (Banking77 CSV): quoted commas and newlines, exact line numbers, label pairs and triplets."""

from __future__ import annotations

import csv
import json

import polars as pl
import pytest

from embedbench.data.labelled import labelled_pairs, labelled_triplets, read_labelled
from embedbench.data.shapes import LABELLED
from embedbench.errors import EmbedbenchError


@pytest.mark.parametrize(("name", "rows"), [("train", 10003), ("test", 3080)])
def test_banking77_matches_csv_module(shared_data, name, rows):
    path = shared_data / "banking77" / f"{name}.csv"
    with open(path, encoding="utf-8", newline="") as f:
        ref = [(r["text"], r["category"]) for r in csv.DictReader(f)]
    labels = json.loads((shared_data / "banking77" / "categories.json").read_text())
    df = read_labelled(path, labels=labels)
    assert df.height == rows
    assert list(df.columns[:2]) == list(LABELLED)
    assert df["label"].n_unique() == 77
    assert list(df.select("text", "label").iter_rows()) == ref
    assert df.filter(pl.col("text").str.contains(",")).height > 0  # quoted commas survive


def test_banking77_rows_are_exact_line_numbers(shared_data):
    """Some quoted texts span lines; ``row`` still points at the line where each record starts."""
    path = shared_data / "banking77" / "train.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    df = read_labelled(path)
    assert df["row"][0] == 2 and df["row"][-1] == len(lines) - 1  # header is line 1; file ends with \n
    multi = df.filter(pl.col("text").str.contains("\n"))
    assert multi.height == 10
    for text, label, row in multi.select("text", "label", "row").iter_rows():
        assert lines[row - 1].startswith('"')  # the record opens on its line ...
        assert (
            lines[row - 1 + text.count("\n")].rstrip("\r").endswith(f'",{label}')
        )  # ... and closes n lines on


def test_hand_worked_pairs_and_triplets_are_forced():
    df = pl.DataFrame({"text": ["a1", "a2", "b1", "c1", "c2"], "label": ["a", "a", "b", "c", "c"]})
    pairs = labelled_pairs(df, seed=3)
    assert pairs.rows() == [
        ("a1", "a2", "a"),
        ("a2", "a1", "a"),
        ("c1", "c2", "c"),
        ("c2", "c1", "c"),
    ]  # b1 alone
    trip = labelled_triplets(df.head(3), seed=3)  # a1, a2, b1: negatives can only be b1
    assert trip.rows() == [("a1", "a2", "b1", "a", "b"), ("a2", "a1", "b1", "a", "b")]
    assert labelled_triplets(df.head(2), seed=0).height == 0  # one label: no negatives


def test_pairs_and_triplets_on_banking77_are_valid_and_seeded(shared_data):
    df = read_labelled(shared_data / "banking77" / "test.csv")
    by_text = dict(zip(df["text"], df["label"], strict=False))
    trip = labelled_triplets(df, seed=7)
    assert trip.height == df.height  # every Banking77 label has many texts
    assert trip["anchor"].to_list() == df["text"].to_list()
    assert (trip["label"] != trip["negative_label"]).all()
    assert all(by_text[p] == lab for p, lab in zip(trip["positive"], trip["label"], strict=True))
    assert trip.equals(labelled_triplets(df, seed=7))
    assert not trip.equals(labelled_triplets(df, seed=8))
    pairs = labelled_pairs(df, seed=7)
    assert (pairs["anchor"] != pairs["positive"]).sum() >= df.height - 5  # another row (texts can repeat)
    assert pairs["positive"].n_unique() > 0.5 * df.height  # draws spread over each label's texts


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        (
            "text,categroy\nhi,greet\n",
            {},
            r"column\(s\) not found: label <- 'category' \(did you mean 'categroy'\?\)",
        ),
        ('text,category\n"a, b",greet\n"c",\n', {}, r"t.csv, line 3, column 'category': empty label"),
        (
            "text,category\nhi,greet\nyo,wave\n",
            {"labels": ["greet"]},
            r"t.csv, line 3, column 'category': unknown label 'wave'",
        ),
        ('text,category\n"unterminated,greet\n', {}, r"t.csv, line 2: cannot parse as CSV: a quoted field is never closed"),
        ("text,category\nhi,greet,extra\n", {}, r"t.csv, line 2: cannot parse as CSV: 3 fields, but the header has 2"),
        ("text,category\n", {}, r"t.csv: no rows"),
        ("", {}, r"t.csv: file is empty"),
    ],
)
def test_broken_labelled_csv(tmp_path, content, kwargs, message):
    path = tmp_path / "t.csv"
    path.write_text(content)
    with pytest.raises(EmbedbenchError, match=message):
        read_labelled(path, **kwargs)


def test_short_row_is_a_ragged_row(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("text,category\nhi,greet\nno label here\n")
    with pytest.raises(EmbedbenchError, match=r"t.csv, line 3: cannot parse as CSV: 1 fields, but the header has 2"):
        read_labelled(path)


def test_undecodable_csv_names_the_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"text,category\nhi,greet\ncaf\xe9,order\n")
    with pytest.raises(EmbedbenchError, match=r"t.csv, line 3, byte 4: not valid UTF-8"):
        read_labelled(path)


def test_empty_text_is_kept_for_the_normaliser(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('text,category\n"",greet\n  ,greet\n')
    assert read_labelled(path)["text"].to_list() == ["", "  "]
