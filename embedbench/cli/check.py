"""``embedbench check``, ``expected`` and ``calibrate``: the regression gate, its reference file and its tolerances.

``check`` exits 1 on a significant regression beyond tolerance (2 on bad input) and prints its verdicts
as a table, JSON, Markdown or JUnit XML (``--format``), optionally writing the others to files
(``--json/--markdown/--junit FILE``) and appending the Markdown to ``$GITHUB_STEP_SUMMARY``.
``expected`` writes an expected-results file for ``check --expected``; ``calibrate`` measures each
task's noise and writes per-task tolerances into that file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from embedbench.cli._output import ConfigOption, console, err_console, user_errors
from embedbench.cli.eval import ResultsOption
from embedbench.config import DEFAULT_CONFIG
from embedbench.errors import EXIT_FAILED_CHECK, EmbedbenchError
from embedbench.evalsuite.calibrate import FLOOR, KINDS, SAFETY, calibrate
from embedbench.evalsuite.config import load_eval_config
from embedbench.evalsuite.gate import check_configured, write_expected
from embedbench.evalsuite.gate_formats import FORMATS, gate_table, render
from embedbench.evalsuite.results import ResultsStore, display_name
from embedbench.io import write_text_atomic

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
"""GitHub Actions' step-summary file: when set, ``check`` appends its Markdown there."""


@user_errors
def check_command(
    config: ConfigOption = DEFAULT_CONFIG,
    candidate: Annotated[str | None, typer.Option("--candidate", help="model under test (default: \\[eval.check] candidate)")] = None,
    baseline: Annotated[str | None, typer.Option("--baseline", help="reference model's stored results")] = None,
    expected: Annotated[Path | None, typer.Option("--expected", help="reference expected-results JSON file")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", "-t", help="check only this task (repeatable)")] = None,
    results: ResultsOption = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"what goes to stdout: {', '.join(FORMATS)}")] = "text",
    json_file: Annotated[Path | None, typer.Option("--json", help="also write the verdicts as JSON to this file")] = None,
    markdown_file: Annotated[Path | None, typer.Option("--markdown", help="also write the Markdown summary to this file")] = None,
    junit_file: Annotated[Path | None, typer.Option("--junit", help="also write JUnit XML (one test case per task) to this file")] = None,
) -> None:
    """Exit 1 when the candidate is significantly worse than the reference beyond the tolerance (2: bad input)."""
    if fmt not in FORMATS:
        raise EmbedbenchError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    cfg = load_eval_config(config)
    report = check_configured(cfg, candidate=candidate, baseline=baseline, expected=expected, tasks=task or None,
                              results=results, source=f"{config} [eval.check]")
    for path, kind in ((json_file, "json"), (markdown_file, "markdown"), (junit_file, "junit")):
        if path is not None:
            write_text_atomic(path, render(report, kind))
    summary = os.environ.get(STEP_SUMMARY)
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(render(report, "markdown"))
        except OSError as exc:
            raise EmbedbenchError(f"{STEP_SUMMARY}={summary}: cannot append the summary ({exc.strerror}); "
                                  "unset it or point it at a writable file") from None
    if fmt == "text":
        console.print(gate_table(report))
        console.print(f"rule: {report.rule}", markup=False, highlight=False)
        if report.passed:
            console.print("[green]passed[/]: no significant regression beyond tolerance")
    else:
        print(render(report, fmt), end="")
    if not report.passed:
        names = ", ".join(r.task for r in report.failures)
        (console if fmt == "text" else err_console).print(
            f"[bold red]FAILED[/]: {len(report.failures)} task(s) regressed or missing: {names}")
        raise typer.Exit(EXIT_FAILED_CHECK)


@user_errors
def expected_command(
    out: Annotated[Path, typer.Argument(help="expected-results JSON file to write")],
    model: Annotated[str, typer.Option("--model", "-m", help="model whose stored results become the expectation")],
    config: ConfigOption = DEFAULT_CONFIG,
    task: Annotated[list[str] | None, typer.Option("--task", "-t", help="only this task (repeatable)")] = None,
    values_only: Annotated[bool, typer.Option("--values-only", help="keep metric values only, no per-item data")] = False,
) -> None:
    """Write an expected-results file (for `embedbench check --expected`) from stored results."""
    cfg = load_eval_config(config)
    path = write_expected(ResultsStore(cfg.results_dir), display_name(model), out, tasks=task or None,
                          per_item=not values_only)
    console.print(f"expected results written to {path}")


@user_errors
def calibrate_command(
    config: ConfigOption = DEFAULT_CONFIG,
    expected: Annotated[Path | None, typer.Option("--expected", help="expected-results file to write tolerances into (default: \\[eval.check] expected)")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="model whose noise is measured (default: \\[eval.check] candidate)")] = None,
    vary: Annotated[str, typer.Option("--vary", help=f"what to vary, comma-separated: {','.join(KINDS)}")] = ",".join(KINDS),
    safety: Annotated[float, typer.Option("--safety", help="tolerance = max(safety x spread, floor)")] = SAFETY,
    floor: Annotated[float, typer.Option("--floor", help="smallest tolerance written")] = FLOOR,
) -> None:
    """Measure each task's noise (batch size, threads, exact backends, a second run) and write per-task tolerances."""
    cfg = load_eval_config(config)
    path = expected or cfg.check.expected
    if path is None:
        raise EmbedbenchError("no expected-results file: pass --expected FILE.json or set [eval.check] expected")
    spec = model or cfg.check.candidate
    if not spec:
        raise EmbedbenchError("no model: pass --model MODEL or set [eval.check] candidate")
    kinds = tuple(k.strip() for k in vary.split(",") if k.strip())
    noise = calibrate(cfg, path, spec, vary=kinds, safety=safety, floor=floor,
                      log=lambda line: console.print(line, markup=False, highlight=False))
    table = Table(title=f"noise of {display_name(spec)}: tolerance = max({safety:g} x spread, {floor:g})")
    for col in ("task", "metric", "runs", "min", "max", "spread", "tolerance"):
        table.add_column(col)
    for n in noise:
        values = list(n.values.values())
        table.add_row(escape(n.task), escape(n.metric), str(len(values)), f"{min(values):.6f}", f"{max(values):.6f}",
                      f"{n.spread:.2e}", f"{n.tolerance:.2e}")
    console.print(table)
    console.print(f"tolerances written to {path}; `embedbench check` uses them (its outputs name this file as their source)",
                  markup=False, highlight=False)
