"""``embedbench contamination``: how much of each evaluation task's test data is in the training data.

Exit 0 when every task's contaminated share is within its limit, 1 when one passes it (a failed check,
so it can gate CI), 2 for bad input (a missing task or file, an unreadable file). ``--calibrate`` prints
the similarity bands instead, to choose the semantic threshold (``[eval.contamination] semantic_threshold``,
or ``[prep.sets.<set>.leakage] semantic``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from embedbench.cli._output import ConfigOption, console, err_console, user_errors
from embedbench.config import DEFAULT_CONFIG, validate_section
from embedbench.errors import EXIT_FAILED_CHECK, EmbedbenchError
from embedbench.evalsuite.config import ContaminationConfig, EvalConfig, load_eval_config
from embedbench.evalsuite.contamination import (
    TaskAudit,
    audit_tasks,
    build_tasks,
    calibration,
    training_texts,
)
from embedbench.matching import Calibration


@user_errors
def contamination_command(
    train: Annotated[
        list[str],
        typer.Option(
            "--train",
            help="training data: a prepared set folder, a trained model folder, a CSV/TSV/JSONL/Parquet file, "
            'or a source spec as JSON (\'{"kind": "stsb", "path": "stsbenchmark", "split": "train"}\'); repeatable',
        ),
    ],
    tasks: Annotated[
        str | None, typer.Option("--tasks", help="comma-separated task names (default: \\[eval.contamination] tasks, else \\[eval] tasks)")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    shape: Annotated[str | None, typer.Option("--shape", help="shape of a data file's columns (default: from its column names)")] = None,
    limit: Annotated[float | None, typer.Option("--limit", help="largest allowed contaminated share (0-1) for every task")] = None,
    semantic_threshold: Annotated[
        float | None, typer.Option("--semantic-threshold", help="cosine for a semantic match (see --calibrate); 0 turns it off")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="judge model of the semantic check")] = None,
    examples: Annotated[int | None, typer.Option("--examples", help="matched items shown per task and kind")] = None,
    calibrate: Annotated[bool, typer.Option("--calibrate", help="show sampled pairs per cosine band instead of the audit")] = False,
) -> None:
    """Share of each task's test items with an exact, near or semantic match in the training data; exit 1 above the limit."""
    cfg = _config(config)
    updates: dict[str, object] = {}
    for key, value in (("limit", limit), ("model", model), ("examples", examples)):
        if value is not None:
            updates[key] = value
    if semantic_threshold is not None:
        updates["semantic_threshold"] = semantic_threshold or None
    c = validate_section(
        ContaminationConfig, {**cfg.contamination.model_dump(), **updates}, section="eval.contamination",
        source=f"{config} with the command-line options",
    )
    names = [t.strip() for t in tasks.split(",") if t.strip()] if tasks else c.tasks
    task_objects = build_tasks(cfg.task_entries, names)
    training = training_texts(train, shape=shape)
    err_console.print(f"training data: {training.texts.height} distinct texts from {len(training.files)} file(s)", highlight=False)
    if calibrate:
        console.print(calibration_table(calibration(training, task_objects, c), c.model))
        return
    audits = audit_tasks(training, task_objects, c, log=lambda line: err_console.print(line, highlight=False, markup=False))
    console.print(audit_table(audits, c))
    for a in audits:
        if a.examples:
            console.print(examples_table(a))
    failed = [a.task for a in audits if a.over_limit]
    if failed:
        console.print(f"[bold red]FAILED[/]: {len(failed)} task(s) above the contamination limit: {', '.join(failed)}")
        raise typer.Exit(EXIT_FAILED_CHECK)
    console.print("[green]passed[/]: every task within its contamination limit")


def _config(path: Path) -> EvalConfig:
    """The ``[eval]`` section of ``path``; without the default file, the defaults (tasks then come from --tasks)."""
    if path == DEFAULT_CONFIG and not path.is_file():
        return EvalConfig()
    return load_eval_config(path)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def audit_table(audits: list[TaskAudit], cfg: ContaminationConfig) -> Table:
    """Per task: test items, share by strongest match kind, any match, the limit and the verdict."""
    sem = "semantic" if cfg.semantic_threshold is not None else "semantic (off)"
    table = Table(title=f"contamination: near = MinHash Jaccard >= {cfg.near_threshold}"
                  + (f", semantic = cosine >= {cfg.semantic_threshold} ({cfg.model})" if cfg.semantic_threshold else ""))
    for col in ("task", "test items", "exact", "near", sem, "any", "limit", "verdict"):
        table.add_column(col)
    for a in audits:
        shares = [f"{_pct(a.share(k))} ({a.counts[k]})" for k in ("exact", "near", "semantic")]
        verdict = "[bold red]over limit[/]" if a.over_limit else "[green]ok[/]"
        table.add_row(a.task, str(a.n_items), *shares, f"{_pct(a.share())} ({a.counts['any']})", _pct(a.limit), verdict)
    return table


def examples_table(a: TaskAudit) -> Table:
    """Matched test texts beside the training texts they matched."""
    table = Table(title=f"{a.task}: examples", show_lines=True)
    for col in ("item", "kind", "score", "test text", "training text", "from"):
        table.add_column(col, overflow="fold")
    for e in a.examples:
        table.add_row(str(e["item"]), e["kind"], f"{e['score']:.3f}", e["test_text"], e["train_text"], e["train_ref"])
    return table


def calibration_table(cal: Calibration, model: str) -> Table:
    """Per cosine band: how many test texts have their nearest training text there, and sampled pairs."""
    table = Table(title=f"nearest training text of {cal.n_queries} test texts, cosine under {model}", show_lines=True)
    for col in ("band", "test texts", "share", "cosine", "test text", "nearest training text"):
        table.add_column(col, overflow="fold")
    examples = cal.examples
    for low, high, n, share in reversed(cal.bands.rows()):
        band = examples.filter((examples["low"] == low) & (examples["high"] == high))
        label = f"[{low:.2f}, {high:.2f}" + ("]" if high >= 1.0 else ")")
        if not band.height:
            table.add_row(label, str(n), _pct(share), "", "", "")
        for i, (_, _, cos, query, match) in enumerate(band.rows()):
            table.add_row(label if i == 0 else "", str(n) if i == 0 else "", _pct(share) if i == 0 else "",
                          f"{cos:.3f}", query, match)
    if not cal.n_queries:
        raise EmbedbenchError("no test texts to calibrate on")
    return table
