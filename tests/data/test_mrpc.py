"""MRPC reader: the byte-order mark, quotes in sentences, labels 0/1, positive pairs."""

from __future__ import annotations

import csv

import pytest

from embedbench.data.mrpc import mrpc_positive_pairs, read_mrpc
from embedbench.data.shapes import PAIR
from embedbench.errors import EmbedbenchError


@pytest.mark.parametrize(("name", "rows", "positive"), [("train", 4076, 2753), ("test", 1725, 1147)])
def test_real_files_match_csv_module_with_utf8_sig(shared_data, name, rows, positive):
    path = shared_data / "mrpc" / f"msr_paraphrase_{name}.txt"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # the BOM quirk is really there
    with open(path, encoding="utf-8-sig", newline="") as f:
        ref = [(r[3], r[4], int(r[0])) for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    df = read_mrpc(path)
    assert df.height == rows
    assert df["label"].sum() == positive
    assert list(df.select("sentence1", "sentence2", "label").iter_rows()) == ref
    pairs = mrpc_positive_pairs(df)
    assert pairs.height == positive
    assert list(pairs.columns[:2]) == list(PAIR)


def test_hand_worked_bom_header_and_quotes(tmp_path):
    path = tmp_path / "mrpc.txt"
    path.write_bytes(
        "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
        '1\t11\t12\tHe said "yes".\tHe agreed.\n'
        "0\t13\t14\tRain today.\tSun tomorrow.\n".encode()
    )
    df = read_mrpc(path)
    assert df.select("sentence1", "sentence2", "label", "id1", "row").rows() == [
        ('He said "yes".', "He agreed.", 1, "11", 2),
        ("Rain today.", "Sun tomorrow.", 0, "13", 3),
    ]
    assert mrpc_positive_pairs(df).select("anchor", "positive").rows() == [('He said "yes".', "He agreed.")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1\t1\t2\ta\tb\n2\t3\t4\tc\td\n", r"mrpc.txt, line 2, column 'quality': expected 0 or 1, got 2"),
        (
            "1\t1\t2\ta\tb\nyes\t3\t4\tc\td\n",
            r"mrpc.txt, line 2, column 'quality': expected a quality label 0 or 1, got 'yes'",
        ),
        ("1\t1\t2\ta b\n", r"mrpc.txt, line 1: expected 5 tab-separated fields .* got 4"),
        ("\n", r"mrpc.txt: file is empty"),
    ],
)
def test_broken_mrpc(tmp_path, content, message):
    path = tmp_path / "mrpc.txt"
    path.write_text(content)
    with pytest.raises(EmbedbenchError, match=message):
        read_mrpc(path)
