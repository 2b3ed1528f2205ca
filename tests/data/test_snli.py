"""SNLI reader: aligned line files, trailing spaces, labels; entailment pairs and AllNLI-style triplets."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from embedbench.data.shapes import PAIR, PAIR_CLASS, TRIPLET
from embedbench.data.snli import NO_GOLD_REASON, read_snli, snli_entailment_pairs, snli_triplets
from embedbench.errors import EmbedbenchError


def write_snli(folder: Path, s1: list[str], s2: list[str], labels: list[str], split: str = "dev") -> Path:
    for stem, lines in (("s1", s1), ("s2", s2), ("labels", labels)):
        (folder / f"{stem}.{split}").write_text("".join(x + "\n" for x in lines))
    return folder


@pytest.mark.parametrize(
    ("split", "rows", "entail", "contra"), [("dev", 9842, 3329, 3278), ("test", 9824, 3368, 3237)]
)
def test_real_splits_match_a_plain_reading(shared_data, split, rows, entail, contra):
    folder = shared_data / "snli"
    raw = {
        s: (folder / f"{s}.{split}").read_text(encoding="utf-8").splitlines() for s in ("s1", "s2", "labels")
    }
    assert raw["s1"][0].endswith(" ")  # the PTB trailing-space quirk is really there
    df = read_snli(folder, split)
    assert df.height == rows
    assert list(df.columns[:3]) == list(PAIR_CLASS)
    assert df.select((pl.col("label") == "entailment").sum()).item() == entail
    assert df.select((pl.col("label") == "contradiction").sum()).item() == contra
    ref = [(a.strip(), b.strip(), c) for a, b, c in zip(raw["s1"], raw["s2"], raw["labels"], strict=True)]
    assert list(df.select("premise", "hypothesis", "label").iter_rows()) == ref
    assert (
        df.filter(pl.col("premise").str.ends_with(" ") | pl.col("hypothesis").str.ends_with(" ")).height == 0
    )


def test_real_triplets_pair_entailment_and_contradiction_of_one_premise(shared_data):
    df = read_snli(shared_data / "snli", "dev")
    trip = snli_triplets(df)
    assert list(trip.columns) == list(TRIPLET)
    labels = {(p, h): lab for p, h, lab in df.select("premise", "hypothesis", "label").iter_rows()}
    forward = trip.gather_every(2)
    assert all(
        labels[(a, p)] == "entailment" and labels[(a, n)] == "contradiction"
        for a, p, n in forward.iter_rows()
    )
    backward = trip.gather_every(2, offset=1)
    assert backward["anchor"].to_list() == forward["positive"].to_list()
    assert backward["positive"].to_list() == forward["anchor"].to_list()
    both = df.group_by("premise").agg(
        (pl.col("label") == "entailment").any().alias("e"),
        (pl.col("label") == "contradiction").any().alias("c"),
    )
    assert forward.height == both.filter(pl.col("e") & pl.col("c")).height


def test_hand_worked_pairs_and_triplets(tmp_path):
    folder = write_snli(
        tmp_path,
        [
            "A dog runs . ",
            "A dog runs . ",
            "A dog runs . ",
            "A dog runs . ",
            "Cats sleep . ",
            "Cats sleep . ",
        ],
        [
            "An animal moves . ",
            "A dog sleeps . ",
            "A dog is fast . ",
            "A pet runs . ",
            "Cats rest . ",
            "Cats eat . ",
        ],
        ["entailment", "contradiction", "neutral", "entailment", "entailment", "neutral"],
    )
    df = read_snli(folder, "dev")
    assert snli_entailment_pairs(df).select(list(PAIR)).rows() == [
        ("A dog runs .", "An animal moves ."),
        ("A dog runs .", "A pet runs ."),
        ("Cats sleep .", "Cats rest ."),
    ]
    # "Cats sleep ." has no contradiction: no triplet; the first entailment of the dog premise is used
    assert snli_triplets(df).rows() == [
        ("A dog runs .", "An animal moves .", "A dog sleeps ."),
        ("An animal moves .", "A dog runs .", "A dog sleeps ."),
    ]
    assert snli_triplets(df, both_directions=False).height == 1
    assert snli_triplets(df.filter(pl.col("label") == "neutral")).height == 0


def test_no_gold_label_rows_are_dropped_with_reason(tmp_path):
    folder = write_snli(
        tmp_path, ["p1 ", "p2 ", "p3 "], ["h1 ", "h2 ", "h3 "], ["entailment", "-", "neutral"]
    )
    dropped: list[pl.DataFrame] = []
    df = read_snli(folder, "dev", dropped)
    assert df.select("premise", "label", "row").rows() == [("p1", "entailment", 1), ("p3", "neutral", 3)]
    [drop] = dropped
    assert drop.select("premise", "row", "reason").rows() == [("p2", 2, NO_GOLD_REASON)]


@pytest.mark.parametrize(
    ("s1", "s2", "labels", "message"),
    [
        (
            ["a", "b"],
            ["c"],
            ["entailment", "neutral"],
            r"different line counts \{'s1.dev': 2, 's2.dev': 1, 'labels.dev': 2\}",
        ),
        (
            ["a", "b"],
            ["c", "d"],
            ["entailment", "Neutral"],
            r"labels.dev, line 2: unknown label 'Neutral'; expected one of \['entailment', 'neutral', 'contradiction'\]",
        ),
        (["a", "b"], ["c", "d"], ["entailment", ""], r"labels.dev, line 2: unknown label ''"),
        ([], [], [], r"s1.dev: file is empty"),
    ],
)
def test_broken_snli_files(tmp_path, s1, s2, labels, message):
    folder = write_snli(tmp_path, s1, s2, labels)
    with pytest.raises(EmbedbenchError, match=message):
        read_snli(folder, "dev")


def test_missing_split_file_and_bad_bytes(tmp_path):
    folder = write_snli(tmp_path, ["a"], ["b"], ["entailment"])
    with pytest.raises(
        EmbedbenchError, match=r"s1.train: file not found; expected SNLI premise lines of split 'train'"
    ):
        read_snli(folder, "train")
    (folder / "s2.dev").write_bytes(b"\xff\xfeb\n")
    with pytest.raises(EmbedbenchError, match=r"s2.dev, line 1, byte 1: not valid UTF-8"):
        read_snli(folder, "dev")
