"""Contamination audit: hand-made sets with a known answer, real STS and SciFact data, the CLI and its exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from embedbench.cli import app
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.config import ContaminationConfig
from embedbench.evalsuite.contamination import (
    Matcher,
    TaskAudit,
    audit_tasks,
    build_tasks,
    task_items,
    training_texts,
)
from embedbench.evalsuite.tasks import STSTask
from embedbench.minhash import jaccard
from embedbench.text import normalise_expr

# Four test pairs whose first sentence has a known fate in the training data below.
TEST_PAIRS = [
    ("A man is playing a guitar on stage.", "Parliament debated the new budget for hours."),  # exact copy
    ("A woman is slicing an onion in the kitchen.", "The train was delayed by snow."),  # case + punctuation
    ("The cat sat on the mat near the window.", "Volcanic ash closed the airport."),  # paraphrase only
    ("Heavy rain is expected across the north tomorrow.", "Tickets for the concert sold out."),  # control
]
TRAIN_PAIRS = [
    ("A man is playing a guitar on stage.", "Someone performs music for a crowd."),
    ("a woman is slicing an onion in the kitchen!", "Vegetables are being cut."),
    ("Near the window, a cat was sitting on the mat.", "A pet rests indoors."),
    ("The committee will publish its findings next spring.", "A report is due later."),
]


def write_sts(path: Path) -> Path:
    rows = [{"sentence1": a, "sentence2": b, "score": 0.5} for a, b in TEST_PAIRS]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_train(path: Path) -> Path:
    path.write_text("".join(json.dumps({"anchor": a, "positive": p}) + "\n" for a, p in TRAIN_PAIRS), encoding="utf-8")
    return path


def write_config(tmp_path: Path, sts: Path, extra: str = "") -> Path:
    cfg = tmp_path / "bench.toml"
    cfg.write_text(
        f'[eval]\ntasks = [{{ name = "toy", task = "sts", source = {{ kind = "table", path = "{sts}", output = "scored" }} }}]\n'
        f'{extra}',
        encoding="utf-8",
    )
    return cfg


@pytest.fixture
def toy(tmp_path):
    return write_sts(tmp_path / "test.jsonl"), write_train(tmp_path / "train.jsonl")


def test_the_known_cases_without_a_semantic_check(toy):
    sts, train = toy
    training = training_texts([train])
    assert training.texts.height == 8 and training.files[0]["path"] == str(train)
    (audit,) = audit_tasks(training, {"toy": STSTask("toy", {"kind": "table", "path": str(sts), "output": "scored"})}, ContaminationConfig(examples=5))
    assert (audit.n_items, audit.counts) == (4, {"exact": 1, "near": 1, "semantic": 0, "any": 2})
    assert audit.share() == 0.5 and audit.over_limit and not audit.semantic
    by_kind = {e["kind"]: e for e in audit.examples}
    assert by_kind["exact"]["item"] == "1" and by_kind["exact"]["train_ref"] == "train.jsonl:1:anchor"
    assert by_kind["near"]["train_text"] == TRAIN_PAIRS[1][0] and 0.8 <= by_kind["near"]["score"] < 1.0
    assert TaskAudit.from_json(json.loads(json.dumps(audit.to_json()))) == audit


def test_only_the_semantic_check_catches_the_paraphrase(toy):
    """all-MiniLM-L6-v2 puts the paraphrase at cosine 0.95; every control pair stays far below 0.9."""
    from embedbench.encode import load_encoder

    sts, train = toy
    encoder = load_encoder("all-MiniLM-L6-v2", show_progress=False)
    cfg = ContaminationConfig(semantic_threshold=0.9, examples=5)
    (audit,) = audit_tasks(training_texts([train]), {"toy": STSTask("toy", {"kind": "table", "path": str(sts), "output": "scored"})}, cfg, encoder=encoder)
    assert audit.counts == {"exact": 1, "near": 1, "semantic": 1, "any": 3}
    sem = next(e for e in audit.examples if e["kind"] == "semantic")
    assert (sem["item"], sem["test_text"], sem["train_text"]) == ("3", TEST_PAIRS[2][0], TRAIN_PAIRS[2][0])
    assert 0.9 <= sem["score"] < 1.0


def test_sts12_against_stsb_train_matches_a_plain_python_count(shared_data):
    """Exact share of STS12 pairs with a sentence in STS Benchmark train, against plain Python sets."""
    from embedbench.data import read_stsb

    spec = json.dumps({"kind": "stsb", "path": str(shared_data / "stsbenchmark"), "split": "train"})
    training = training_texts([spec])
    task = build_tasks([], ["sts12"])["sts12"]
    items = task_items(task)
    (audit,) = audit_tasks(training, {"sts12": task}, ContaminationConfig())

    def norm(texts):
        return set(pl.DataFrame({"t": texts}).select(normalise_expr(pl.col("t")))["t"])

    train = read_stsb(shared_data / "stsbenchmark" / "sts-train.csv")
    held = norm(train["sentence1"].to_list() + train["sentence2"].to_list())
    normed = items.with_columns(normalise_expr(pl.col("text")))
    expected = normed.filter(pl.col("text").is_in(list(held)))["item"].n_unique()
    assert audit.n_items == 3108 and audit.counts["exact"] == expected > 500
    assert audit.counts["any"] >= expected
    # the mteb task with local data reads the same test texts through mteb's own load_data
    mteb_items = task_items(build_tasks([], ["mteb-STS12"])["mteb-STS12"])
    assert mteb_items["item"].n_unique() == 3108 and set(mteb_items["text"]) == set(items["text"])


def test_scifact_test_claims_against_train_claims(shared_data):
    """Retrieval items are the judged test queries; training pairs' anchors are the train claims."""
    spec = json.dumps({"kind": "beir", "path": str(shared_data / "scifact"), "split": "train"})
    task = build_tasks([], ["scifact"])["scifact"]
    items = task_items(task)
    assert items["item"].n_unique() == 300
    (audit,) = audit_tasks(training_texts([spec]), {"scifact": task}, ContaminationConfig())
    from embedbench.data import beir_pairs, read_beir

    train = beir_pairs(read_beir(shared_data / "scifact", "train"))
    held = {" ".join(t.split()) for t in train["anchor"].to_list() + train["positive"].to_list()}
    test = read_beir(shared_data / "scifact", "test").queries["text"].to_list()
    assert audit.n_items == 300 and audit.counts["exact"] == sum(" ".join(q.split()) in held for q in test) == 2
    near = [e for e in audit.examples if e["kind"] == "near"]
    assert audit.counts["near"] > 10 and near  # negated claims ("... decreases" / "... increases") are near copies
    assert all(jaccard(e["test_text"], e["train_text"]) > 0.6 for e in near)  # exact Jaccard agrees


