"""Markdown report from stored results alone: summary, CIs, significance marks, details, plots, provenance."""

from __future__ import annotations

import re

import numpy as np
import pytest

from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.report import analyse, build_report
from embedbench.evalsuite.results import ResultsStore
from embedbench.evalsuite.statistics import holm
from embedbench.evalsuite.types import TaskResult


def retrieval(model, values):
    values = [float(v) for v in values]
    mrr = [min(1.0, v * 1.1) for v in values]
    return TaskResult(
        "scifact", "retrieval", model, f"fp-{model}", "scifact:test", "h1", "ndcg@10",
        {"ndcg@10": float(np.mean(values)), "mrr@10": float(np.mean(mrr))},
        {"id": [f"q{i}" for i in range(len(values))], "ndcg@10": values, "mrr@10": mrr},
        {"ndcg@10": "mean:ndcg@10", "mrr@10": "mean:mrr@10"},
    )


def sts(model, noise, seed):
    rng = np.random.default_rng(seed)
    gold = np.random.default_rng(0).uniform(0, 1, 300)
    score = gold + rng.normal(0, noise, 300)
    from scipy import stats

    return TaskResult(
        "stsb", "sts", model, f"fp-{model}", "stsbenchmark:test", "h2", "spearman",
        {"spearman": float(stats.spearmanr(score, gold).statistic), "pearson": float(stats.pearsonr(score, gold).statistic)},
        {"id": [str(i) for i in range(300)], "score": score.tolist(), "gold": gold.tolist()},
        {"spearman": "spearman:score,gold", "pearson": "pearson:score,gold"},
    )


@pytest.fixture
def store(tmp_path):
    store = ResultsStore(tmp_path / "results")
    base = np.random.default_rng(0).uniform(0.2, 0.9, 150)
    store.save(retrieval("base", base))
    store.save(retrieval("better", np.clip(base + 0.08 + np.random.default_rng(1).normal(0, 0.05, 150), 0, 1)))
    store.save(retrieval("same", np.clip(base + np.random.default_rng(2).normal(0, 0.05, 150), 0, 1)))
    store.save(sts("base", 0.3, 1))
    store.save(sts("better", 0.1, 2))
    # a metric with no per-item data (as from mteb): shown without CI
    store.save(TaskResult("mteb-STS12", "mteb", "base", "fp-base", "sts12", "h3", "cosine_spearman", {"cosine_spearman": 0.7}))
    return store


def test_report_contents(store, tmp_path):
    path = build_report(store, tmp_path / "reports", "demo", baseline="base", models=["base", "same", "better"],
                        n_boot=500, command="embedbench report --config bench.toml")
    text = path.read_text()
    assert path == tmp_path / "reports" / "demo.md"
    summary = text.split("## Summary")[1].split("\n## ")[0]
    table = [[c.strip() for c in line.strip("|").split("|")] for line in summary.splitlines() if line.startswith("| ")]
    head, rows = table[0], {r[0]: dict(zip(table[0], r, strict=True)) for r in table[1:]}
    # tasks as rows, models as columns in config order, baseline first
    assert head == ["task", "metric", "base (baseline)", "same", "better"]
    assert list(rows) == ["mteb-STS12", "scifact", "stsb"] and rows["stsb"]["metric"] == "spearman"
    # "better" is best on both tasks with a CI: bold, with a significant delta (‡) against the baseline
    for task in ("scifact", "stsb"):
        assert re.fullmatch(r"\*\*0\.\d{4}\*\*<br>\[0\.\d{4}, 0\.\d{4}\]<br>Δ \+0\.\d{4}‡", rows[task]["better"])
    assert rows["stsb"]["same"] == "–"  # no STS result for "same"
    assert rows["mteb-STS12"]["base (baseline)"] == "**0.7000**"
    assert "3 comparisons with the baseline" in text and "Holm-adjusted" in text
    for section in ("## scifact", "## stsb", "## mteb-STS12", "## Provenance", "## Reproduce"):
        assert section in text
    assert "| better | +0." in text and "improved | hurt | tied" in text
    assert "embedbench report --config bench.toml" in text
    figures = sorted(p.name for p in (tmp_path / "reports" / "demo_files").iterdir())
    assert figures == ["mteb-STS12_cosine_spearman.png", "scifact_diff_better.png", "scifact_diff_same.png",
                       "scifact_ndcg_10.png", "stsb_spearman.png"]
    for name in figures:
        assert f"(demo_files/{name})" in text
        assert (tmp_path / "reports" / "demo_files" / name).read_bytes()[:4] == b"\x89PNG"
    prov = text.split("## Provenance")[1]
    assert prov.count("| fp-") == 0 and prov.count("`fp-") == 6  # one row per stored result


