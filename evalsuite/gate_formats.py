"""The regression gate's verdicts in forms a CI system reads: JSON, Markdown (a pull-request comment) and JUnit XML.

All three are rendered from the same ``GateReport``, so they hold the same verdicts; each states the
decision rule (multiple-comparison correction included) and where every tolerance came from. The
JSON document follows ``CheckDocument`` (``CheckDocument.model_json_schema()`` is its JSON schema).
The text table printed by ``embedbench check`` lives in the CLI (it is a rich table).
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from typing import Any

from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from embedbench.errors import EXIT_FAILED_CHECK, EXIT_OK
from embedbench.evalsuite.gate import GateReport, GateRow

CHECK_FORMAT = "embedbench.check/1"
FORMATS = ("text", "json", "markdown", "junit")
"""What ``embedbench check --format`` accepts."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckTask(_Strict):
    """One task's verdict in the JSON document."""

    task: str
    metric: str
    reference: float
    candidate: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_adjusted: float | None
    tolerance: float
    tolerance_source: str
    verdict: str
    failed: bool
    reason: str


class CheckDocument(_Strict):
    """The whole JSON output of ``embedbench check``."""

    format: str
    candidate: str
    reference: str
    alpha: float
    ci_level: float
    correction: str
    rule: str
    passed: bool
    exit_code: int
    failures: list[str]
    tasks: list[CheckTask]


def to_document(report: GateReport) -> CheckDocument:
    """The report as a ``CheckDocument``."""
    return CheckDocument(
        format=CHECK_FORMAT, candidate=report.candidate, reference=report.reference, alpha=report.alpha,
        ci_level=1 - report.alpha, correction=report.correction, rule=report.rule, passed=report.passed,
        exit_code=EXIT_OK if report.passed else EXIT_FAILED_CHECK, failures=[r.task for r in report.failures],
        tasks=[
            CheckTask(
                task=r.task, metric=r.metric, reference=r.reference, candidate=r.candidate, delta=r.diff,
                ci_low=r.low, ci_high=r.high, p_value=r.p_value, p_adjusted=r.p_adjusted, tolerance=r.tolerance,
                tolerance_source=r.tolerance_source, verdict=r.status, failed=r.failed, reason=r.reason,
            )
            for r in report.rows
        ],
    )


def to_json(report: GateReport) -> str:
    """The report as an indented JSON document (``CheckDocument``)."""
    return json.dumps(to_document(report).model_dump(mode="json"), indent=2) + "\n"


def _f(x: float | None, fmt: str = "{:.4f}") -> str:
    return "–" if x is None else fmt.format(x)


def ci_text(row: GateRow) -> str:
    """The difference's confidence interval as ``[low, high]``, or a dash without one."""
    return f"[{row.low:+.4f}, {row.high:+.4f}]" if row.low is not None and row.high is not None else "–"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: GateReport) -> str:
    """The report as Markdown fit for a pull-request comment or a GitHub step summary."""
    verdict = "passed" if report.passed else f"FAILED ({len(report.failures)} task(s): {', '.join(r.task for r in report.failures)})"
    mark = "✅" if report.passed else "❌"
    lines = [
        f"### {mark} embedbench check: {verdict}",
        "",
        f"Candidate `{report.candidate}` against `{report.reference}`; one-sided tests, alpha = {report.alpha:g}.",
        "",
        f"| task | metric | reference | candidate | Δ | {1 - report.alpha:.0%} CI of Δ | p (one-sided) | "
        f"p ({report.correction}) | tolerance | verdict | why |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---|---|",
    ]
    for r in report.rows:
        status = f"**{r.status}**" if r.failed else r.status
        lines.append(
            f"| {_md(r.task)} | {_md(r.metric)} | {_f(r.reference)} | {_f(r.candidate)} | {_f(r.diff, '{:+.4f}')} | "
            f"{ci_text(r)} | {_f(r.p_value, '{:.3g}')} | {_f(r.p_adjusted, '{:.3g}')} | {r.tolerance:g} | {status} | "
            f"{_md(r.reason)} |"
        )
    lines += ["", f"Rule: {report.rule}.", "", "Tolerances:"]
    lines += [f"- {_md(r.task)}: {r.tolerance:g} from {_md(r.tolerance_source)}" for r in report.rows]
    return "\n".join(lines) + "\n"


