"""STS readers: STS Benchmark TSVs and the STS12-16 input/gold layout, on the real files and broken ones."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from embedbench.data.shapes import SCORED
from embedbench.data.sts import UNSCORED, read_sts_gold, read_sts_pair, read_stsb
from embedbench.errors import EmbedbenchError

# ---- STS Benchmark, real files ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("split", "rows", "nine_fields"), [("train", 5749, 197), ("dev", 1500, 22), ("test", 1379, 284)]
)
def test_stsb_counts_and_nine_field_rows(shared_data, split, rows, nine_fields):
    path = shared_data / "stsbenchmark" / f"sts-{split}.csv"
    raw = path.read_text(encoding="utf-8").splitlines()
    assert sum(1 for line in raw if line.count("\t") == 8) == nine_fields  # the quirk is really there
    df = read_stsb(path)
    assert df.height == rows
    assert list(df.columns[:3]) == list(SCORED)
    assert df["score"].min() >= 0.0 and df["score"].max() <= 1.0
    assert (df["score"] * 5 - df["score_raw"]).abs().max() < 1e-12


def test_stsb_matches_csv_module_with_quoting_off(shared_data):
    """Reference: the standard library with QUOTE_NONE (the README's advice) reads the same rows."""
    path = shared_data / "stsbenchmark" / "sts-test.csv"
    with open(path, encoding="utf-8", newline="") as f:
        ref = [(r[5], r[6], float(r[4])) for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    df = read_stsb(path)
    assert list(df.select("sentence1", "sentence2", "score_raw").iter_rows()) == ref
    quoted = df.filter(pl.col("sentence1").str.contains('"') | pl.col("sentence2").str.contains('"'))
    assert quoted.height > 0  # sentences with quotes survive intact


def test_stsb_hand_worked_rows(tmp_path):
    path = tmp_path / "sts.csv"
    path.write_text(
        'main-captions\tMSRvid\t2012test\t0001\t3.600\tA "quoted" man.\tA man.\n'
        "main-news\theadlines\t2015\t0002\t0\tx\ty\tsrc1\tsrc2\n"
    )
    df = read_stsb(path)
    assert df.select("sentence1", "sentence2", "score", "score_raw", "genre", "row").rows() == [
        ('A "quoted" man.', "A man.", pytest.approx(0.72), 3.6, "main-captions", 1),
        ("x", "y", 0.0, 0.0, "main-news", 2),
    ]


GOOD = "g\tf\t2012\t1\t2.0\ta\tb\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            GOOD + "g\tf\t2012\t2\thigh\ta\tb\n",
            r"sts.csv, line 2, column 'score \(field 5\)': expected a numeric similarity score in \[0, 5\], got 'high'",
        ),
        (
            GOOD + "g\tf\t2012\t2\t7.5\ta\tb\n",
            r"line 2, column 'score \(field 5\)': expected a value in \[0, 5\], got 7.5",
        ),
        (
            GOOD + "g\tf\t2012\t2\t1.0\tonly one sentence\n",
            r"line 2: expected 7 to 9 tab-separated fields .* got 6",
        ),
        (GOOD + GOOD.strip() + "\tx\ty\tz\n", r"line 2: expected 7 to 9 tab-separated fields .* got 10"),
        (GOOD + "\n", r"line 2: expected 7 to 9 tab-separated fields .* got 1"),
        ("", r"sts.csv: file is empty"),
    ],
)
def test_stsb_broken_lines(tmp_path, content, message):
    path = tmp_path / "sts.csv"
    path.write_text(content)
    with pytest.raises(EmbedbenchError, match=message):
        read_stsb(path)


def test_stsb_undecodable_bytes_raise(tmp_path):
    path = tmp_path / "sts.csv"
    path.write_bytes(GOOD.encode() + b"g\tf\t2012\t2\t1.0\tna\xefve\tb\n")
    with pytest.raises(EmbedbenchError, match=r"line 2, byte 18: not valid UTF-8"):
        read_stsb(path)


# ---- STS12-16, real files --------------------------------------------------------------------


