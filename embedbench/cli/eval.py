"""``embedbench eval``, ``report``, ``check`` and ``expected``: evaluation, the report and the regression gate.

``eval`` runs tasks and stores results, ``report`` renders the Markdown report from stored results,
``check`` is the regression gate (exit 1 on a significant regression), ``expected`` writes an
expected-results file for ``check --expected``.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from embedbench.cli._output import ConfigOption, console, user_errors
from embedbench.config import DEFAULT_CONFIG
from embedbench.errors import EXIT_FAILED_CHECK, EmbedbenchError
from embedbench.evalsuite.config import load_eval_config
from embedbench.evalsuite.contamination import report_contamination
from embedbench.evalsuite.gate import GateReport, run_check, write_expected
from embedbench.evalsuite.report import build_report
from embedbench.evalsuite.results import ResultsStore, display_name
from embedbench.evalsuite.runner import run_eval
from embedbench.io import check_output_dir, clean_temps

ResultsOption = Annotated[Path | None, typer.Option("--results", help="results folder (default: \\[eval] results_dir)")]


@user_errors
def eval_command(
    config: ConfigOption = DEFAULT_CONFIG,
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="model to evaluate (repeatable; default: \\[eval] models)")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", "-t", help="task to run (repeatable; default: \\[eval] tasks)")] = None,
    force: Annotated[bool, typer.Option("--force", help="re-run tasks whose stored result is up to date")] = False,
    results: ResultsOption = None,
) -> None:
    """Evaluate the configured models on the configured tasks; results go to the results folder."""
    cfg = load_eval_config(config)
    if results is not None:
        cfg = cfg.model_copy(update={"results_dir": check_output_dir(results, "--results")})
    run = run_eval(cfg, models=model or None, tasks=task or None, force=force,
                   log=lambda line: console.print(line, markup=False, highlight=False), source=config)
    n_ran, n_skip = len(run.ran()), sum(r.status == "skipped" for r in run.records)
    console.print(f"{n_ran} task(s) evaluated, {n_skip} up to date; results in {cfg.results_dir}")


@user_errors
def report_command(
    config: ConfigOption = DEFAULT_CONFIG,
    name: Annotated[str | None, typer.Option("--name", help="report name (default: \\[eval] report_name)")] = None,
    baseline: Annotated[str | None, typer.Option("--baseline", help="model to compare with (default: \\[eval] baseline)")] = None,
    results: ResultsOption = None,
    all_models: Annotated[bool, typer.Option("--all-models", help="report every stored model, not only \\[eval] models")] = False,
) -> None:
    """Render reports/<name>.md (tables, CIs, significance, plots) from stored results alone."""
    cfg = load_eval_config(config)
    check_output_dir(cfg.reports_dir, f"{config}: [eval] reports_dir")
    clean_temps(cfg.reports_dir)
    store = ResultsStore(results or cfg.results_dir)
    models = None if all_models else [display_name(m) for m in cfg.models]
    path = build_report(
        store, cfg.reports_dir, name or cfg.report_name, baseline=display_name(baseline or cfg.baseline_model),
        models=models, n_boot=cfg.bootstrap, seed=cfg.seed, alpha=cfg.alpha, test=cfg.test,
        command=reproduce_command(config), notes=cfg.notes,
        contamination=report_contamination(cfg, log=lambda line: console.print(line, markup=False, highlight=False)),
    )
    console.print(f"report written to {path}")


@user_errors
def check_command(
    config: ConfigOption = DEFAULT_CONFIG,
    candidate: Annotated[str | None, typer.Option("--candidate", help="model under test (default: \\[eval.check] candidate)")] = None,
    baseline: Annotated[str | None, typer.Option("--baseline", help="reference model's stored results")] = None,
    expected: Annotated[Path | None, typer.Option("--expected", help="reference expected-results JSON file")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", "-t", help="check only this task (repeatable)")] = None,
    results: ResultsOption = None,
) -> None:
    """Exit 1 when the candidate is significantly worse than the reference beyond the tolerance (2: bad input)."""
    cfg = load_eval_config(config)
    chk = cfg.check
    cand = candidate or chk.candidate
    if not cand:
        raise EmbedbenchError("no candidate: pass --candidate MODEL or set [eval.check] candidate")
    if baseline is None and expected is None:
        expected, baseline = chk.expected, chk.baseline
        if expected is None and baseline is None:
            baseline = cfg.baseline_model
    report = run_check(
        ResultsStore(results or cfg.results_dir), display_name(cand),
        baseline=display_name(baseline) if baseline else None, expected=expected,
        tasks=task or chk.tasks, tolerance=chk.tolerance, tolerances=chk.tolerances, alpha=chk.alpha,
        n=cfg.bootstrap, seed=cfg.seed,
    )
    console.print(gate_table(report))
    if not report.passed:
        console.print(f"[bold red]FAILED[/]: {len(report.failures)} task(s) regressed or missing")
        raise typer.Exit(EXIT_FAILED_CHECK)
    console.print("[green]passed[/]: no significant regression beyond tolerance")


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


def gate_table(report: GateReport) -> Table:
    """The check as a table: values, difference with its CI, one-sided p, tolerance and verdict."""

    def f(x: float | None, fmt: str = "{:.4f}") -> str:
        return "-" if x is None else fmt.format(x)

    table = Table(title=f"regression check: {report.candidate} vs {report.reference} (one-sided, alpha={report.alpha})")
    for col in ("task", "metric", "candidate", "reference", "diff", f"{1 - report.alpha:.0%} CI", "p (worse)",
                "tolerance", "verdict"):
        table.add_column(col)
    for r in report.rows:
        ci = f"[{r.low:+.4f}, {r.high:+.4f}]" if r.low is not None and r.high is not None else "-"
        verdict = f"[bold red]{r.status}[/]" if r.failed else f"[green]{r.status}[/]"
        table.add_row(r.task, r.metric, f(r.candidate), f(r.reference), f(r.diff, "{:+.4f}"), ci, f(r.p_value, "{:.3g}"),
                      f"{r.tolerance:g}", verdict)
    return table


def reproduce_command(config: Path) -> str:
    """The commands that rebuild the results and this report."""
    cfg = shlex.quote(str(config))
    args = " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["report"] else f"report --config {cfg}"
    return f"embedbench eval --config {cfg}\nembedbench {args}"