def to_junit(report: GateReport) -> str:
    """The report as JUnit XML: one test case per task, a ``failure`` element for a regression or a missing result."""
    suite = ET.Element("testsuite", {
        "name": f"embedbench check {report.candidate}", "tests": str(len(report.rows)),
        "failures": str(len(report.failures)), "errors": "0", "skipped": "0", "time": "0",
    })
    props = ET.SubElement(suite, "properties")
    for name, value in (("candidate", report.candidate), ("reference", report.reference),
                        ("alpha", f"{report.alpha:g}"), ("correction", report.correction), ("rule", report.rule)):
        ET.SubElement(props, "property", {"name": name, "value": value})
    for r in report.rows:
        case = ET.SubElement(suite, "testcase", {"classname": f"embedbench.check.{report.candidate}", "name": r.task,
                                                  "time": "0"})
        detail = _detail(r, report)
        if r.failed:
            failure = ET.SubElement(case, "failure", {"message": f"{r.task}: {r.status}: {r.reason}", "type": r.status})
            failure.text = detail
        else:
            ET.SubElement(case, "system-out").text = detail
    root = ET.Element("testsuites", {"name": "embedbench check", "tests": suite.get("tests", "0"),
                                     "failures": suite.get("failures", "0")})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _detail(r: GateRow, report: GateReport) -> str:
    fields: list[tuple[str, Any]] = [
        ("verdict", r.status), ("why", r.reason), ("metric", r.metric), ("reference", _f(r.reference)),
        ("candidate", _f(r.candidate)), ("delta", _f(r.diff, "{:+.4f}")), (f"{1 - report.alpha:.0%} CI", ci_text(r)),
        ("p (one-sided)", _f(r.p_value, "{:.3g}")), (f"p ({report.correction})", _f(r.p_adjusted, "{:.3g}")),
        ("tolerance", f"{r.tolerance:g} from {r.tolerance_source}"),
    ]
    return "\n".join(f"{k}: {v}" for k, v in fields)


def gate_table(report: GateReport) -> Table:
    """The check as a table: values, difference with its CI, one-sided p (raw and adjusted), tolerance, verdict, why."""
    table = Table(title=f"regression check: {report.candidate} vs {report.reference} (one-sided, alpha={report.alpha})")
    for col in ("task", "metric", "candidate", "reference", "diff", f"{1 - report.alpha:.0%} CI", "p (worse)",
                f"p ({report.correction})", "tolerance (from)", "verdict", "why"):
        long_text = col in ("tolerance (from)", "why")  # only these wrap (and fold long paths); numbers stay whole
        table.add_column(col, no_wrap=not long_text, overflow="fold" if long_text else "ellipsis")
    for r in report.rows:
        verdict = f"[bold red]{r.status}[/]" if r.failed else f"[green]{r.status}[/]"
        table.add_row(escape(r.task), escape(r.metric), _f(r.candidate), _f(r.reference), _f(r.diff, "{:+.4f}"),
                      ci_text(r), _f(r.p_value, "{:.3g}"), _f(r.p_adjusted, "{:.3g}"),
                      escape(f"{r.tolerance:g} ({r.tolerance_source})"), verdict, escape(r.reason))
    return table


def to_text(report: GateReport, width: int = 200) -> str:
    """The table, the rule and the verdict as plain text (no colour)."""
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, highlight=False)
    console.print(gate_table(report))
    console.print(f"rule: {report.rule}", markup=False)
    if report.passed:
        console.print("passed: no significant regression beyond tolerance")
    else:
        console.print(f"FAILED: {len(report.failures)} task(s) regressed or missing: "
                      + ", ".join(r.task for r in report.failures), markup=False)
    return out.getvalue()


def render(report: GateReport, fmt: str) -> str:
    """The report in ``fmt`` (``text``, ``json``, ``markdown`` or ``junit``)."""
    return {"text": to_text, "json": to_json, "markdown": to_markdown, "junit": to_junit}[fmt](report)