def test_prepared_set_and_model_folders_are_read_from_their_manifests(tmp_path, toy):
    _, train = toy
    frame = pl.read_ndjson(train)
    set_dir = tmp_path / "data" / "prepared" / "toy"
    set_dir.mkdir(parents=True)
    frame.write_parquet(set_dir / "train.parquet")
    (set_dir / "manifest.json").write_text(json.dumps({"set": "toy"}))
    assert training_texts([set_dir]).texts.height == 8
    model = tmp_path / "models" / "run"
    model.mkdir(parents=True)
    manifest = {"step": "train", "datasets": {"toy": {}}, "inputs": {"toy": {"path": "data/prepared/toy/train.parquet"}}}
    (model / "manifest.json").write_text(json.dumps(manifest))
    got = training_texts([model])
    assert got.texts.height == 8 and got.texts["ref"][0] == "toy:1:anchor"


def test_bad_training_input_is_one_located_line(tmp_path):
    with pytest.raises(EmbedbenchError, match="not found"):
        training_texts([tmp_path / "missing.parquet"])
    (tmp_path / "folder").mkdir()
    with pytest.raises(EmbedbenchError, match=r"folder/manifest\.json: missing"):
        training_texts([tmp_path / "folder"])
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(EmbedbenchError, match="broken.parquet"):
        training_texts([bad])
    with pytest.raises(EmbedbenchError, match="kind"):
        training_texts(['{"kind": "nope", "path": "x"}'])
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"question": "q", "answer": "a"}\n')
    with pytest.raises(EmbedbenchError, match="no known shape"):
        training_texts([odd])


def test_cli_exits_by_the_limit(tmp_path, toy):
    sts, train = toy
    cfg = write_config(tmp_path, sts)
    runner = CliRunner()
    args = ["contamination", "--config", str(cfg), "--train", str(train), "--tasks", "toy"]
    failed = runner.invoke(app, args)
    assert failed.exit_code == 1, failed.output
    assert "50.0% (2)" in failed.output and "over limit" in failed.output and "A man is playing" in failed.output
    passed = runner.invoke(app, [*args, "--limit", "0.5"])
    assert passed.exit_code == 0, passed.output
    configured = write_config(tmp_path, sts, "[eval.contamination]\nlimits = { toy = 0.6 }\n")
    assert runner.invoke(app, [*args[:2], str(configured), *args[3:]]).exit_code == 0


