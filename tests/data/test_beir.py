"""BEIR reader: real SciFact counts and mteb's document join, plus every kind of broken folder."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from embedbench.data.beir import beir_pairs, read_beir, read_qrels
from embedbench.data.shapes import CORPUS, QRELS, QUERIES
from embedbench.errors import EmbedbenchError


def make_beir(root: Path, corpus: list | str, queries: list | str, qrels: str, split: str = "test") -> Path:
    """A tiny BEIR folder; lists are written as JSON lines, strings verbatim."""
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    for name, rows in (("corpus.jsonl", corpus), ("queries.jsonl", queries)):
        text = rows if isinstance(rows, str) else "".join(json.dumps(r) + "\n" for r in rows)
        (root / name).write_text(text, encoding="utf-8")
    (root / "qrels" / f"{split}.tsv").write_text(qrels, encoding="utf-8")
    return root


CORPUS_OK = [
    {"_id": "d1", "title": "Title one", "text": "Body one."},
    {"_id": "d2", "title": "", "text": "Body two."},
    {"_id": 3, "text": "Body three, no title."},
]
QUERIES_OK = [
    {"_id": "q1", "text": "first?"},
    {"_id": "q2", "text": "second?"},
    {"_id": "q3", "text": "other split"},
]


# ---- real data -------------------------------------------------------------------------------


@pytest.mark.parametrize(("split", "n_qrels", "n_queries"), [("test", 339, 300), ("train", 919, 809)])
def test_scifact_counts_match_the_readme(shared_data, split, n_qrels, n_queries):
    data = read_beir(shared_data / "scifact", split)
    assert data.corpus.height == 5183
    assert data.qrels.height == n_qrels
    assert data.queries.height == n_queries  # queries.jsonl holds 1,109: the split's qrels decide
    assert set(data.queries["query_id"]) == set(data.qrels["query_id"])
    for df, schema in ((data.corpus, CORPUS), (data.queries, QUERIES), (data.qrels, QRELS)):
        assert list(df.columns[: len(schema)]) == list(schema)
    assert len(data.relevant_docs) == n_queries


def test_scifact_matches_a_plain_python_reading(shared_data):
    """Reference: json + csv from the standard library give the same qrels, queries and joined documents."""
    folder = shared_data / "scifact"
    with open(folder / "qrels" / "test.tsv", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    assert rows[0] == ["query-id", "corpus-id", "score"]  # the header quirk
    expected = [(q, d, int(s)) for q, d, s in rows[1:]]
    corpus = {r["_id"]: r for r in map(json.loads, open(folder / "corpus.jsonl", encoding="utf-8"))}
    queries = {r["_id"]: r["text"] for r in map(json.loads, open(folder / "queries.jsonl", encoding="utf-8"))}
    assert len(queries) == 1109

    pairs = beir_pairs(read_beir(folder, "test"))
    assert list(pairs.columns) == ["anchor", "positive", "query_id", "doc_id", "score"]
    assert list(pairs.select("query_id", "doc_id", "score").iter_rows()) == expected
    for anchor, positive, qid, did, _ in pairs.iter_rows():
        assert anchor == queries[qid]
        assert positive == (corpus[did]["title"] + " " + corpus[did]["text"]).strip()  # mteb's join


# ---- hand-made folders -----------------------------------------------------------------------


def test_tiny_folder_graded_qrels_title_join_and_split_filter(tmp_path):
    root = make_beir(tmp_path, CORPUS_OK, QUERIES_OK, "q1\td1\t2\nq1\td2\t0\nq2\t3\t1\n")  # no header
    data = read_beir(root, "test")
    assert data.queries["query_id"].to_list() == ["q1", "q2"]  # q3 is not in this split
    assert data.corpus["title"].to_list() == ["Title one", "", ""]  # missing title -> ""
    assert data.corpus["doc_id"].to_list() == ["d1", "d2", "3"]  # numeric ids become strings
    assert data.relevant_docs == {"q1": {"d1": 2, "d2": 0}, "q2": {"3": 1}}
    pairs = beir_pairs(data)  # score 0 means not relevant
    assert pairs.rows() == [
        ("first?", "Title one Body one.", "q1", "d1", 2),
        ("second?", "Body three, no title.", "q2", "3", 1),
    ]
    assert beir_pairs(data, min_score=2).height == 1


def test_qrels_header_is_skipped(tmp_path):
    path = tmp_path / "q.tsv"
    path.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    assert read_qrels(path).select("query_id", "doc_id", "score", "row").rows() == [("q1", "d1", 1, 2)]


@pytest.mark.parametrize(
    ("corpus", "queries", "qrels", "message"),
    [
        (
            CORPUS_OK,
            QUERIES_OK,
            "q1\td1\tyes\n",
            r"test.tsv, line 1, column 'score': expected an integer relevance score, got 'yes'",
        ),
        (
            CORPUS_OK,
            QUERIES_OK,
            "query-id\tcorpus-id\tscore\nq1\td1\n",
            r"test.tsv, line 2: expected 3 tab-separated fields .* got 2",
        ),
        (
            CORPUS_OK,
            QUERIES_OK,
            "q1\td1\t1\nq9\td1\t1\n",
            r"test.tsv, line 2, column 'query-id': id 'q9' is not in .*queries.jsonl",
        ),
        (
            CORPUS_OK,
            QUERIES_OK,
            "q1\td1\t1\nq1\td7\t1\nq2\td8\t1\n",
            r"line 2, column 'corpus-id': id 'd7' is not in .*corpus.jsonl \(1 more such lines\)",
        ),
        (
            CORPUS_OK,
            QUERIES_OK,
            "q1\td1\t1\nq1\td1\t2\n",
            r"line 2: pair \(q1, d1\) is judged more than once, on lines \[1, 2\]",
        ),
        (CORPUS_OK, QUERIES_OK, "query-id\tcorpus-id\tscore\n", r"no qrels after the header"),
        (CORPUS_OK, QUERIES_OK, "", r"test.tsv: file is empty"),
        (
            CORPUS_OK + [{"_id": "d1", "text": "again"}],
            QUERIES_OK,
            "q1\td1\t1\n",
            r"corpus.jsonl, line 1, column '_id': id 'd1' occurs on lines \[1, 4\]",
        ),
        (
            CORPUS_OK,
            QUERIES_OK + [{"_id": "q2", "text": "x"}],
            "q1\td1\t1\n",
            r"queries.jsonl, line 2, column '_id': id 'q2' occurs on lines \[2, 4\]",
        ),
        (
            '{"_id": "d1", "text": "ok"}\n{"_id": "d2", "text": "broken"\n',
            QUERIES_OK,
            "q1\td1\t1\n",
            r"corpus.jsonl, line 2: malformed JSON",
        ),
        (
            '{"_id": "d1", "text": "ok"}\n["not", "an", "object"]\n',
            QUERIES_OK,
            "q1\td1\t1\n",
            r"corpus.jsonl, line 2: expected a JSON object",
        ),
        (
            '{"_id": "d1", "text": {"nested": 1}}\n',
            QUERIES_OK,
            "q1\td1\t1\n",
            r"corpus.jsonl, line 1, column 'text': expected a plain value",
        ),
        (
            '{"_id": "d1", "text": "ok"}\n\n{"title": "no id", "text": "x"}\n',
            QUERIES_OK,
            "q1\td1\t1\n",
            r"corpus.jsonl, line 3, column '_id': value is missing",
        ),
        (
            '{"_id": "d1", "body": "wrong key"}\n',
            QUERIES_OK,
            "q1\td1\t1\n",
            r"corpus.jsonl, line 1, column 'text': value is missing",
        ),
        ("", QUERIES_OK, "q1\td1\t1\n", r"corpus.jsonl: file is empty; expected BEIR corpus lines"),
    ],
)
def test_broken_folders_raise_with_file_line_and_fix(tmp_path, corpus, queries, qrels, message):
    root = make_beir(tmp_path, corpus, queries, qrels)
    with pytest.raises(EmbedbenchError, match=message):
        read_beir(root, "test")


def test_undecodable_corpus_names_line_and_byte(tmp_path):
    root = make_beir(tmp_path, CORPUS_OK, QUERIES_OK, "q1\td1\t1\n")
    (root / "corpus.jsonl").write_bytes(b'{"_id": "d1", "text": "ok"}\n{"_id": "d2", "text": "caf\xe9"}\n')
    with pytest.raises(
        EmbedbenchError, match=r"corpus.jsonl, line 2, byte 27: not valid UTF-8 .*0xe9.*iconv"
    ):
        read_beir(root, "test")


def test_unknown_split_lists_the_available_ones(tmp_path):
    root = make_beir(tmp_path, CORPUS_OK, QUERIES_OK, "q1\td1\t1\n", split="dev")
    with pytest.raises(EmbedbenchError, match=r"no qrels for split 'test'; available splits: \['dev'\]"):
        read_beir(root, "test")


def test_missing_corpus_file(tmp_path):
    root = make_beir(tmp_path, CORPUS_OK, QUERIES_OK, "q1\td1\t1\n")
    (root / "corpus.jsonl").unlink()
    with pytest.raises(EmbedbenchError, match="corpus.jsonl: file not found; expected a BEIR corpus.jsonl"):
        read_beir(root, "test")


def test_pairs_frame_is_plain_polars(tmp_path):
    pairs = beir_pairs(read_beir(make_beir(tmp_path, CORPUS_OK, QUERIES_OK, "q1\td1\t1\n"), "test"))
    assert pairs.schema["score"] == pl.Int64
