"""SourceSpec validation and read_source dispatch: every kind on the real data; the hub path through a fake loader."""

from __future__ import annotations

import polars as pl
import pytest

from embedbench.config import validate_section
from embedbench.data import hub
from embedbench.data.shapes import LABELLED, PAIR, PAIR_CLASS, PAIR_CLASS_INT, SCORED, TRIPLET
from embedbench.data.spec import SourceSpec, read_source, resolve_path
from embedbench.errors import EmbedbenchError


@pytest.mark.parametrize(
    ("spec", "schema", "rows", "dropped_rows"),
    [
        ({"kind": "beir", "path": "scifact", "split": "test"}, PAIR, 339, 0),
        ({"kind": "stsb", "path": "stsbenchmark", "split": "test"}, SCORED, 1379, 0),
        ({"kind": "stsb", "path": "stsbenchmark/sts-dev.csv"}, SCORED, 1500, 0),
        ({"kind": "sts", "path": "sts12-16/STS16"}, SCORED, 1186, 7997),
        ({"kind": "snli", "path": "snli", "split": "dev"}, PAIR_CLASS, 9842, 0),
        ({"kind": "snli", "path": "snli", "split": "dev", "output": "pairs"}, PAIR, 3329, 0),
        ({"kind": "snli", "path": "snli", "split": "test", "output": "triplets"}, TRIPLET, 5842, 0),
        ({"kind": "mrpc", "path": "mrpc", "split": "train"}, PAIR, 2753, 0),
        ({"kind": "mrpc", "path": "mrpc", "split": "test", "output": "pair-class"}, PAIR_CLASS_INT, 1725, 0),
        (
            {
                "kind": "labelled",
                "path": "banking77",
                "split": "train",
                "labels": "banking77/categories.json",
            },
            LABELLED,
            10003,
            0,
        ),
        (
            {"kind": "labelled", "path": "banking77/test.csv", "output": "triplets", "seed": 1},
            TRIPLET,
            3080,
            0,
        ),
        (
            {
                "kind": "table",
                "path": "banking77/test.csv",
                "output": "labelled",
                "columns": {"label": "category"},
            },
            LABELLED,
            3080,
            0,
        ),
    ],
)
def test_every_kind_dispatches_on_real_data(shared_data, spec, schema, rows, dropped_rows):
    dropped: list[pl.DataFrame] = []
    df = read_source(SourceSpec(**spec), dropped)
    assert df.columns[: len(schema)] == list(schema)
    assert [df.schema[c] for c in schema] == list(schema.values())
    assert df.height == rows
    assert sum(d.height for d in dropped) == dropped_rows


def test_hub_path_is_reachable_through_dispatch(monkeypatch):
    calls = []

    def fake_load_hub(name, subset=None, split="train"):
        calls.append((name, subset, split))
        return pl.DataFrame({"sentence1": ["a", "b"], "sentence2": ["c", "d"], "label": [5.0, 2.5]})

    monkeypatch.setattr(hub, "load_hub", fake_load_hub)
    spec = SourceSpec(
        kind="hub",
        path="sentence-transformers/stsb",
        split="test",
        output="scored",
        columns={"score": "label"},
        score_max=5,
    )
    df = read_source(spec)
    assert calls == [("sentence-transformers/stsb", None, "test")]
    assert df.select(*SCORED, "score_raw", "row").rows() == [("a", "c", 1.0, 5.0, 1), ("b", "d", 0.5, 2.5, 2)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "csv", "path": "x"}, r"prep.sources.kind: Input should be 'beir', 'stsb', 'sts', 'snli'"),
        (
            {"kind": "stsb", "path": "x", "output": "pairs"},
            r"output 'pairs' is not available for kind 'stsb'; allowed: \['scored'\]",
        ),
        ({"kind": "table", "path": "x"}, r"kind 'table' needs `output`"),
        ({"kind": "beir", "path": "scifact"}, r"kind 'beir' needs `split`"),
        (
            {"kind": "mrpc", "path": "mrpc", "spilt": "train"},
            r"prep.sources.spilt: Extra inputs are not permitted",
        ),
        ({"kind": "table", "path": "x", "output": "scored", "score_max": 0}, r"score_max must be positive"),
    ],
)
def test_spec_errors_name_the_key_and_allowed_values(data, message):
    with pytest.raises(EmbedbenchError, match=message):
        validate_section(SourceSpec, data, section="prep.sources", source="bench.toml")


def test_folder_without_split_and_bad_label_list(tmp_path, shared_data):
    with pytest.raises(EmbedbenchError, match="is a folder: set the source's `split`"):
        read_source(SourceSpec(kind="mrpc", path="mrpc"))
    bad = tmp_path / "labels.json"
    bad.write_text('{"not": "a list"}')
    with pytest.raises(EmbedbenchError, match="expected a JSON list of label strings"):
        read_source(SourceSpec(kind="labelled", path="banking77/test.csv", labels=str(bad)))


def test_resolve_path_prefers_existing_then_data_dir(tmp_path, shared_data, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_path("scifact") == shared_data / "scifact"
    (tmp_path / "scifact").mkdir()
    assert resolve_path("scifact").resolve() == tmp_path / "scifact"
    assert resolve_path(tmp_path / "other") == tmp_path / "other"


def test_limit_keeps_the_first_rows():
    from embedbench.data import SourceSpec, read_source

    full = read_source(SourceSpec(kind="mrpc", path="mrpc", split="train", output="pairs"))
    head = read_source(SourceSpec(kind="mrpc", path="mrpc", split="train", output="pairs", limit=25))
    assert head.height == 25
    assert head.equals(full.head(25))


def test_limit_must_be_positive():
    import pydantic
    import pytest

    from embedbench.data import SourceSpec

    with pytest.raises(pydantic.ValidationError, match="limit"):
        SourceSpec(kind="mrpc", path="mrpc", split="train", limit=0)
