"""embedbench's regression gate inside a user's own pytest suite.

Either import the function::

    from embedbench.pytest_plugin import assert_no_regression

    def test_candidate_does_not_regress():
        assert_no_regression("models/candidate", expected="expected.json")

or use the ``no_regression`` fixture (the same function), registered through the ``pytest11`` entry
point ``embedbench`` when embedbench is installed (or with ``-p embedbench.pytest_plugin``)::

    def test_candidate(no_regression):
        no_regression("models/candidate", expected="expected.json", config="bench.toml")

The candidate is evaluated first on the reference's tasks (as ``embedbench eval`` would: a stored
result that is up to date is reused), then checked as ``embedbench check`` does; a regression fails
the test with the gate's table, its rule and the failing tasks as the message. Bad input (a missing
file, a bad config) raises ``EmbedbenchError`` with the one-line message the CLI would print.

Like the CLI, this module is an entry point: it is the one place outside ``embedbench.cli`` in the
core package that calls into the evaluation suite, and it imports it only when a check runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from embedbench.evalsuite.gate import GateReport


class RegressionError(AssertionError):
    """A failed regression check; ``report`` is the gate's ``GateReport``."""

    def __init__(self, message: str, report: GateReport) -> None:
        super().__init__(message)
        self.report = report


def assert_no_regression(
    candidate: str,
    *,
    expected: str | Path | None = None,
    baseline: str | None = None,
    config: str | Path = "bench.toml",
    tasks: list[str] | None = None,
    results: str | Path | None = None,
    evaluate: bool = True,
) -> GateReport:
    """Fail (``RegressionError``, an ``AssertionError``) when ``candidate`` regresses against the reference.

    Args:
        candidate: the model checked (a folder such as ``models/candidate``, or a registry name).
        expected: an expected-results file (``embedbench expected``; tolerances from ``embedbench calibrate``).
        baseline: or a baseline model's stored results (default, with neither: ``[eval.check]`` of ``config``).
        config: the experiment file whose ``[eval]`` section defines the tasks and the gate's defaults.
        tasks: check only these tasks.
        results: the results folder (default: ``[eval] results_dir``).
        evaluate: evaluate the candidate on the reference's tasks first (up-to-date results are reused).

    Returns:
        the ``GateReport`` of a passing check.
    """
    from embedbench.evalsuite.config import load_eval_config
    from embedbench.evalsuite.gate import check_configured, read_expected
    from embedbench.evalsuite.gate_formats import to_text
    from embedbench.evalsuite.runner import run_eval

    cfg = load_eval_config(config)
    if results is not None:
        cfg = cfg.model_copy(update={"results_dir": Path(results)})
    if evaluate:  # the reference's tasks: an expected file's, else the config's
        reference = expected if expected is not None else (None if baseline else cfg.check.expected)
        names = list(read_expected(reference).tasks) if reference is not None else None
        run_eval(cfg, models=[candidate], tasks=tasks or names, log=lambda line: None, show_progress=False)
    report = check_configured(cfg, candidate=candidate, baseline=baseline, expected=expected, tasks=tasks,
                              results=cfg.results_dir, source=f"{config} [eval.check]")
    if not report.passed:
        raise RegressionError("embedbench regression check failed\n" + to_text(report), report)
    return report


@pytest.fixture
def no_regression() -> Callable[..., Any]:
    """``assert_no_regression`` as a fixture."""
    return assert_no_regression
