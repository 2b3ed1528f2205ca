"""Exit codes of every command: 0 done, 2 bad input / usage / configuration, 1 only for check's regression
verdict; each command's ``--help`` says so."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from embedbench.cli import app
from embedbench.errors import EXIT_BAD_INPUT, EXIT_FAILED_CHECK, EXIT_OK


def registered() -> list[list[str]]:
    """Every command the app registers (groups expanded), so a new command cannot miss these tests."""
    out = [[c.name] for c in app.registered_commands]
    for group in app.registered_groups:
        out += [[group.name, c.name] for c in group.typer_instance.registered_commands]
    return out


COMMANDS = registered()


def test_the_commands_of_the_readme_are_all_here():
    known = {"models", "resolve", "cache stats", "cache clear", "prep", "mine", "train", "eval", "report", "check",
             "expected"}
    assert known <= {" ".join(c) for c in COMMANDS}


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_documents_exit_codes(command):
    result = CliRunner().invoke(app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == EXIT_OK
    text = " ".join(result.output.split())
    assert "Exit codes: 0 done; 1 a failed check" in text and "2 bad input, usage or configuration" in text


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_unknown_option_is_a_usage_error(command):
    result = CliRunner().invoke(app, [*command, "--no-such-option"])
    assert result.exit_code == EXIT_BAD_INPUT


def code(*argv: str) -> int:
    result = CliRunner().invoke(app, list(argv), terminal_width=400)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code


def test_every_command_exits_0_when_done_2_on_bad_input_1_only_on_regression(ws):
    mine = ["mine", "--pairs", "pairs.jsonl", "--corpus", "corpus.txt", "--model", "tiny", "--range-max", "8",
            "--num-negatives", "2", "--relative-margin", "-1"]
    assert code("models") == EXIT_OK
    assert code("resolve", "tiny") == EXIT_OK
    assert code("resolve", "nope-model") == EXIT_BAD_INPUT
    assert code("prep") == EXIT_OK
    assert code("prep", "--set", "nope") == EXIT_BAD_INPUT
    assert code(*mine, "--out", "mined") == EXIT_OK
    assert code(*mine, "--out", "pairs.jsonl") == EXIT_BAD_INPUT
    assert code("eval") == EXIT_OK
    assert code("eval", "--task", "nope") == EXIT_BAD_INPUT
    assert code("cache", "stats") == EXIT_OK
    assert code("report") == EXIT_OK
    assert code("report", "--baseline", "nope-model") == EXIT_BAD_INPUT
    assert code("expected", "exp.json", "--model", "tiny", "--values-only") == EXIT_OK
    assert code("expected", "exp2.json", "--model", "nope-model") == EXIT_BAD_INPUT
    assert code("check", "--expected", "exp.json") == EXIT_OK
    assert code("check", "--expected", "none.json") == EXIT_BAD_INPUT
    expected = json.loads((ws.root / "exp.json").read_text())
    for entry in expected["tasks"].values():
        entry["value"] += 1.0  # the reference is far better: a regression
    (ws.root / "exp.json").write_text(json.dumps(expected))
    assert code("check", "--expected", "exp.json") == EXIT_FAILED_CHECK
    assert code("train") == EXIT_BAD_INPUT  # no [train] section
    assert code("cache", "clear", "--model", "tiny") == EXIT_OK
    assert code("cache", "clear") == EXIT_OK
