"""The report's model comparison: fine-tuned models beside their bases, paired gains, costs, the
score-vs-throughput plot and the left-out pairs, all from files beside the results."""

from __future__ import annotations

import numpy as np
import pytest

from embedbench.evalsuite.comparison import compare_models, duration
from embedbench.evalsuite.model_facts import ModelFacts, PlanFile, PlanRow, save_model_facts, save_plan
from embedbench.evalsuite.report import analyse, build_report
from embedbench.evalsuite.results import ResultsStore
from embedbench.evalsuite.statistics import compare, holm
from embedbench.evalsuite.types import TaskResult
from tests.evalsuite.test_report import retrieval, sts

TUNED = {"mini-ft": "mini", "tiny-ft": "tiny"}


def mteb(model, value):
    """A result without per-item data (as from mteb): its gain can only be shown, not tested."""
    return TaskResult("mteb-X", "mteb", model, f"fp-{model}", "x", "h3", "accuracy", {"accuracy": value})


@pytest.fixture
def store(tmp_path):
    store = ResultsStore(tmp_path / "results")
    base = np.random.default_rng(0).uniform(0.2, 0.9, 150)
    for i, (m, shift, noise) in enumerate([("mini", 0.0, 0.3), ("mini-ft", 0.08, 0.1), ("tiny", -0.05, 0.35),
                                           ("tiny-ft", -0.04, 0.34), ("big", 0.03, 0.2)]):
        store.save(retrieval(m, np.clip(base + shift + np.random.default_rng(10 + i).normal(0, 0.03, 150), 0, 1)))
        store.save(mteb(m, 0.70 + shift))
        if m != "big":  # big is left out of stsb
            store.save(sts(m, noise, 20 + i))
    store.save(retrieval("bm25", np.clip(base + 0.02, 0, 1)))
    return store


def facts():
    out = [ModelFacts("mini", parameters=22_713_216, dimension=384, max_seq_length=256, size_mb=86.7,
                      short_per_s=389.0, long_per_s=18.0, backend="openvino", machine="amd-epyc-2c",
                      backend_reason="fastest exact (openvino 24.7/s, torch 18.0/s long texts)"),
           ModelFacts("tiny", parameters=17_389_056, dimension=384, size_mb=66.4, short_per_s=700.0, long_per_s=40.0),
           ModelFacts("big", parameters=109_486_464, dimension=768, size_mb=417.7, short_per_s=76.0, long_per_s=1.6),
           ModelFacts("bm25", backend="bm25", precision="")]
    out += [ModelFacts(t, base_model=b, parameters=22_713_216 if b == "mini" else 17_389_056, dimension=384,
                       short_per_s=380.0 if b == "mini" else 690.0, long_per_s=17.5 if b == "mini" else 39.0,
                       train_seconds=754.0 if b == "mini" else 300.0) for t, b in TUNED.items()]
    return out


PLAN = PlanFile(rows=[
    PlanRow("mini", "scifact", "run", texts=5483, cached=0, est_seconds=300.0, actual_seconds=330.0),
    PlanRow("big", "scifact", "run", texts=5483, cached=5000, est_seconds=100.0, actual_seconds=90.0),
    PlanRow("big", "stsb", "left out", texts=2758, cached=8, tokens=40_000, est_seconds=3240.0,
            reason="CPU budget | 45 min"),
], machine="amd-epyc-2c", created="2026-12-01T10:00:00+00:00")

MODELS = ["mini", "mini-ft", "tiny", "tiny-ft", "big", "bm25"]


def table(text, heading):
    """The first Markdown table under ``heading``: rows as dicts keyed by the header cells."""
    part = text.split(heading, 1)[1].split("\n#", 1)[0]
    lines = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in part.splitlines() if ln.startswith("| ")]
    first = [i for i, ln in enumerate(lines) if ln == lines[0]][0]
    return [dict(zip(lines[first], ln, strict=True)) for ln in lines[first + 1:]]


def a_gain(text, tuned, task):
    """The gain table's row of ``tuned`` on ``task``, with the two scores read off the summary."""
    row = next(r for r in table(text, "### Fine-tuning gain per base") if r["fine-tuned"] == tuned and r["task"] == task)
    summary = next(r for r in table(text, "## Summary") if r["task"] == task)
    base = summary.get(row["base"]) or summary[f"{row['base']} (baseline)"]
    return row | {"base_value": base.split("<br>")[0].strip("*"),
                  "tuned_value": summary[tuned].split("<br>")[0].strip("*")}


