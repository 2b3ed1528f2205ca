"""The pytest-benchmark benchmarks on tiny data, so they cannot rot: every benchmark runs (one round, the
"tiny" model) and leaves its ratio in ``extra_info`` of pytest-benchmark's JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_benchmarks_run_on_tiny_data(tmp_path):
    out = tmp_path / "bench.json"
    env = {**os.environ, "EMBEDBENCH_BENCH_SIZE": "tiny"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks", "-q", "-p", "no:cacheprovider", "--benchmark-only",
         f"--benchmark-json={out}", "--benchmark-disable-gc",
         "-k", "not ray"],  # the Ray benchmark starts a cluster and a pool (~70 s): `make bench` runs it
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "embedbench ratios" in done.stdout  # the ratio table is printed
    benchmarks = json.loads(out.read_text())["benchmarks"]
    names = {b["name"] for b in benchmarks}
    for expected in ("test_cache_cold_vs_warm", "test_mining_vs_sentence_transformers[cold]",
                     "test_mining_vs_sentence_transformers[warm]", "test_eval_suite_vs_by_hand[warm]",
                     "test_minhash_vs_datasketch", "test_exact_dedupe_vs_dict_loop", "test_backend_vs_torch_fp32[onnx-fp32]"):
        assert expected in names, expected
    for b in benchmarks:
        ratios = {k: v for k, v in b["extra_info"].items() if "_over_" in k and not k.endswith("_target")}
        assert len(ratios) == 1 and all(v > 0 for v in ratios.values()), (b["name"], b["extra_info"])
        assert b["extra_info"]["size"] == "tiny" and b["stats"]["rounds"] == 1
