"""``kill -9`` during ``prep`` and ``eval``: no partial set, result or cache is left to be trusted, and the
next run removes the killed run's temporary files and finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embedbench.cache import EmbeddingCache
from embedbench.evalsuite.results import ResultsStore


def start(ws, *argv: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "embedbench", *argv], cwd=ws.root, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, env={**os.environ, "EMBEDBENCH_EMBEDDINGS": str(ws.root / "embeddings.sqlite")},
    )


def kill_when(proc: subprocess.Popen, seen, timeout: float = 120.0) -> bool:
    """SIGKILL ``proc`` as soon as ``seen()`` is true; False when it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if seen():
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    proc.wait()
    return False


def finish(ws, *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "embedbench", *argv], cwd=ws.root, capture_output=True, text=True,
        env={**os.environ, "EMBEDBENCH_EMBEDDINGS": str(ws.root / "embeddings.sqlite")}, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


@pytest.mark.slow
def test_kill_during_prep_leaves_no_partial_set(ws):
    rows = [{"anchor": f"question {i} on subject {i % 977} and {i * 7}", "positive": f"answer {i} in detail"}
            for i in range(20_000)]
    ws.write("pairs.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    prepared = ws.root / "prepared"
    killed = kill_when(start(ws, "prep"), lambda: prepared.is_dir() and any(prepared.glob(".toy.*.tmp")))
    assert killed, "prep ended before it started writing"
    assert not (prepared / "toy").exists()  # the half-written set is only a temporary folder
    out = finish(ws, "prep")
    assert "20000 rows read" in out
    assert not list(ws.root.rglob("*.tmp")) and (prepared / "toy" / "manifest.json").is_file()


@pytest.mark.slow
def test_kill_during_eval_leaves_no_partial_result_or_cache(ws):
    lines = [f"g\tf\ty\t{i:04d}\t{i % 6}.0\tSentence one number {i} here.\tSentence two number {i * 3} there.\n"
             for i in range(300)]
    ws.write("sts.tsv", "".join(lines))
    db = ws.root / "embeddings.sqlite"
    wal = ws.root / "embeddings.sqlite-wal"
    killed = kill_when(start(ws, "eval"), lambda: wal.is_file() and wal.stat().st_size > 20_000)
    assert killed, "eval ended before it wrote to the cache"  # killed while encoding: some batches stored
    assert EmbeddingCache(db).integrity_ok()
    results = ws.root / "results"
    for path in results.rglob("*.json") if results.exists() else []:
        ResultsStore(results).load_file(path)  # anything written is whole
    finish(ws, "eval")
    assert not list(ws.root.rglob("*.tmp"))
    assert ResultsStore(results).load("tiny", "sts-mini").metrics
    assert Path(db).is_file()