def test_gains_are_paired_tests_against_each_models_own_base(store):
    a = analyse(store.load_all(), baseline="mini", models_order=MODELS, n_boot=300, facts={f.name: f for f in facts()},
                plan=PLAN)
    mc = a.comparison
    assert mc.bases == ["mini", "tiny", "big"] and mc.tuned == {"mini": ["mini-ft"], "tiny": ["tiny-ft"]}
    assert mc.compared == ["mini", "mini-ft", "tiny", "tiny-ft", "big"]  # bm25 is a baseline, not a base model
    for (tuned, task), g in mc.gains.items():
        assert g.base == TUNED[tuned]
        if task == "mteb-X":
            assert g.comparison is None and g.holm_p is None  # no per-item data: shown, untested
            continue
        ref = compare(a.get(tuned, task), a.get(g.base, task), g.metric, n=300, seed=0,
                      test="randomization" if task == "scifact" else "bootstrap")
        assert g.comparison == ref and g.diff == pytest.approx(ref.diff)
    tested = [k for k, g in mc.gains.items() if g.comparison is not None]
    assert len(tested) == 4  # 2 fine-tuned models × 2 tasks with per-item data: one Holm family
    assert [mc.gains[k].holm_p for k in tested] == pytest.approx(holm([mc.gains[k].comparison.p_value for k in tested]))
    # big has no stsb result, so the mean score is over the other two tasks
    assert mc.common_tasks == ["mteb-X", "scifact"]
    assert mc.mean_scores["big"] == pytest.approx((a.get("big", "mteb-X").metrics["accuracy"]
                                                   + a.get("big", "scifact").metrics["ndcg@10"]) / 2)
    assert [(r.model, r.task) for r in mc.left_out] == [("big", "stsb")]


def test_report_has_the_comparison_costs_plot_and_left_out_pairs(store, tmp_path):
    save_model_facts(store.root, facts())
    save_plan(store.root, PLAN)
    text = build_report(store, tmp_path / "reports", "cmp", baseline="mini", models=MODELS, n_boot=300).read_text()

    side = {r["task"]: r for r in table(text, "## Model comparison")}
    assert list(side) == ["mteb-X", "scifact", "stsb"]
    assert list(side["stsb"])[2:] == ["mini<br>→ mini-ft", "tiny<br>→ tiny-ft", "big"]  # each base beside its own
    g = a_gain(text, "mini-ft", "scifact")
    assert side["scifact"]["mini<br>→ mini-ft"] == f"{g['base_value']} → **{g['tuned_value']}**<br>{g['gain']}‡ {g['95% CI']}"
    assert side["stsb"]["big"] == "left out" and side["mteb-X"]["tiny<br>→ tiny-ft"] == "0.6500 → 0.6600<br>+0.0100 (untested)"
    assert "- **mini-ft** over **mini**: better on 3 of 3 tasks (2 significantly)" in text

    gains = table(text, "### Fine-tuning gain per base")
    assert [(g["fine-tuned"], g["task"]) for g in gains] == [
        ("mini-ft", "mteb-X"), ("mini-ft", "scifact"), ("mini-ft", "stsb"),
        ("tiny-ft", "mteb-X"), ("tiny-ft", "scifact"), ("tiny-ft", "stsb")]
    assert gains[1]["test"] == "randomization" and gains[2]["test"] == "bootstrap" and gains[0]["test"] == "no per-item data"

    costs = {r["model"]: r for r in table(text, "### Cost")}
    assert list(costs) == MODELS
    assert costs["mini"]["parameters"] == "22.7M" and costs["mini"]["size on disk"] == "87 MB"
    assert costs["mini"]["backend"] == "openvino fp32" and costs["mini"]["short texts/s"] == "389"
    assert costs["mini-ft"]["base"] == "mini" and costs["mini-ft"]["training time"] == "12.6 min"
    assert costs["big"]["long documents/s"] == "1.6" and costs["bm25"]["mean main score (2 tasks)"] == "–"
    assert "on `amd-epyc-2c`" in text and "every compared model ran (mteb-X, scifact)" in text
    assert "The plan estimated 6.7 min for the 2 model × task pairs that ran; they took 7.0 min (1.05× the estimate)." in " ".join(text.split())

    assert "- mini: fastest exact (openvino 24.7/s, torch 18.0/s long texts)" in text
    prov = {(r["model"], r["task"]): r for r in table(text, "## Provenance")}
    assert prov[("mini", "scifact")]["backend"] == "openvino fp32" and prov[("mini", "scifact")]["estimated s"] == "300.0"
    assert prov[("tiny", "stsb")]["estimated s"] == "–"

    left = table(text, "## Left out")
    assert left == [{"model": "big", "task": "stsb", "texts": "2,758", "to encode": "2,750", "estimated time": "54.0 min",
                     "reason": "CPU budget / 45 min"}]
    summary = {r["task"]: r for r in table(text, "## Summary")}
    assert summary["stsb"]["big"] == "left out" and summary["stsb"]["bm25"] == "–"

    png = tmp_path / "reports" / "cmp_files" / "score_vs_throughput.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "![mean main score over 2 tasks against encode throughput](cmp_files/score_vs_throughput.png)" in text