def test_cli_bad_input_exits_2_with_one_line(tmp_path, toy):
    sts, train = toy
    cfg = write_config(tmp_path, sts)
    runner = CliRunner()
    missing_task = runner.invoke(app, ["contamination", "--config", str(cfg), "--train", str(train), "--tasks", "nosuch"])
    assert missing_task.exit_code == 2
    assert "unknown task 'nosuch'" in missing_task.output and len(missing_task.output.strip().splitlines()) == 1
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    unreadable = runner.invoke(app, ["contamination", "--config", str(cfg), "--train", str(broken), "--tasks", "toy"])
    assert unreadable.exit_code == 2 and "broken.parquet" in unreadable.output
    assert len(unreadable.output.strip().splitlines()) == 1
    for bad in (["--limit", "2"], ["--shape", "nonsense"]):
        out = runner.invoke(app, ["contamination", "--config", str(cfg), "--train", str(train), "--tasks", "toy", *bad])
        assert out.exit_code == 2 and out.output.startswith("error:"), out.output


def test_matcher_without_a_threshold_never_loads_a_model(toy):
    _, train = toy
    matcher = Matcher(training_texts([train]), ContaminationConfig())
    assert not matcher.semantic
    best = matcher.best(pl.Series(["A man is playing a guitar on stage.", "nothing like it"]))
    assert best.rows() == [("A man is playing a guitar on stage.", "exact", 1.0, TRAIN_PAIRS[0][0], "train.jsonl:1:anchor")]
    assert matcher.encoder is None


def test_report_shows_the_contamination_row_computed_once(tmp_path, toy, monkeypatch):
    """A fine-tuned model's folder with a training manifest gets a cached audit and a row in the report."""
    from embedbench.evalsuite import contamination as module
    from embedbench.evalsuite.config import EvalConfig
    from embedbench.evalsuite.report import build_report
    from embedbench.evalsuite.results import ResultsStore
    from embedbench.evalsuite.types import TaskResult

    sts, train = toy
    model = tmp_path / "models" / "tuned"
    model.mkdir(parents=True)
    pl.read_ndjson(train).write_parquet(tmp_path / "train.parquet")
    manifest = {"step": "train", "run": "tuned", "datasets": {"toy": {}}, "inputs": {"toy": {"path": str(tmp_path / "train.parquet")}}}
    (model / "manifest.json").write_text(json.dumps(manifest))
    cfg = EvalConfig.model_validate({
        "models": ["all-MiniLM-L6-v2", str(model)],
        "tasks": [{"name": "toy", "task": "sts", "source": {"kind": "table", "path": str(sts), "output": "scored"}}],
        "results_dir": str(tmp_path / "results"),
    })
    first = module.report_contamination(cfg)
    (name,) = first
    cached = tmp_path / "results" / name / "contamination" / "toy.json"
    assert cached.is_file() and first[name][0].counts["any"] == 2

    def fail(*_a, **_k):
        raise AssertionError("recomputed although nothing changed")

    monkeypatch.setattr(module.Matcher, "audit", fail)
    assert module.report_contamination(cfg) == first  # read from the cache

    store = ResultsStore(tmp_path / "results")
    for m in ("all-MiniLM-L6-v2", name):
        store.save(TaskResult("toy", "sts", m, f"fp-{m}", "toy", "h", "spearman", {"spearman": 0.8}, {}, {}))
    path = build_report(store, tmp_path / "reports", "eval", baseline="all-MiniLM-L6-v2", contamination=first, n_boot=100)
    text = path.read_text(encoding="utf-8")
    assert "<br>↳ contamination **50.0%** ⚠ over the 1% limit |" in text  # in the fine-tuned model's summary cell
    assert "## Training-data contamination" in text and "read this score as contaminated" in text
    assert len(store.load_all()) == 2  # the cached audits are not mistaken for results


def test_report_audit_says_why_it_is_missing(tmp_path, toy):
    from embedbench.evalsuite.config import EvalConfig
    from embedbench.evalsuite.contamination import report_contamination

    sts, _ = toy
    model = tmp_path / "models" / "gone"
    model.mkdir(parents=True)
    manifest = {"step": "train", "datasets": {"toy": {}}, "inputs": {"toy": {"path": "data/prepared/toy/train.parquet"}}}
    (model / "manifest.json").write_text(json.dumps(manifest))
    cfg = EvalConfig.model_validate({
        "models": [str(model)], "tasks": [{"name": "toy", "task": "sts", "source": {"kind": "table", "path": str(sts), "output": "scored"}}],
        "results_dir": str(tmp_path / "results"),
    })
    lines: list[str] = []
    assert report_contamination(cfg, log=lines.append) == {}
    assert len(lines) == 1 and "not measured" in lines[0] and "training file of dataset 'toy' not found" in lines[0]
