"""``embedbench tasks``: the task kinds with their options, the keys of a ``source``, and the built-in tasks."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from embedbench.cli._output import console, user_errors


@user_errors
def tasks_command(
    kind: str = typer.Argument(None, help="show only this task kind's options"),
    mteb: bool = typer.Option(True, help="also list the local mteb tasks (imports mteb: a few seconds)"),
) -> None:
    """List the task kinds and their options, the source keys every task shares with prep, and the built-in tasks."""
    from embedbench.errors import EmbedbenchError
    from embedbench.evalsuite.tasks import KINDS, TASKS, builtin_summary, kind_options, source_keys

    if kind is not None and kind not in KINDS:
        raise EmbedbenchError(f"unknown task kind {kind!r}; kinds: {', '.join(KINDS)}")
    for name in [kind] if kind else list(KINDS):
        table = Table(title=f"task kind {name!r}  (task = \"{name}\")")
        for column in ("option", "type", "default", "what it does"):
            table.add_column(column, overflow="fold")
        for o in kind_options(name):
            table.add_row(*(escape(x) for x in (o.name, o.type, o.default, o.help)))
        console.print(table)
    keys = Table(title="source keys (a task's `source`, the same as prep's sources)")
    for column in ("key", "type", "default", "what it does"):
        keys.add_column(column, overflow="fold")
    for o in source_keys():
        keys.add_row(*(escape(x) for x in (o.name, o.type, o.default, o.help)))
    console.print(keys)
    if kind:
        return
    built = Table(title="built-in tasks (a name in [eval] tasks; options override their fields and source)")
    built.add_column("name", no_wrap=True)
    built.add_column("kind and source", overflow="fold")
    for name in TASKS:
        built.add_row(name, escape(builtin_summary(name)))
    if mteb:
        from embedbench.evalsuite.tasks import local_mteb_tasks
        from embedbench.evalsuite.tasks.mteb_run import MTEB_PREFIX

        for name in local_mteb_tasks():
            built.add_row(MTEB_PREFIX + name, "mteb's own task on the local data copy")
    console.print(built)
    console.print(escape('Example: tasks = [{ name = "my-sts", task = "sts", source = { kind = "table", path = "pairs.csv", '
                  'output = "scored", score_range = [1, 5] } }]'), soft_wrap=True)
