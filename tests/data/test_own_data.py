"""Reader options for a user's own files: JSON layouts, headerless and gzip files, filters, split columns,
score ranges; and the one located line each kind of broken input gets."""

from __future__ import annotations

import gzip
import json
import os

import polars as pl
import pytest

from embedbench.data import SourceSpec, read_source
from embedbench.data.corpus import read_corpus_texts
from embedbench.data.labelled import read_labelled, require_classes
from embedbench.data.table import read_frame, read_table
from embedbench.errors import EmbedbenchError

SPLITS = {"train": [["hi there", "greet"], ["bye now", "leave"], ["hello", "greet"]], "test": [["hey", "greet"], ["ciao", "leave"]]}


def test_json_object_of_splits_with_rows_as_arrays(tmp_path):
    path = tmp_path / "intents.json"
    path.write_text(json.dumps(SPLITS))
    spec = SourceSpec(kind="table", path=str(path), output="labelled", split="test", columns={"text": 1, "label": 2})
    assert read_source(spec).select("text", "label", "row").rows() == [("hey", "greet", 1), ("ciao", "leave", 2)]
    labelled = SourceSpec(kind="labelled", path=str(path), split="train", columns={"text": "1", "label": "2"})
    assert read_source(labelled)["text"].to_list() == ["hi there", "bye now", "hello"]


def test_json_array_of_objects_and_named_field(tmp_path):
    rows = [{"q": "a", "d": "b", "n": 1}, {"q": "c", "d": "e", "n": 2}]
    (tmp_path / "a.json").write_text(json.dumps(rows))
    (tmp_path / "f.json").write_text(json.dumps({"version": 2, "data": rows}))
    for name, field in (("a.json", None), ("f.json", "data")):
        df = read_table(tmp_path / name, {"anchor": "q", "positive": "d"}, "pairs", field=field)
        assert df.select("anchor", "positive", "row").rows() == [("a", "b", 1), ("c", "e", 2)]


def test_gzip_of_every_format_reads_like_the_plain_file(tmp_path):
    frame = pl.DataFrame({"sentence1": ["a", "b"], "sentence2": ["c", "d"], "score": [1.0, 5.0]})
    frame.write_csv(tmp_path / "s.csv")
    frame.write_csv(tmp_path / "s.tsv", separator="\t")
    frame.write_ndjson(tmp_path / "s.jsonl")
    (tmp_path / "s.json").write_text(json.dumps(frame.to_dicts()))
    frame.write_parquet(tmp_path / "s.parquet")
    for suffix in ("csv", "tsv", "jsonl", "json", "parquet"):
        plain = tmp_path / f"s.{suffix}"
        packed = tmp_path / f"s.{suffix}.gz"
        packed.write_bytes(gzip.compress(plain.read_bytes()))
        a = read_table(plain, None, "scored", score_range=(1, 5))
        b = read_table(packed, None, "scored", score_range=(1, 5))
        assert a.equals(b) and a["score"].to_list() == [0.0, 1.0], suffix


def test_headerless_csv_by_position_with_filters_and_split_column(tmp_path):
    path = tmp_path / "sts.csv"
    path.write_text("A man sings.,A man is singing.,5,test,en\nA dog.,A cat.,1,train,en\nUn chat.,A cat.,3,test,fr\nx,y,2,test,en\n")
    df = read_table(
        path, {"sentence1": 1, "sentence2": 2, "score": 3}, "scored", header=False,
        split="test", split_column="4", filters={"5": ["en", "de"]}, score_range=(1, 5),
    )
    assert df.select("sentence1", "score", "score_raw", "row").rows() == [
        ("A man sings.", 1.0, 5.0, 1), ("x", 0.25, 2.0, 4)
    ]


def test_where_on_a_built_in_kind_filters_its_output_columns(shared_data):
    spec = SourceSpec(kind="stsb", path=str(shared_data / "stsbenchmark"), split="test", where={"genre": "main-forums"})
    df = read_source(spec)
    assert df.height == 254 and set(df["genre"]) == {"main-forums"}