def test_analysis_numbers(store):
    a = analyse(store.load_all(), baseline="base", n_boot=500, seed=0)
    c = a.comparisons[("better", "scifact")]
    base, better = a.get("base", "scifact"), a.get("better", "scifact")
    assert c.diff == pytest.approx(better.metrics["ndcg@10"] - base.metrics["ndcg@10"])
    assert c.test == "randomization" and a.comparisons[("better", "stsb")].test == "bootstrap"
    keys = list(a.comparisons)
    assert [a.holm_p[k] for k in keys] == pytest.approx(holm([a.comparisons[k].p_value for k in keys]))
    ci = a.cis[("base", "scifact", "mrr@10")]
    assert ci.low < base.metrics["mrr@10"] < ci.high
    assert ("base", "mteb-STS12", "cosine_spearman") not in a.cis


def test_report_is_reproducible_from_results(store, tmp_path):
    one = build_report(store, tmp_path / "r1", "x", baseline="base", n_boot=300).read_text()
    two = build_report(store, tmp_path / "r2", "x", baseline="base", n_boot=300).read_text()
    drop_date = re.compile(r"rendered \S+ from|\| \d{4}-\d\d-\d\dT[^|]*\|")
    assert drop_date.sub("", one) == drop_date.sub("", two)


def test_unknown_baseline_and_empty_store(store, tmp_path):
    with pytest.raises(EmbedbenchError, match="baseline 'nobody' has no stored results"):
        build_report(store, tmp_path, "x", baseline="nobody")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmbedbenchError, match="no results to report"):
        build_report(ResultsStore(tmp_path / "empty"), tmp_path, "x")


def test_notes_appear_under_the_summary(store, tmp_path):
    text = build_report(store, tmp_path / "r", "n", baseline="base", n_boot=200, notes=["Left out: mpnet."]).read_text()
    summary, rest = text.split("## Summary", 1)
    assert "> Left out: mpnet." in rest.split("\n## ", 1)[0]


def test_rendering_is_pure_and_figures_are_a_separate_step(store, tmp_path):
    from embedbench.evalsuite.report import plan_figures, render

    a = analyse(store.load_all(), baseline="base", n_boot=200)
    planned = plan_figures(a)
    before = sorted(tmp_path.rglob("*"))
    text = render(a, name="p", figures=planned, rel="p_files", command="c", rendered="2026-01-01T00:00:00+00:00")
    assert sorted(tmp_path.rglob("*")) == before  # rendering writes nothing
    assert "rendered 2026-01-01T00:00:00+00:00" in text
    for f in planned:
        assert f"![{f.alt}](p_files/{f.file})" in text
    path = planned[0].draw(tmp_path / "figs")
    assert path == tmp_path / "figs" / planned[0].file and path.read_bytes()[:4] == b"\x89PNG"


def test_mteb_runs_show_their_spread(tmp_path):
    """An mteb result with no per-item data but its experiments kept: the report shows mean ± sd over runs."""
    store = ResultsStore(tmp_path / "results")
    runs = [0.70, 0.74, 0.72]
    std = float(np.std(runs))
    store.save(TaskResult("mteb-Banking77Classification", "mteb", "base", "fp-base", "banking77", "h", "accuracy",
                          {"accuracy": 0.72, "accuracy_std": std}, provenance={"accuracy_per_run": runs}))
    text = build_report(store, tmp_path / "reports", "spread", baseline=None, n_boot=100).read_text()
    summary = text.split("## Summary")[1].split("\n## ")[0]
    assert f"0.7200** ± {std:.4f} sd (3 runs, 0.7000–0.7400)" in summary
    assert "± sd is then the spread over the task's own runs" in " ".join(text.split())
