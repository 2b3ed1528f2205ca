"""`embedbench tasks`: every task kind with its options, the source keys and the built-in tasks; and the
registry's handling of kinds and source keys given as options."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from embedbench.cli import app
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.tasks import KINDS, TASKS, get_task, kind_options


def test_tasks_command_lists_kinds_options_keys_and_builtins():
    out = CliRunner().invoke(app, ["tasks", "--no-mteb"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    for kind in KINDS:
        assert f"task kind '{kind}'" in out.output
    for word in ("relevance_threshold", "samples_per_label", "subset_size", "positive_label", "score_range",
                 "split_column", "[lo, hi]", *TASKS):
        assert word in out.output, word
    one = CliRunner().invoke(app, ["tasks", "classification", "--no-mteb"])
    assert one.exit_code == 0 and "task kind 'retrieval'" not in one.output and "n_experiments" in one.output
    bad = CliRunner().invoke(app, ["tasks", "regression"])
    assert bad.exit_code == 2 and "unknown task kind 'regression'" in bad.output


def test_every_option_is_documented():
    for kind in KINDS:
        assert all(o.help for o in kind_options(kind)), kind


def test_source_keys_as_options_go_to_the_source(shared_data):
    task = get_task("stsb", split="dev", limit=5, where={"genre": "main-news"})
    assert (task.source.split, task.source.limit, task.source.where) == ("dev", 5, {"genre": "main-news"})
    assert task.frame().height == 5
    kind = get_task("sts", source={"kind": "stsb", "path": "stsbenchmark"}, split="test", name="mine")
    assert kind.name == "mine" and kind.source.split == "test" and kind.dataset_hash() == get_task("stsb").dataset_hash()
    with pytest.raises(EmbedbenchError, match=r"task kind 'sts' has no option\(s\) \['colour'\]"):
        get_task("sts", source={"kind": "stsb", "path": "x"}, colour="red")
    with pytest.raises(EmbedbenchError, match="set either `source`"):
        get_task("retrieval", queries={"path": "q.csv"})


def test_every_task_lists_the_texts_it_encodes(shared_data, tmp_path):
    """``texts()`` (for contamination checks): the test-side texts of built-in tasks, read without a model."""
    assert len(get_task("stsb").texts()) == 2 * 1379
    assert len(get_task("mrpc", limit=10).texts()) == 20
    assert len(get_task("banking77").texts()) == 3080 == len(get_task("banking77-clustering").texts())
    mini = get_task("scifact-mini")
    assert len(mini.texts()) == mini.data().queries.height + mini.data().corpus.height
    assert len(get_task("snli-triplets", limit=4).texts()) == 12
    assert get_task("mteb-STS12").texts()[:1] == get_task("sts12").texts()[:1]
