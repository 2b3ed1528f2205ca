"""Hostile input, one case per failure class, reader, config section and command.

Every case runs one command in-process on the tiny workspace (``conftest.py``) and asserts: the exit
code, no traceback, a message naming the file / row / column or config key, and no output left
behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from typer.testing import CliRunner

from embedbench.cli import app
from embedbench.errors import EXIT_BAD_INPUT

TABLE_SET = 'train = [{ kind = "table", path = "pairs.jsonl", output = "pairs" }]'
STS_TASK = '{ name = "sts-mini", task = "stsb", path = "sts.tsv" }'
TRAIN = '[train]\nrun = "run"\ndatasets = [{ name = "d", set = "toy" }]'
MINE = ["mine", "--pairs", "pairs.jsonl", "--out", "out", "--model", "tiny"]


@dataclass(frozen=True)
class Case:
    """One hostile input: how the workspace is broken, the command, and what must (not) be seen."""

    id: str
    setup: Callable[[Any], None]
    argv: list[str]
    says: tuple[str, ...]
    absent: tuple[str, ...] = ()
    never: tuple[str, ...] = ()
    code: int = EXIT_BAD_INPUT
    env: dict[str, str] = field(default_factory=dict)
    marks: tuple[Any, ...] = ()


def nothing(ws) -> None:
    """Leave the workspace as it is."""


def file_at(rel: str, content: str | bytes = "x\n") -> Callable[[Any], None]:
    return lambda ws: ws.write(rel, content)


def folder_at(rel: str) -> Callable[[Any], None]:
    return lambda ws: (ws.root / rel).mkdir(parents=True)


def edit(old: str, new: str) -> Callable[[Any], None]:
    return lambda ws: ws.edit(old, new)


def append(text: str) -> Callable[[Any], None]:
    return lambda ws: ws.append(text)


def both(*steps: Callable[[Any], None]) -> Callable[[Any], None]:
    def run(ws) -> None:
        for step in steps:
            step(ws)

    return run


def one_class(ws) -> None:
    ws.write("labelled.csv", "text,category\n" + "".join(f"text number {i},only\n" for i in range(6)))
    ws.edit(TABLE_SET, 'train = [{ kind = "labelled", path = "labelled.csv", output = "triplets" }]')


def symlink_loop(ws) -> None:
    os.symlink(ws.root / "loop.jsonl", ws.root / "loop.jsonl")
    ws.edit('path = "pairs.jsonl"', 'path = "loop.jsonl"')


PREP_OUT = ("prepared", "reports")
CASES = [
    # --- config files: encoding, syntax, keys at every depth, every section -------------------------
    Case("config-not-utf8", file_at("bench.toml", b'[prep]\nmodel = "caf\xe9"\n'), ["prep"],
         ("bench.toml, line 2, byte 13", "not valid UTF-8"), PREP_OUT),
    Case("config-is-folder", folder_at("conf"), ["prep", "--config", "conf"], ("conf is a folder",), PREP_OUT),
    Case("config-invalid-toml", file_at("bench.toml", "[prep\n"), ["prep"], ("bench.toml", "invalid TOML"), PREP_OUT),
    Case("config-missing", nothing, ["prep", "--config", "none.toml"], ("none.toml", "not found"), PREP_OUT),
    Case("config-extends-loop", file_at("bench.toml", 'extends = "bench.toml"\n'), ["prep"],
         ("bench.toml", "loops back"), PREP_OUT),
    Case("config-top-level-key", edit("[prep]\n", "colour = 1\n[prep]\n"), ["prep"], ("bench.toml", "unknown top-level key", "colour"),
         PREP_OUT),
    Case("prep-nested-unknown-key", edit("max_tokens = 64 }", "max_tokens = 64 }\nnear = { bogus = 1 }"), ["prep"],
         ("prep.sets.toy.near.bogus: unknown key", "allowed keys at prep.sets.toy.near", "threshold"), PREP_OUT),
    Case("prep-negatives-unknown-key",
         edit("max_tokens = 64 }", "max_tokens = 64 }\nnegatives = { num_negative = 2 }"), ["prep"],
         ("prep.sets.toy.negatives.num_negative: unknown key", "num_negatives"), PREP_OUT),
    Case("prep-bad-value", edit("max_tokens = 64 }", "max_tokens = 64 }\nsplit = { dev = 1.5 }"), ["prep"],
         ("prep.sets.toy.split.dev", "1.5"), PREP_OUT),
    Case("prep-unknown-kind", edit('kind = "table"', 'kind = "xml"'), ["prep"], ("prep.sets.toy.train.0.kind", "'xml'"),
         PREP_OUT),
    Case("eval-unknown-key", edit("bootstrap = 100", "bootstrap = 100\nbogus = 1"), ["eval"],
         ("eval.bogus: unknown key", "allowed keys at eval", "results_dir"), ("results", "embeddings.sqlite")),
    Case("train-unknown-key", append(TRAIN + "\nbogus = 1"), ["train"],
         ("train.bogus: unknown key", "allowed keys at train", "base_model"), ("models",)),
    Case("train-no-datasets", append("[train]\nrun = 'run'"), ["train"], ("[train] needs at least one dataset",),
         ("models",)),
    # --- output locations, checked before any work ---------------------------------------------------
    Case("prep-output-dir-is-file", file_at("prepared"), ["prep"], ("[prep] output_dir", "prepared is a file"),
         ("reports",)),
    Case("prep-output-under-file", both(file_at("prepared"), edit('output_dir = "prepared"', 'output_dir = "prepared/x"')),
         ["prep"], ("[prep] output_dir", "lies under", "which is a file"), ("reports",)),
    Case("prep-set-folder-is-file", file_at("prepared/toy"), ["prep"], ("set 'toy'", "is a file"), ("reports",)),
    Case("prep-report-is-folder", folder_at("reports/prep.md"), ["prep"], ("[prep] report", "is a folder"),
         ("prepared",)),
    Case("eval-results-is-file", file_at("results"), ["eval"], ("[eval] results_dir", "results is a file"),
         ("embeddings.sqlite",)),
    Case("eval-cli-results-is-file", file_at("res"), ["eval", "--results", "res"], ("--results res is a file",),
         ("embeddings.sqlite",)),
    Case("report-reports-is-file", file_at("reports"), ["report"], ("[eval] reports_dir", "reports is a file")),
    Case("mine-out-is-file", file_at("out"), MINE, ("--out", "out is a file"), ("embeddings.sqlite",)),
    Case("train-output-is-file", both(append(TRAIN), file_at("models")), ["train"],
         ("[train] output_dir", "lies under", "models"), ()),
    Case("cache-is-folder", folder_at("cache.sqlite"), ["cache", "stats"], ("cache.sqlite is a folder",),
         env={"EMBEDBENCH_EMBEDDINGS": "cache.sqlite"}),
    Case("cache-under-a-file", file_at("afile"), ["cache", "stats"], ("afile/e.sqlite", "cannot make its folder"),
         env={"EMBEDBENCH_EMBEDDINGS": "afile/e.sqlite"}),
    # --- values checked when a step runs name the file and key ---------------------------------------
    Case("eval-unknown-model", edit('models = ["tiny"]', 'models = ["nope-model"]'), ["eval"],
         ("bench.toml: eval.models[0] = 'nope-model'", "unknown model", "tiny"), ("results", "embeddings.sqlite")),
    Case("eval-unknown-cli-model", nothing, ["eval", "--model", "nope-model"], ("--model = 'nope-model'",),
         ("results", "embeddings.sqlite")),
    Case("eval-unknown-task", edit(STS_TASK, '"nosuchtask"'), ["eval"],
         ("bench.toml: eval.tasks[0] (nosuchtask)", "unknown task"), ("results", "embeddings.sqlite")),
    Case("eval-unknown-option", edit('path = "sts.tsv" }', 'path = "sts.tsv", bogus = 1 }'), ["eval"],
         ("bench.toml: eval.tasks[0] (sts-mini)", "bogus"), ("results", "embeddings.sqlite")),
    Case("eval-negative-limit", edit('path = "sts.tsv" }', 'path = "sts.tsv", limit = -1 }'), ["eval"],
         ("bench.toml: eval.tasks[0] (sts-mini)", "limit", "-1"), ("results", "embeddings.sqlite")),
    Case("eval-unknown-format", edit('path = "sts.tsv" }', 'path = "sts.tsv", format = "xml" }'), ["eval"],
         ("bench.toml: eval.tasks[0] (sts-mini)", "'xml'"), ("results", "embeddings.sqlite")),
    Case("eval-cli-unknown-task", nothing, ["eval", "--task", "nosuchtask"], ("unknown task 'nosuchtask'",),
         ("results",)),
    Case("prep-unknown-model",
         both(edit('token_count = "estimate", max_tokens = 64', 'token_count = "tokenizer"'),
              edit('report = "reports/prep.md"', 'report = "reports/prep.md"\nmodel = "nope-model"')),
         ["prep"], ("bench.toml: prep.model = 'nope-model'", "unknown model"), PREP_OUT),
    Case("train-unknown-base-model", append(TRAIN + '\nbase_model = "nope-model"'), ["train"],
         ("bench.toml: train.base_model = 'nope-model'", "unknown model"), ("models",)),
    Case("prep-unknown-set", nothing, ["prep", "--set", "nope"], ("unknown set(s) ['nope']",), PREP_OUT),
    Case("mine-unknown-option", nothing, [*MINE, "-o", "bogus=1"], ("--option bogus: unknown key",),
         ("out", "embeddings.sqlite"), never=("[mine]",)),
    Case("mine-bad-value", nothing, [*MINE, "--num-negatives", "0"], ("--num-negatives", "greater than or equal to 1"),
         ("out", "embeddings.sqlite"), never=("[mine]",)),
    Case("mine-window-too-small", nothing, [*MINE, "--range-max", "2", "--num-negatives", "3"],
         ("num_negatives (3) does not fit",), ("out",), never=("[mine]",)),
    Case("resolve-unknown", nothing, ["resolve", "nope-model"], ("unknown model 'nope-model'", "known names")),
    # --- empty outputs are errors --------------------------------------------------------------------
    Case("prep-labelled-one-class", one_class, ["prep"], ("prep.sets.toy: 0 rows kept", "labelled source"), PREP_OUT),
    Case("prep-every-row-dropped", file_at("pairs.jsonl", '{"anchor": "a", "positive": " "}\n' * 3), ["prep"],
         ("prep.sets.toy: 0 rows kept of 3 read", "normalise"), PREP_OUT),
    Case("prep-mining-keeps-nothing",
         edit("max_tokens = 64 }", 'max_tokens = 64 }\nnegatives = { model = "tiny", num_negatives = 50, range_max = 100 }'),
         ["prep"], ("bench.toml: prep.sets.toy.negatives: mining produced no rows",), PREP_OUT),
    # --- commands with nothing to read ---------------------------------------------------------------
    Case("report-no-results", nothing, ["report"], ("results", "run `embedbench eval` first"), ("reports/mini.md",)),
    Case("check-no-results", nothing, ["check"], ("results", "embedbench eval"),),
    Case("expected-no-results", nothing, ["expected", "exp.json", "--model", "tiny"], ("embedbench eval",),
         ("exp.json",)),
    Case("train-set-not-prepared", append(TRAIN), ["train"], ("prepared/toy/train.parquet", "embedbench prep"),
         ("models/run/manifest.json",)),
    # --- readers (the data layer's part of this issue: issue 12) -------------------------------------
    Case("csv-unclosed-quote", both(file_at("pairs.csv", 'anchor,positive\na,"b\nc,d\n'),
                                    edit('path = "pairs.jsonl"', 'path = "pairs.csv"')),
         ["prep"], ("pairs.csv", "line 2"), PREP_OUT),
    Case("csv-ragged-row", both(file_at("pairs.csv", "anchor,positive\na,b\nc,d,e\n"),
                                edit('path = "pairs.jsonl"', 'path = "pairs.csv"')),
         ["prep"], ("pairs.csv", "line 3"), PREP_OUT),
    Case("jsonl-object-as-text", file_at("pairs.jsonl", '{"anchor": {"x": 1}, "positive": "p"}\n'), ["prep"],
         ("pairs.jsonl", "line 1", "anchor"), PREP_OUT),
    Case("jsonl-not-utf8", file_at("pairs.jsonl", b'{"anchor": "caf\xe9", "positive": "p"}\n'), ["prep"],
         ("pairs.jsonl", "line 1"), PREP_OUT),
    Case("jsonl-malformed", file_at("pairs.jsonl", '{"anchor": "a", "positive": "p"}\n{"anchor": \n'), ["prep"],
         ("pairs.jsonl", "line 2"), PREP_OUT),
    Case("source-missing", edit('path = "pairs.jsonl"', 'path = "none.jsonl"'), ["prep"],
         ("prep.sets.toy.train[0].path", "none.jsonl"), PREP_OUT),
    Case("source-is-folder", both(folder_at("dir.jsonl"), edit('path = "pairs.jsonl"', 'path = "dir.jsonl"')), ["prep"],
         ("dir.jsonl", "folder"), PREP_OUT, never=("not found",)),
    Case("source-symlink-loop", symlink_loop, ["prep"], ("loop.jsonl", "link"), PREP_OUT, never=("not found",)),
    Case("sts-score-out-of-range", file_at("sts.tsv", "g\tf\ty\t1\t7.5\ta\tb\n"), ["eval"], ("sts.tsv", "line 1", "7.5"),
         ("results",)),
    Case("eval-data-missing", edit('path = "sts.tsv"', 'path = "none.tsv"'), ["eval"], ("none.tsv",), ("results",),
         never=("[prep] sources",)),
    Case("mine-txt-not-utf8", file_at("c.txt", b"ok\ncaf\xe9\n"), [*MINE, "--corpus", "c.txt"], ("c.txt", "line 2"),
         ("out",)),
    Case("mine-pairs-missing", nothing, ["mine", "--pairs", "none.jsonl", "--out", "out"], ("none.jsonl",), ("out",),
         never=("[prep] sources",)),
]

def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_hostile_input(ws, monkeypatch, case):
    case.setup(ws)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    before = {p for p in ws.root.rglob("*")}
    result = CliRunner().invoke(app, case.argv, terminal_width=400)
    out = flat(result.output)
    assert result.exit_code == case.code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert out.startswith("error:") or "\nerror:" in result.output, result.output
    for text in case.says:
        assert text in out, f"{text!r} not in: {out}"
    for text in case.never:
        assert text not in out, f"{text!r} in: {out}"
    for rel in case.absent:
        assert not (ws.root / rel).exists() or (ws.root / rel) in before, f"{rel} left behind"
    assert not list(ws.root.rglob("*.tmp")), "temporary files left behind"
