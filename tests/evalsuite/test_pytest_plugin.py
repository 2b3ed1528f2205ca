"""The pytest plugin: a user's own test file calls `assert_no_regression` (or the `no_regression` fixture) and
a regression fails that test with the gate's table as the message."""

from __future__ import annotations

import json
import shutil
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from embedbench.evalsuite.config import load_eval_config
from embedbench.evalsuite.gate import write_expected
from embedbench.evalsuite.results import ResultsStore
from embedbench.evalsuite.runner import run_eval
from tests.helpers import write_stsb_slice

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[2]

USER_TESTS = '''
from embedbench.pytest_plugin import RegressionError, assert_no_regression


def test_same_model_passes():
    report = assert_no_regression("tiny", expected="expected.json")
    assert report.passed and [r.task for r in report.rows] == ["stsb-mini"]


def test_expectation_it_cannot_meet():
    assert_no_regression("tiny", expected="too-high.json")


def test_fixture(no_regression):
    no_regression("tiny", expected="expected.json", config="bench.toml")
'''


@pytest.fixture(scope="module")
def user_project(tmp_path_factory, shared_data):
    """A user's folder: a 40-pair STSB task, the tiny model's stored result, its expected file and one it cannot meet.

    Module-scoped, so everything it imports (torch, transformers) is imported before ``pytester`` snapshots
    ``sys.modules`` (its teardown drops modules imported after that, and torch cannot be imported twice).
    """
    root = tmp_path_factory.mktemp("user-project")
    write_stsb_slice(shared_data, root / "sts.csv")
    (root / "bench.toml").write_text(
        '[eval]\nmodels = ["tiny"]\nbootstrap = 200\n'
        'tasks = [{ name = "stsb-mini", task = "stsb", path = "sts.csv" }]\n'
    )
    cfg = load_eval_config(root / "bench.toml")
    run_eval(cfg, log=lambda s: None, show_progress=False)
    expected = write_expected(ResultsStore(cfg.results_dir), "tiny", root / "expected.json")
    doc = json.loads(expected.read_text())
    doc["tasks"]["stsb-mini"].update(value=doc["tasks"]["stsb-mini"]["value"] + 0.3, per_item={}, aggregations={})
    (root / "too-high.json").write_text(json.dumps(doc))
    return root


def test_user_suite_fails_on_a_regression_with_the_table(user_project, pytester):
    shutil.copytree(user_project, pytester.path, dirs_exist_ok=True)
    pytester.makepyfile(test_user=USER_TESTS)

    registered = any(ep.value == "embedbench.pytest_plugin" for ep in metadata.entry_points(group="pytest11"))
    # a subprocess: an in-process run unloads the modules it imported, which breaks C extensions for later tests
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *([] if registered else ["-p", "embedbench.pytest_plugin"]))
    result.assert_outcomes(passed=2, failed=1)
    text = result.stdout.str()
    assert "test_expectation_it_cannot_meet" in text and "RegressionError" in text
    failure = text[text.index("test_expectation_it_cannot_meet"):]
    for shown in ("stsb-mini", "spearman", "regressed", "rule:", "Holm", "FAILED: 1 task(s) regressed or missing: stsb-mini"):
        assert shown in failure, shown


def test_bad_input_is_the_one_line_error(tmp_path, monkeypatch):
    from embedbench.errors import EmbedbenchError
    from embedbench.pytest_plugin import assert_no_regression

    monkeypatch.chdir(tmp_path)
    (tmp_path / "bench.toml").write_text('[eval]\nmodels = ["tiny"]\n')
    with pytest.raises(EmbedbenchError, match="expected-results file not found"):
        assert_no_regression("tiny", expected="nope.json")


def test_entry_point_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"embedbench": "embedbench.pytest_plugin"}
