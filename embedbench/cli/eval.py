"""``embedbench eval`` and ``report``: evaluation and the report (the regression gate is in ``cli/check.py``).

``eval`` runs tasks and stores results, ``report`` renders the Markdown report from stored results.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from embedbench.cli._output import ConfigOption, EngineOption, activate_engine, console, user_errors
from embedbench.config import DEFAULT_CONFIG
from embedbench.evalsuite.config import load_eval_config
from embedbench.evalsuite.contamination import report_contamination
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
    plan: Annotated[bool, typer.Option("--plan", help="print what would be encoded and the estimated time, then stop")] = False,
    engine: EngineOption = None,
) -> None:
    """Evaluate the configured models on the configured tasks; results go to the results folder.

    The plan (texts to encode per model x task, cache hits subtracted, estimated time) is printed first;
    ``--plan`` prints it in full and exits without evaluating.
    """
    activate_engine(config, engine)
    cfg = load_eval_config(config)
    if results is not None:
        cfg = cfg.model_copy(update={"results_dir": check_output_dir(results, "--results")})
    run = run_eval(cfg, models=model or None, tasks=task or None, force=force,
                   log=lambda line: console.print(line, markup=False, highlight=False), source=config, plan_only=plan)
    if plan:
        return
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


def reproduce_command(config: Path) -> str:
    """The commands that rebuild the results and this report."""
    cfg = shlex.quote(str(config))
    args = " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["report"] else f"report --config {cfg}"
    return f"embedbench eval --config {cfg}\nembedbench {args}"
