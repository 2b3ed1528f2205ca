"""The ``embedbench`` command line: one Typer app, an index of commands.

Each command lives in the module of its group (``models``, ``cache``, ``prep``, ``mine``, ``train``,
``eval``, ``check``) as a plain function that parses options and calls one library function; this file only
registers them. Nothing outside ``embedbench.cli`` imports it.
"""

from __future__ import annotations

import typer

from embedbench.cli import cache, check, contamination, losses, mine, models, prep, tasks, train
from embedbench.cli import eval as evaluation
from embedbench.errors import EXIT_BAD_INPUT, EXIT_FAILED_CHECK, EXIT_OK

EXIT_CODES = (
    f"Exit codes: {EXIT_OK} done; {EXIT_FAILED_CHECK} a failed check (`embedbench check` found a regression); "
    f"{EXIT_BAD_INPUT} bad input, usage or configuration (one error line says which file, row, column or key)."
)

app = typer.Typer(
    name="embedbench",
    help="Dataset prep, fine-tuning and evaluation for sentence-embedding models.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
cache_app = typer.Typer(help="Inspect or clear the shared embedding cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")

app.command("models")(models.models_command)
app.command("resolve")(models.resolve_command)
cache_app.command("stats")(cache.stats_command)
cache_app.command("clear")(cache.clear_command)
app.command("prep")(prep.prep_command)
app.command("mine")(mine.mine_command)
app.command("train")(train.train_command)
app.command("losses")(losses.losses_command)
app.command("eval")(evaluation.eval_command)
app.command("report")(evaluation.report_command)
app.command("check")(check.check_command)
app.command("expected")(check.expected_command)
app.command("calibrate")(check.calibrate_command)
app.command("tasks")(tasks.tasks_command)
app.command("contamination")(contamination.contamination_command)


def document_exit_codes(typer_app: typer.Typer) -> None:
    """Put the exit codes under every command's ``--help`` (groups included), however it was registered."""
    for info in typer_app.registered_commands:
        info.epilog = info.epilog or EXIT_CODES
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            document_exit_codes(group.typer_instance)


document_exit_codes(app)  # after every registration above


def main() -> None:
    """Entry point for ``python -m embedbench`` and the ``embedbench`` script."""
    app(prog_name="embedbench")
