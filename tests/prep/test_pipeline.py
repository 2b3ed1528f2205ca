"""The prep pipeline end to end on small hand-made files, bad input, skipping, and the negatives hook."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

from embedbench.config import validate_section
from embedbench.errors import EmbedbenchError
from embedbench.prep.config import PrepConfig, load_prep_config
from embedbench.prep.pipeline import run_prep

CAT = "A cat is a small domesticated carnivorous mammal with soft fur."
ROWS = [
    {"anchor": "what is a cat", "positive": CAT},
    {"anchor": "what is a cat", "positive": CAT},  # exact duplicate of row 1
    {"anchor": "   ", "positive": "orphan"},  # empty after normalisation
    {"anchor": "held out question about dogs", "positive": "Dogs are loyal."},  # in the eval split
    {"anchor": "What is a cat?", "positive": CAT},  # near duplicate of row 1
] + [
    {"anchor": f"question {i} on topic {i * 7}", "positive": f"answer {i}: topic {i * 7} explained at length"}
    for i in range(40)
]
EVAL = [{"anchor": "held out question about dogs", "positive": "A text only used for evaluation."}]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def config_dict(tmp_path: Path, **set_overrides) -> dict:
    train = write_jsonl(tmp_path / "train.jsonl", ROWS)
    ev = write_jsonl(tmp_path / "eval.jsonl", EVAL)
    toy = {
        "train": [{"kind": "table", "path": str(train), "output": "pairs"}],
        "normalise": {"token_count": "estimate", "max_tokens": 12},
        "near": {"on": "row", "threshold": 0.8},
        "split": {"dev": 0.25, "group_by": "anchor", "seed": 3},
    }
    toy.update(set_overrides)
    return {
        "output_dir": "out",
        "report": "reports/prep.md",
        "eval": {
            "toy-test": {
                "source": {"kind": "table", "path": str(ev), "output": "pairs"},
                "columns": ["anchor"],
            }
        },
        "sets": {"toy": toy},
    }


def make(data: dict) -> PrepConfig:
    return validate_section(PrepConfig, data, section="prep", source="test.toml")


def run(cfg: PrepConfig, root: Path, **kw):
    logs: list[str] = []
    outcomes = run_prep(cfg, root=root, log=logs.append, **kw)
    return outcomes, logs


def test_end_to_end(tmp_path):
    (outcome,), logs = run(make(config_dict(tmp_path)), tmp_path)
    out = tmp_path / "out" / "toy"
    assert not outcome.skipped
    train, dev = pl.read_parquet(out / "train.parquet"), pl.read_parquet(out / "dev.parquet")
    assert train.columns == ["anchor", "positive"] == dev.columns
    assert not (out / "test.parquet").exists()
    assert set(train["anchor"]).isdisjoint(dev["anchor"])
    assert train.height + dev.height == 41

    dropped = pl.read_parquet(out / "dropped.parquet").sort("row_id")
    assert {"reason", "duplicate_of", "source", "stage", "duplicate_text", "detail"} <= set(dropped.columns)
    source = f"table:{tmp_path / 'train.jsonl'}"
    assert dropped.select("row", "reason", "stage", "duplicate_of").rows() == [
        (2, "exact_duplicate", "exact", f"{source}:1"),
        (3, "empty_text", "normalise", None),
        (4, "leak_exact", "leakage", "toy-test:1"),
        (5, "near_duplicate", "near", f"{source}:1"),
    ]
    assert dropped["source"].unique().to_list() == [source]

    m = json.loads((out / "manifest.json").read_text())
    assert m["rows"] == {"read": 45, "normalise": 44, "exact": 43, "near": 42, "leakage": 41, "out": 41}
    assert m["drops"] == {
        "exact": {"exact_duplicate": 1},
        "leakage": {"leak_exact": 1},
        "near": {"near_duplicate": 1},
        "normalise": {"empty_text": 1},
    }
    assert m["splits"] == {"train": train.height, "dev": dev.height, "test": 0}
    assert all(len(i["sha256"]) == 64 for i in m["inputs"]) and len(m["inputs"]) == 2
    assert m["provenance"]["versions"]["polars"] == pl.__version__
    assert m["tokens"]["max_tokens"] == 12 and m["tokens"]["flagged_too_long"] == 1  # the cat definition
    assert set(m["timings"]) >= {"read_s", "normalise_s", "exact_s", "near_s", "leakage_s", "total_s"}
    assert any("toy: 45 rows read -> 41 kept" in line for line in logs)

    report = (tmp_path / "reports" / "prep.md").read_text()
    assert "| toy | 45 | 41 |" in report and "**near_duplicate**" in report
    assert (tmp_path / "reports" / "prep_toy_lengths.png").stat().st_size > 1000


def test_outputs_load_with_datasets(tmp_path):
    import datasets

    run(make(config_dict(tmp_path)), tmp_path, report=False)
    out = tmp_path / "out" / "toy"
    ds = datasets.load_dataset(
        "parquet",
        data_files={"train": str(out / "train.parquet"), "dev": str(out / "dev.parquet")},
        cache_dir=str(tmp_path / "hf"),
    )
    assert ds["train"].column_names == ["anchor", "positive"]
    assert ds["train"].num_rows + ds["dev"].num_rows == 41


def test_unchanged_set_is_skipped_force_and_changes_rebuild(tmp_path):
    cfg = make(config_dict(tmp_path))
    run(cfg, tmp_path, report=False)
    manifest = tmp_path / "out" / "toy" / "manifest.json"
    first = manifest.read_text()
    (outcome,), logs = run(cfg, tmp_path, report=False)
    assert outcome.skipped and "unchanged" in logs[0] and "skipped" in logs[0]
    assert manifest.read_text() == first
    (outcome,), _ = run(cfg, tmp_path, report=False, force=True)
    assert not outcome.skipped
    changed = make(config_dict(tmp_path, split={"dev": 0.5, "group_by": "anchor"}))
    (outcome,), _ = run(changed, tmp_path, report=False)
    assert not outcome.skipped
    write_jsonl(tmp_path / "train.jsonl", ROWS[:-1])  # an input changes
    (outcome,), _ = run(changed, tmp_path, report=False)
    assert not outcome.skipped and outcome.manifest["rows"]["read"] == 44


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (
            {"split": {"group_by": "nope"}},
            ["prep.sets.toy.split.group_by", "'nope'", "allowed columns", "anchor"],
        ),
        ({"exact": {"columns": ["anchr"]}}, ["prep.sets.toy.exact.columns", "anchr"]),
        ({"near": {"on": "text"}}, ["prep.sets.toy.near.on", "'text'"]),
    ],
)
def test_a_step_naming_a_missing_column_fails_before_writing(tmp_path, overrides, expected):
    with pytest.raises(EmbedbenchError) as err:
        run(make(config_dict(tmp_path, **overrides)), tmp_path)
    for part in expected:
        assert part in str(err.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_missing_source_file_names_the_key(tmp_path):
    data = config_dict(tmp_path)
    data["sets"]["toy"]["train"][0]["path"] = str(tmp_path / "missing.jsonl")
    with pytest.raises(
        EmbedbenchError, match=r"prep\.sets\.toy\.train\[0\]\.path.*missing\.jsonl.*not found"
    ):
        run(make(data), tmp_path)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (
            lambda d: d["sets"]["toy"].update(dedupe=True),
            ["prep.sets.toy.dedupe: unknown key", "allowed keys at prep.sets.toy", "'near'"],
        ),
        (
            lambda d: d["sets"]["toy"].update(steps=["normalise", "fuzzy"]),
            ["prep.sets.toy.steps.1", "'normalise'", "'semantic'"],
        ),
        (
            lambda d: d["sets"]["toy"]["near"].update(threshold=1.5),
            ["prep.sets.toy.near.threshold", "less than 1"],
        ),
        (
            lambda d: d["sets"]["toy"].update(leakage={"against": ["stsb"]}),
            ["unknown evaluation split(s) ['stsb']", "toy-test"],
        ),
        (
            lambda d: d["sets"]["toy"]["normalise"].update(long_texts="cut"),
            ["prep.sets.toy.normalise.long_texts", "'flag' or 'drop'"],
        ),
        (lambda d: d.update(sets={"bad name": d["sets"]["toy"]}), ["'bad name'", "letters, digits"]),
    ],
)
def test_bad_config_names_key_and_allowed_values(tmp_path, mutate, expected):
    data = config_dict(tmp_path)
    mutate(data)
    with pytest.raises(EmbedbenchError) as err:
        make(data)
    for part in expected:
        assert part in str(err.value), str(err.value)


def test_failed_write_keeps_previous_output(tmp_path, monkeypatch):
    cfg = make(config_dict(tmp_path))
    run(cfg, tmp_path, report=False)
    out = tmp_path / "out" / "toy"
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    import embedbench.prep.store as store

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store, "write_json_atomic", boom)
    with pytest.raises(OSError, match="disk full"):
        run(cfg, tmp_path, report=False, force=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["toy"]  # no temporary folder left


def test_unknown_set_name(tmp_path):
    with pytest.raises(EmbedbenchError, match=r"unknown set\(s\) \['nope'\].*\['toy'\]"):
        run(make(config_dict(tmp_path)), tmp_path, sets=["nope"])


def test_bench_toml_prep_section_is_valid():
    cfg = load_prep_config(Path(__file__).resolve().parents[2] / "bench.toml")
    assert set(cfg.sets) == {"scifact-pairs", "snli-triplets", "stsb-scored", "mrpc-pairs"}
    assert {"sts12", "sts16", "stsb-test", "snli-test", "mrpc-test", "scifact-test-queries"} <= set(cfg.eval)


def test_real_mrpc_set(tmp_path, shared_data):
    """MRPC positive pairs checked against MRPC test: counts add up, and no kept text is in the test split."""
    data = {
        "output_dir": "out",
        "eval": {
            "mrpc-test": {"source": {"kind": "mrpc", "path": "mrpc", "split": "test", "output": "pair-class"}}
        },
        "sets": {
            "mrpc": {
                "train": [{"kind": "mrpc", "path": "mrpc", "split": "train", "output": "pairs"}],
                "normalise": {"token_count": "estimate", "max_tokens": 128},
                "near": {"threshold": 0.9},
            }
        },
    }
    (outcome,), _ = run(make(data), tmp_path, report=False)
    m = outcome.manifest
    assert m["rows"]["read"] == 2753
    dropped = sum(n for by in m["drops"].values() for n in by.values())
    assert m["rows"]["out"] + dropped == 2753
    kept = pl.concat([pl.read_parquet(tmp_path / "out" / "mrpc" / f"{s}.parquet") for s in ("train", "dev")])
    from embedbench.data import read_mrpc

    test = read_mrpc(shared_data / "mrpc" / "msr_paraphrase_test.txt")
    held = set(test["sentence1"].str.strip_chars()) | set(test["sentence2"].str.strip_chars())
    assert not (set(kept["anchor"]) | set(kept["positive"])) & held
    assert m["drops"]["leakage"]["leak_exact"] > 100


def test_negatives_hook_mines_triplets(tmp_path):
    data = config_dict(
        tmp_path,
        negatives={
            "model": "tiny",
            "num_negatives": 1,
            "range_max": 8,
            "relative_margin": None,
            "shortfall": "keep",
        },
    )
    (outcome,), _ = run(make(data), tmp_path, report=False)
    out = tmp_path / "out" / "toy"
    train = pl.read_parquet(out / "train.parquet")
    assert train.columns == ["anchor", "positive", "negative"]
    assert (train["negative"] != train["positive"]).all()
    assert set(outcome.manifest["negatives"]) == {"train", "dev"}
    assert (out / "negatives-train.stats.json").is_file()


def test_negatives_options_are_validated_by_mining_config(tmp_path):
    with pytest.raises(EmbedbenchError, match="num_negatives"):
        make(config_dict(tmp_path, negatives={"num_negatives": 0}))
    with pytest.raises(EmbedbenchError, match="negatives needs a 'pairs' set"):
        data = config_dict(tmp_path, negatives={})
        data["sets"]["toy"]["train"][0]["output"] = "triplets"
        make(data)


MINING = {"model": "tiny", "num_negatives": 1, "range_max": 8, "relative_margin": None, "shortfall": "keep"}


def test_negatives_corpus_txt_and_its_content_are_part_of_the_skip_key(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "emb.sqlite"))
    corpus = tmp_path / "pool.txt"
    corpus.write_text("".join(f"filler document {i} on topic {i % 5}\n" for i in range(30)), encoding="utf-8")
    cfg = make(config_dict(tmp_path, negatives={**MINING, "corpus": str(corpus)}))
    (first,), _ = run(cfg, tmp_path, report=False)
    assert not first.skipped and first.manifest["negatives"]["train"]["corpus_given"] == 30
    assert any(i["key"] == "prep.sets.toy.negatives.corpus" for i in first.manifest["inputs"])
    (again,), logs = run(cfg, tmp_path, report=False)
    assert again.skipped and "unchanged" in logs[0]
    corpus.write_text("".join(f"another document {i}\n" for i in range(12)), encoding="utf-8")  # same path
    (changed,), _ = run(cfg, tmp_path, report=False)
    assert not changed.skipped and changed.manifest["negatives"]["train"]["corpus_given"] == 12
    assert changed.manifest["inputs_hash"] != first.manifest["inputs_hash"]


def test_negatives_model_weights_are_part_of_the_skip_key(tmp_path, monkeypatch):
    import shutil

    from safetensors.numpy import load_file, save_file

    from embedbench.models import resolve

    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "emb.sqlite"))
    miner = tmp_path / "miner"
    shutil.copytree(resolve("tiny").path, miner)
    cfg = make(config_dict(tmp_path, negatives={**MINING, "model": str(miner)}))
    (first,), _ = run(cfg, tmp_path, report=False)
    assert not first.skipped
    assert any(i["key"] == "model.negatives" for i in first.manifest["inputs"])
    (again,), _ = run(cfg, tmp_path, report=False)
    assert again.skipped
    weights = miner / "model.safetensors"  # "retrain" the model: nudge one weight, save in place
    tensors = load_file(weights)
    name = sorted(tensors)[0]
    tensors[name] = tensors[name] + 0.01
    save_file(tensors, weights)
    (retrained,), _ = run(cfg, tmp_path, report=False)
    assert not retrained.skipped
    assert retrained.manifest["inputs_hash"] != first.manifest["inputs_hash"]


def test_relative_output_dir_is_under_root(tmp_path):
    os.chdir(tmp_path)
    (outcome,), _ = run(make(config_dict(tmp_path)), tmp_path / "root", report=False)
    assert outcome.out_dir == tmp_path / "root" / "out" / "toy"


def test_semantic_step_through_the_cached_encoder(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "emb.sqlite"))
    data = config_dict(tmp_path, steps=["normalise", "semantic"], semantic={"on": "row", "threshold": 0.9999})
    data["model"] = "tiny"
    (outcome,), _ = run(make(data), tmp_path, report=False)
    m = outcome.manifest
    assert m["drops"]["semantic"] == {"semantic_duplicate": 1}  # the identical row; tiny's geometry is random
    assert any(i["key"] == "model.semantic" and i["source"] == "tiny" for i in m["inputs"])
    d = pl.read_parquet(tmp_path / "out" / "toy" / "dropped.parquet").filter(pl.col("stage") == "semantic")
    assert d["row"].to_list() == [2] and d["detail"].item().startswith("column=row; cosine=1.0")