def test_real_banking77_as_gzip_and_as_json_object_of_splits(shared_data, tmp_path):
    src = shared_data / "banking77"
    csv = read_labelled(src / "test.csv")
    gz = tmp_path / "test.csv.gz"
    gz.write_bytes(gzip.compress((src / "test.csv").read_bytes()))
    assert read_labelled(gz).select("text", "label").equals(csv.select("text", "label"))
    splits = {s: read_labelled(src / f"{s}.csv").select("text", "label").rows() for s in ("train", "test")}
    path = tmp_path / "banking.json"
    path.write_text(json.dumps(splits))
    spec = SourceSpec(kind="labelled", path=str(path), split="test", columns={"text": 1, "label": 2}, labels="banking77/categories.json")
    assert read_source(spec).select("text", "label").equals(csv.select("text", "label"))


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content) if isinstance(content, str) else path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("name", "content", "kwargs", "message"),
    [
        ("t.csv", "a,b,score\nx,y,3\n", {"filters": {"lang": "en"}},
         r"t.csv: filter \(`where`\) column 'lang' not found; the file has \['a', 'b', 'score'\]"),
        ("t.csv", "a,b,lang\nx,y,en\nz,w,en\n", {"filters": {"lang": "fr"}},
         r"t.csv, column 'lang': filter \(`where`\) keeps no rows: expected 'fr', the column holds \['en'\]"),
        ("t.csv", "a,b,set\nx,y,train\n", {"split": "test", "split_column": "set"},
         r"t.csv, column 'set': split keeps no rows: expected 'test', the column holds \['train'\]"),
        ("t.csv", "a,b,rating\nx,y,3\nu,v,7\n", {"score_range": (1, 5)},
         r"t.csv, line 3, column 'rating': score 7.0 is outside the declared score_range \[1, 5\]"),
        ("t.json", json.dumps([["x", "y", 2], ["u", "v"]]), {},
         r"t.json, row 2: expected 3 values \(as in row 1\), got 2"),
        ("t.json", json.dumps({"train": [], "test": []}), {},
         r"t.json: a JSON object of splits \['test', 'train'\]; set the source's `split`"),
        ("t.json", "[\n  [1, 2],\n  [3 4]\n]", {}, r"t.json, line 3, character 6: malformed JSON"),
        ("t.csv", 'a,b,rating\nx,"y,3\nu,v,2\n', {"score_range": (1, 5)},
         r"t.csv, line 2: cannot parse as CSV: a quoted field is never closed"),
        ("t.csv", "a,b,rating\nx,y,3\nu,v\n", {"score_range": (1, 5)},
         r"t.csv, line 3: cannot parse as CSV: 2 fields, but the header has 3"),
        ("t.jsonl", '{"a": "x", "b": "y", "rating": 2}\n{"a": {"t": 1}, "b": "y", "rating": 2}\n', {"score_range": (1, 5)},
         r"t.jsonl, line 2, column 'a': expected a plain value, got a JSON dict"),
        ("t.jsonl", '{"a": ["x"], "b": "y", "rating": 2}\n', {"score_range": (1, 5)},
         r"t.jsonl, line 1, column 'a': expected text, got a JSON array"),
        ("t.csv", "a,b,rating\nx,y,3\n", {"split": "test"}, r"t.csv: split 'test' is set, but this file has no splits"),
        ("t.csv.gz", b"not gzip", {}, r"t.csv.gz: not a readable gzip file"),
    ],
)
def test_broken_own_data_gets_one_located_line(tmp_path, name, content, kwargs, message):
    path = _write(tmp_path, name, content)
    columns = {"sentence1": 1, "sentence2": 2, "score": 3} if name.endswith(".json") else {
        "sentence1": "a", "sentence2": "b", "score": "rating" if "rating" in str(content) else "score"}
    if "lang" in str(content) or "set" in str(content):
        columns = {"sentence1": "a", "sentence2": "b", "score": "a"}
    with pytest.raises(EmbedbenchError, match=message) as err:
        read_table(path, columns, "scored", **kwargs)
    assert "\n" not in str(err.value)


def test_one_class_and_folder_and_link_loop_and_undecodable_corpus(tmp_path):
    path = _write(tmp_path, "one.json", json.dumps({"test": [["a", "x"], ["b", "x"]]}))
    df = read_table(path, {"text": 1, "label": 2}, "labelled", split="test")
    with pytest.raises(EmbedbenchError, match=r"one.json, column '2': 1 distinct label\(s\) \['x'\] in 2 rows; expected at least 2"):
        require_classes(df, path, "2")
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(EmbedbenchError, match=r"folder.csv: is a folder, not a file"):
        read_frame(tmp_path / "folder.csv")
    os.symlink(tmp_path / "loop.csv", tmp_path / "loop.csv")
    with pytest.raises(EmbedbenchError, match=r"loop.csv: symbolic link loop"):
        read_frame(tmp_path / "loop.csv")
    with pytest.raises(EmbedbenchError, match=r"missing.csv: file not found; expected .*Check the path$") as err:
        read_frame(tmp_path / "missing.csv")
    assert "[prep]" not in str(err.value)
    bad = _write(tmp_path, "docs.txt", b"fine\ncaf\xe9\n")
    with pytest.raises(EmbedbenchError, match=r"docs.txt, line 2, byte 4: not valid UTF-8"):
        read_corpus_texts(bad)


def test_json_row_errors_name_the_split(tmp_path):
    path = _write(tmp_path, "s.json", json.dumps({"train": [["a", "x"]], "test": [["a", "x"], ["b"]]}))
    with pytest.raises(EmbedbenchError, match=r"s.json, split 'test', row 2: expected 2 values \(as in row 1\), got 1"):
        read_table(path, {"text": 1, "label": 2}, "labelled", split="test")