def test_without_models_and_plan_files_the_sections_are_omitted(store, tmp_path):
    text = build_report(store, tmp_path / "reports", "bare", baseline="mini", models=MODELS, n_boot=200).read_text()
    assert "## Model comparison" not in text and "## Left out" not in text and "### Cost" not in text
    assert not (tmp_path / "reports" / "bare_files" / "score_vs_throughput.png").exists()
    summary = {r["task"]: r for r in table(text, "## Summary")}
    assert summary["stsb"]["big"] == "–"  # without plan.json a missing pair is just missing


def test_costs_without_fine_tuned_models_and_facts_with_gaps(store, tmp_path):
    """models.json with only some facts: the cost table shows what is known, '–' elsewhere, no gains."""
    save_model_facts(store.root, [ModelFacts("tiny", dimension=384)])
    text = build_report(store, tmp_path / "reports", "gaps", baseline="mini", models=["mini", "tiny"], n_boot=200).read_text()
    assert "### Fine-tuning gain per base" not in text and "## Left out" not in text
    assert table(text, "### Cost") == [{
        "model": "tiny", "base": "–", "backend": "torch fp32", "parameters": "–", "dimension": "384",
        "max tokens": "–", "size on disk": "–", "short texts/s": "–", "long documents/s": "–", "training time": "–",
        "mean main score (3 tasks)": table(text, "### Cost")[0]["mean main score (3 tasks)"]}]
    assert "score_vs_throughput" not in text  # no throughput measured: no plot


def test_compare_models_is_pure_and_durations_read_plainly(store):
    results = {(r.model, r.task): r for r in store.load_all()}
    mc = compare_models(results, MODELS, sorted({t for _, t in results}), {}, None, n_boot=100)
    assert mc.tuned == {} and mc.gains == {} and mc.left_out == []
    assert mc.bases == ["mini", "mini-ft", "tiny", "tiny-ft", "big"]  # nothing says who was fine-tuned
    # a fine-tuned model whose base has no results stands alone
    mc = compare_models(results, MODELS, sorted({t for _, t in results}),
                        {"mini-ft": ModelFacts("mini-ft", base_model="ghost"), "tiny-ft": ModelFacts("tiny-ft", base_model="tiny")},
                        None, n_boot=100)
    assert mc.bases == ["mini", "mini-ft", "tiny", "big"] and mc.tuned == {"tiny": ["tiny-ft"]}
    assert mc.base_of("tiny-ft") == "tiny" and mc.base_of("mini-ft") is None
    assert [duration(s) for s in (None, 45, 754, 3240, 7200)] == ["–", "45 s", "12.6 min", "54.0 min", "2.0 h"]


def test_task_sections_have_metrics_as_rows_and_leave_mteb_diagnostics_out(tmp_path):
    store = ResultsStore(tmp_path / "results")
    metrics = {f"ndcg_at_{k}": 0.5 + k / 1e4 for k in (1, 3, 5, 10, 20, 100, 1000)}
    metrics |= {"nauc_ndcg_at_10_max": 0.4, "main_score": metrics["ndcg_at_10"], "accuracy": 0.6}
    for m in ("a", "b"):
        store.save(TaskResult("mteb-SciFact", "mteb", m, f"fp-{m}", "scifact", "h", "ndcg_at_10", metrics))
    text = build_report(store, tmp_path / "reports", "m", baseline="a", n_boot=100).read_text()
    rows = table(text, "## mteb-SciFact")
    assert [r["metric"] for r in rows] == ["ndcg_at_10", "ndcg_at_1", "ndcg_at_100", "accuracy"]
    assert rows[0] == {"metric": "ndcg_at_10", "a": "0.5010", "b": "0.5010"}
    assert "6 more metrics (other cut-offs, mteb's nauc_* diagnostics) are in the stored results." in text