def reference_year(folder: Path) -> tuple[list[tuple[str, str, float, str]], int]:
    """Plain-Python reading: pairs with a non-empty gold line, and the number of unscored pairs."""
    rows, unscored = [], 0
    for gold in sorted(folder.glob("*.gs.*.txt")):
        prefix, _, rest = gold.name.partition(".gs.")
        inp = gold.with_name(f"{prefix}.input.{rest}")
        if not inp.exists():
            continue
        pairs = inp.read_bytes().decode("utf-8", errors="replace").split("\n")
        scores = gold.read_text(encoding="utf-8").split("\n")
        for line, score in zip(pairs, scores, strict=False):
            if not line:
                continue
            if not score.strip():
                unscored += 1
                continue
            s1, s2 = line.rstrip("\r").split("\t")[:2]
            rows.append((s1, s2, float(score), rest.removesuffix(".txt")))
    return rows, unscored


@pytest.mark.parametrize(
    ("year", "scored", "unscored"),
    [
        ("STS12", 3108, 0),
        ("STS13", 1500, 0),
        ("STS14", 3750, 0),
        ("STS15", 3000, 5500),
        ("STS16", 1186, 7997),
    ],
)
def test_sts_years_match_readme_and_reference(shared_data, year, scored, unscored):
    folder = shared_data / "sts12-16" / year
    dropped: list[pl.DataFrame] = []
    df = read_sts_gold(folder, dropped)
    assert df.height == scored
    assert sum(d.height for d in dropped) == unscored
    assert all((d["reason"] == UNSCORED).all() for d in dropped)
    ref, ref_unscored = reference_year(folder)
    assert ref_unscored == unscored
    assert list(df.select("sentence1", "sentence2", "score_raw", "subset").iter_rows()) == ref
    assert df["score"].max() <= 1.0


def test_gold_files_without_input_are_ignored(shared_data):
    assert (shared_data / "sts12-16/STS12/STS.gs.ALL.txt").exists()
    assert "ALL" not in read_sts_gold(shared_data / "sts12-16/STS12")["subset"].to_list()
    assert (shared_data / "sts12-16/STS13/STS.gs.SMT.txt").exists()
    assert set(read_sts_gold(shared_data / "sts12-16/STS13")["subset"]) == {"FNWN", "OnWN", "headlines"}


# ---- STS12-16, hand-made ---------------------------------------------------------------------


def write_pair(folder: Path, name: str, inputs: bytes, gold: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"STS.input.{name}.txt").write_bytes(inputs)
    (folder / f"STS.gs.{name}.txt").write_text(gold)


def test_unscored_lines_four_fields_latin1_and_orphan_gold(tmp_path):
    write_pair(tmp_path, "news", b"caf\xe9 open\tcafe open\tsrc\tsrc\nb\tc\n", "\n4.5\n")
    (tmp_path / "STS.gs.ALL.txt").write_text("1\n2\n")  # no input: ignored
    dropped: list[pl.DataFrame] = []
    df = read_sts_gold(tmp_path, dropped)
    assert df.select("sentence1", "sentence2", "score", "score_raw", "subset", "row").rows() == [
        ("b", "c", 0.9, 4.5, "news", 2)
    ]
    [drop] = dropped
    assert drop.select("sentence1", "row", "reason", "subset").rows() == [
        ("caf\ufffd open", 1, UNSCORED, "news")
    ]


@pytest.mark.parametrize(
    ("inputs", "gold", "message"),
    [
        (b"a\tb\nc\td\n", "1\n", r"STS.gs.x.txt: 1 gold lines but STS.input.x.txt has 2 input lines"),
        (
            b"a\tb\n",
            "about 3\n",
            r"STS.gs.x.txt, line 1, column 'gold score': expected a numeric similarity score",
        ),
        (b"a\tb\n", "-1\n", r"STS.gs.x.txt, line 1, column 'gold score': expected a value in \[0, 5\]"),
        (b"a b\n", "1\n", r"STS.input.x.txt, line 1: expected 2 to 4 tab-separated fields"),
        (b"", "1\n", r"STS.input.x.txt: file is empty"),
    ],
)
def test_sts_broken_pairs(tmp_path, inputs, gold, message):
    write_pair(tmp_path, "x", inputs, gold)
    with pytest.raises(EmbedbenchError, match=message):
        read_sts_pair(tmp_path / "STS.input.x.txt", tmp_path / "STS.gs.x.txt")


def test_folder_without_gold_files(tmp_path):
    (tmp_path / "STS.gs.ALL.txt").write_text("1\n")
    with pytest.raises(EmbedbenchError, match="no STS gold files with a matching input file"):
        read_sts_gold(tmp_path)
