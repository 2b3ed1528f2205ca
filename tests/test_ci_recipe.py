"""The CI recipe (docs/ci/gate.sh and the GitHub Actions workflow around it): exit codes, files, caches.

The full recipe (prep -> train -> eval -> check on bench-ci.toml) runs at the end of
tests/test_end_to_end.py; here it runs the gate alone on stored results, so it is cheap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import yaml

from embedbench.evalsuite.results import ResultsStore
from tests.evalsuite.test_gate import retrieval

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "docs/ci/gate.sh"
WORKFLOW = ROOT / "docs/ci/embedbench-gate.yml"


def run_recipe(cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "EMBEDBENCH": f"{sys.executable} -m embedbench", "EMBEDBENCH_STEPS": "",
            "EMBEDBENCH_CONFIG": "bench.toml", **env}
    full.pop("GITHUB_STEP_SUMMARY", None)
    full.pop("EMBEDBENCH_PR", None)
    return subprocess.run(["bash", str(RECIPE)], cwd=cwd, env=full, capture_output=True, text=True, timeout=300)


def test_recipe_exits_1_on_a_regression_and_2_on_bad_config(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.9, size=150)
    store = ResultsStore(tmp_path / "results")
    for task, shift in (("scifact", -0.1), ("nfcorpus", 0.0)):
        store.save(retrieval("base", base, task=task))
        store.save(retrieval("cand", np.clip(base + shift, 0, 1), task=task))
    (tmp_path / "bench.toml").write_text('[eval]\nmodels = ["cand", "base"]\nbootstrap = 200\n\n'
                                         '[eval.check]\ncandidate = "cand"\nbaseline = "base"\n')
    done = run_recipe(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "scifact" in done.stdout.split("FAILED")[-1]
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "embedbench-gate/junit.xml").getroot().iter("testcase")}
    assert cases["scifact"].find("failure") is not None and cases["nfcorpus"].find("failure") is None
    assert json.loads((tmp_path / "embedbench-gate/check.json").read_text())["failures"] == ["scifact"]
    assert "| scifact |" in (tmp_path / "embedbench-gate/summary.md").read_text()

    (tmp_path / "bench.toml").write_text('[eval]\nmodels = ["cand"]\nbootstrap = 5\n')  # bootstrap >= 100
    bad = run_recipe(tmp_path, EMBEDBENCH_GATE_OUT="bad")
    assert bad.returncode == 2 and "bootstrap" in bad.stderr and "Traceback" not in bad.stderr
    assert not list((tmp_path / "bad").iterdir())  # nothing written on bad input


def test_workflow_runs_the_recipe_and_caches_the_store():
    flow = yaml.safe_load(WORKFLOW.read_text())
    steps = flow["jobs"]["gate"]["steps"]
    assert any("docs/ci/gate.sh" in s.get("run", "") for s in steps)
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache"))
    assert "env.EMBEDBENCH_CACHE" in cache["with"]["path"] and "env.HF_HOME" in cache["with"]["path"]
    assert "EMBEDBENCH_CACHE" in (ROOT / "embedbench/paths.py").read_text()  # the variable the cache keeps
    junit = next(s for s in steps if "junit" in s.get("uses", ""))
    assert junit["with"]["report_paths"] == "embedbench-gate/junit.xml"
    assert subprocess.run(["bash", "-n", str(RECIPE)]).returncode == 0
