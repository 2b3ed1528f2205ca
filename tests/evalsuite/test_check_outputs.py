"""`embedbench check` outputs a CI can read: JSON, Markdown, JUnit XML, the step summary, the exit codes,
and the multiple-comparison rule they all state."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embedbench.cli import app
from embedbench.evalsuite.gate import GateRow, _finish, adjust_p_values, run_check
from embedbench.evalsuite.gate_formats import CheckDocument, to_junit, to_markdown
from embedbench.evalsuite.results import ResultsStore
from tests.evalsuite.test_gate import retrieval

runner = CliRunner()


@pytest.fixture
def gate_workspace(tmp_path, monkeypatch):
    """Stored results of a baseline and a candidate on three tasks: one regressed, one within tolerance, one better."""
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.9, size=200)
    store = ResultsStore(tmp_path / "results")
    for task, shift in (("scifact", -0.08), ("nfcorpus", -0.005), ("fiqa", 0.03)):
        store.save(retrieval("base", base, task=task))
        store.save(retrieval("cand", np.clip(base + shift + rng.normal(0, 0.02, size=200), 0, 1), task=task))
    (tmp_path / "bench.toml").write_text(
        '[eval]\nmodels = ["cand", "base"]\nbaseline = "base"\nbootstrap = 500\n\n'
        '[eval.check]\ncandidate = "cand"\nbaseline = "base"\ntolerance = 0.01\ntolerances = { fiqa = 0.02 }\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "250")
    return tmp_path


def markdown_verdicts(text: str) -> dict[str, str]:
    """Task -> verdict, read back from the Markdown table (header row names the columns)."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    assert set(rows[1].replace("|", "").replace("-", "").replace(":", "")) <= {""}
    out = {}
    for line in rows[2:]:
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        assert len(cells) == len(header), line
        out[cells[header.index("task")]] = cells[header.index("verdict")].strip("*")
    return out


def test_every_format_holds_the_same_verdicts(gate_workspace, monkeypatch):
    summary = gate_workspace / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = runner.invoke(app, ["check", "--json", "out/check.json", "--markdown", "out/check.md",
                              "--junit", "out/junit.xml"])
    assert out.exit_code == 1, out.output
    assert "FAILED: 1 task(s) regressed or missing: scifact" in " ".join(out.output.split())
    assert "Holm" in out.output  # the rule is printed with the table

    doc = CheckDocument.model_validate(json.loads((gate_workspace / "out/check.json").read_text()))
    verdicts = {t.task: t.verdict for t in doc.tasks}
    assert verdicts == {"scifact": "regressed", "nfcorpus": "within tolerance", "fiqa": "ok"}
    assert not doc.passed and doc.exit_code == 1 and doc.failures == ["scifact"]
    assert doc.correction == "holm" and "Holm" in doc.rule
    by_task = {t.task: t for t in doc.tasks}
    sci = by_task["scifact"]
    assert sci.delta == pytest.approx(sci.candidate - sci.reference)
    assert sci.ci_high < 0 and sci.p_adjusted >= sci.p_value and "significant" in sci.reason
    assert by_task["fiqa"].tolerance == 0.02 and by_task["fiqa"].tolerance_source == "bench.toml [eval.check] tolerances.fiqa"
    assert by_task["nfcorpus"].tolerance_source == "bench.toml [eval.check] tolerance"

    md = (gate_workspace / "out/check.md").read_text()
    assert markdown_verdicts(md) == verdicts
    assert md.startswith("### ❌ embedbench check: FAILED") and "Rule:" in md and "Holm" in md
    assert summary.read_text() == "earlier step\n" + md  # appended, not overwritten

    root = ET.parse(gate_workspace / "out/junit.xml").getroot()
    cases = root.findall("./testsuite/testcase")
    assert {c.get("name") for c in cases} == set(verdicts)
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert list(failed) == ["scifact"] and failed["scifact"].get("type") == "regressed"
    assert root.find("./testsuite").get("failures") == "1"
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["correction"] == "holm" and "Holm" in props["rule"]

    for fmt in ("json", "markdown", "junit"):  # the same document on stdout
        out = runner.invoke(app, ["check", "--format", fmt])
        assert out.exit_code == 1
    out = runner.invoke(app, ["check", "--format", "json", "--task", "fiqa"])
    assert out.exit_code == 0 and json.loads(out.stdout)["passed"] is True


def test_config_and_usage_errors_exit_2_and_write_nothing(gate_workspace):
    out = runner.invoke(app, ["check", "--format", "xml", "--junit", "j.xml"])
    assert out.exit_code == 2 and "--format 'xml'" in out.output
    toml = gate_workspace / "bench.toml"
    toml.write_text(toml.read_text() + 'correction = "fdr"\n')
    out = runner.invoke(app, ["check", "--junit", "j.xml", "--markdown", "m.md"])
    assert out.exit_code == 2, out.output
    assert "correction" in out.output and "Traceback" not in out.output
    assert not (gate_workspace / "j.xml").exists() and not (gate_workspace / "m.md").exists()


def test_unwritable_step_summary_is_a_clear_error(gate_workspace, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(gate_workspace / "no-such-dir" / "summary.md"))
    out = runner.invoke(app, ["check"])
    assert out.exit_code == 2 and "GITHUB_STEP_SUMMARY=" in out.output and "Traceback" not in out.output


def test_committed_json_schema_is_the_document_model():
    committed = json.loads((Path(__file__).resolve().parents[2] / "docs/ci/check.schema.json").read_text())
    assert committed == CheckDocument.model_json_schema()  # regenerate: see docs/ci/README.md


def test_holm_and_bonferroni_worked_by_hand():
    p = [0.01, 0.04, 0.03]
    # Holm: sorted 0.01, 0.03, 0.04 -> 3*0.01 = 0.03, 2*0.03 = 0.06, max(0.06, 1*0.04) = 0.06
    assert adjust_p_values(p, "holm") == pytest.approx([0.03, 0.06, 0.06])
    assert adjust_p_values(p, "bonferroni") == pytest.approx([0.03, 0.12, 0.09])
    assert adjust_p_values(p, "none") == p
    assert adjust_p_values([0.5, 0.9], "holm") == pytest.approx([1.0, 1.0])


def test_holm_turns_a_lone_borderline_drop_into_not_significant():
    def row(task, p):
        return GateRow(task, "m", 0.5, 0.6, -0.1, -0.2, -0.01, p, 0.01, "regressed")

    rows = [row("a", 0.03), row("b", 0.3), row("c", 0.001)]
    # Holm: c 3 * 0.001 = 0.003 < 0.05; a 2 * 0.03 = 0.06 >= 0.05; b 0.3
    held = {r.task: r.status for r in _finish(rows, 0.05, "holm")}
    assert held == {"a": "not significant", "b": "not significant", "c": "regressed"}
    alone = {r.task: r.status for r in _finish(rows, 0.05, "none")}
    assert alone == {"a": "regressed", "b": "not significant", "c": "regressed"}


def test_markdown_and_junit_of_a_passing_check(tmp_path):
    base = np.random.default_rng(3).uniform(0.2, 0.9, size=50)
    store = ResultsStore(tmp_path)
    store.save(retrieval("base", base))
    store.save(retrieval("cand", base))
    report = run_check(store, "cand", baseline="base", n=200)
    assert report.passed and markdown_verdicts(to_markdown(report)) == {"scifact": "ok"}
    case = ET.fromstring(to_junit(report)).find("./testsuite/testcase")
    assert case.find("failure") is None and "verdict: ok" in case.find("system-out").text
