"""The one corpus reader: BEIR folder and corpus.jsonl, tables with text (+ title), .txt lines, and broken inputs."""

from __future__ import annotations

import json

import polars as pl
import pytest

from embedbench.data.corpus import read_corpus_texts
from embedbench.errors import EmbedbenchError


def test_read_corpus_texts(tmp_path, shared_data):
    scifact = read_corpus_texts(shared_data / "scifact")
    assert len(scifact) == 5183
    assert scifact[0].startswith("Microstructural development of human newborn cerebral white matter") and ". Alterations" in scifact[0]
    (tmp_path / "c.txt").write_text("one\ntwo\n\nthree\n")
    assert read_corpus_texts(tmp_path / "c.txt").to_list() == ["one", "two", "", "three"]
    pl.DataFrame({"text": ["x", "y"], "title": ["T", ""]}).write_parquet(tmp_path / "c.parquet")
    assert read_corpus_texts(tmp_path / "c.parquet").to_list() == ["T x", "y"]


def test_beir_folder_and_file_give_the_same_texts(tmp_path):
    lines = [{"_id": "d1", "title": "Title", "text": "body one"}, {"_id": "d2", "text": "body two"}]
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    expected = ["Title body one", "body two"]
    assert read_corpus_texts(tmp_path).to_list() == expected
    assert read_corpus_texts(tmp_path / "corpus.jsonl").to_list() == expected


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("c.csv", lambda p: p.write_text('text,title\n"a, b",T\nc,\n', encoding="utf-8")),
        ("c.tsv", lambda p: p.write_text("title\ttext\nT\ta, b\n\tc\n", encoding="utf-8")),
        ("c.jsonl", lambda p: p.write_text('{"text": "a, b", "title": "T"}\n{"text": "c"}\n', encoding="utf-8")),
    ],
)
def test_tables_join_title_and_text_like_mteb(tmp_path, name, write):
    write(tmp_path / name)
    assert read_corpus_texts(tmp_path / name).to_list() == ["T a, b", "c"]


def test_txt_lines_keep_crlf_files_clean_and_drop_a_bom(tmp_path):
    (tmp_path / "c.txt").write_bytes(b"\xef\xbb\xbfone\r\ntwo\r\n")
    assert read_corpus_texts(tmp_path / "c.txt").to_list() == ["one", "two"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p / "missing.txt", r"missing\.txt: corpus not found; expected a BEIR folder"),
        (lambda p: p, r"a corpus folder must hold corpus\.jsonl"),
        (lambda p: _bytes(p / "c.txt", b"good\ncaf\xe9\n"), r"c\.txt, line 2, byte 4: not valid UTF-8.*iconv"),
        (lambda p: _bytes(p / "c.txt", b""), r"c\.txt: file is empty; expected one document a line"),
        (lambda p: _bytes(p / "c.jsonl", b'{"text": "a"}\n{"text": \n'), r"c\.jsonl, line 2: malformed JSON"),
        (lambda p: _bytes(p / "c.csv", b"body\nx\n"), r"a corpus needs a 'text' column; found \(body\); name the"),
        (lambda p: _bytes(p / "c.xml", b"<x/>"), r"unknown table format '\.xml'"),
        (lambda p: _bytes(p / "corpus.jsonl", b'{"_id": "1", "text": "a"}\n{"_id": "1", "text": "b"}\n'),
         r"corpus\.jsonl, line 1, column '_id': id '1' occurs on lines \[1, 2\]"),
    ],
)
def test_broken_inputs_name_the_file_the_line_and_the_fix(tmp_path, setup, message):
    with pytest.raises(EmbedbenchError, match=message):
        read_corpus_texts(setup(tmp_path))


def _bytes(path, data: bytes):
    path.write_bytes(data)
    return path
