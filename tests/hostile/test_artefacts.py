"""Damaged or stale artefacts are never trusted: prepared sets, results, model folders and the embedding
cache are verified and rebuilt (saying why), leftovers of killed runs are removed, and identical runs
write identical bytes."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat

import polars as pl
import pytest
from typer.testing import CliRunner

from embedbench.cli import app
from embedbench.errors import EXIT_BAD_INPUT, EXIT_OK, EmbedbenchError
from embedbench.io import clean_temps, outputs_problem, record_outputs

DEAD_PID = 4_194_304 + 1  # above Linux's largest pid: a process that cannot be running


def run(*argv: str) -> str:
    result = CliRunner().invoke(app, list(argv), terminal_width=400)
    assert result.exit_code == EXIT_OK, result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


# --- prepared sets: the skip check verifies every output the manifest lists ----------------------------


@pytest.mark.parametrize("damage", ["truncate", "delete", "overwrite"])
def test_damaged_prepared_file_is_rebuilt(ws, damage):
    run("prep")
    train = ws.root / "prepared" / "toy" / "train.parquet"
    good = train.read_bytes()
    if damage == "truncate":
        train.write_bytes(good[: len(good) // 2])
    elif damage == "delete":
        train.unlink()
    else:  # same size, other bytes
        train.write_bytes(bytes(reversed(good)))
    out = run("prep")
    assert "inputs and config unchanged but" in out and "train.parquet" in out and "rebuilt it" in out, out
    assert train.read_bytes() == good
    assert "unchanged" in run("prep") and "skipped" in run("prep")


def test_manifest_lists_every_output_with_size_and_hash(ws):
    run("prep")
    folder = ws.root / "prepared" / "toy"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["outputs"]) == {"train.parquet", "dev.parquet", "dropped.parquet"}
    assert manifest["outputs"] == record_outputs(folder)
    assert outputs_problem(folder, manifest["outputs"]) is None
    assert "lists no output hashes" in outputs_problem(folder, None)


# --- temporary files of our own naming left by a kill are removed on the next run ----------------------


def test_leftover_temporary_files_are_removed_on_the_next_run(ws):
    run("prep")
    dead = [
        ws.write(f"reports/.prep_toy_lengths.png.{DEAD_PID}.abcd1234.tmp", b""),
        ws.write(f"prepared/.toy.{DEAD_PID}.k2j3h4g5.tmp/train.parquet", b"half"),
        ws.write(f"prepared/.toy.old-{DEAD_PID}/manifest.json", "{}"),
    ]
    live = ws.write(f"reports/.prep.md.{os.getpid()}.abcd1234.tmp", b"")  # a running process's own file stays
    other = ws.write("reports/.notes.tmp", b"")  # not our naming
    run("prep")
    assert not any(p.exists() for p in dead) and not (ws.root / f"prepared/.toy.{DEAD_PID}.k2j3h4g5.tmp").exists()
    assert live.exists() and other.exists()


def test_leftover_results_temporary_files_are_removed_by_eval(ws):
    leftover = ws.write(f"results/tiny/.sts-mini.json.{DEAD_PID}.abcd1234.tmp", b"")
    run("eval")
    assert not leftover.exists() and (ws.root / "results" / "tiny" / "sts-mini.json").is_file()


def test_old_style_temporary_files_are_removed_once_old(tmp_path):
    young = tmp_path / ".report.png.abcd1234.tmp"
    old = tmp_path / ".report.md.wxyz5678.tmp"
    young.write_bytes(b"")
    old.write_bytes(b"")
    os.utime(old, (0, 0))
    assert clean_temps(tmp_path) == [old]
    assert young.exists()


# --- folders we create have the usual mode --------------------------------------------------------------


def test_created_folders_follow_the_umask(ws):
    from embedbench.models import _materialise  # how every built model folder is made

    previous = os.umask(0o022)
    try:
        run("prep")
        built = _materialise(ws.root / "models-cache" / "m", lambda out: (out / "modules.json").write_text("[]"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((ws.root / "prepared" / "toy").stat().st_mode) == 0o755
    assert stat.S_IMODE((ws.root / "prepared" / "toy" / "train.parquet").stat().st_mode) == 0o644
    assert stat.S_IMODE(built.stat().st_mode) == 0o755


# --- empty outputs: no manifest, no report --------------------------------------------------------------


def test_a_set_that_keeps_no_row_writes_nothing(ws):
    ws.write("labelled.csv", "text,category\n" + "".join(f"text number {i},only\n" for i in range(6)))
    ws.edit('train = [{ kind = "table", path = "pairs.jsonl", output = "pairs" }]',
            'train = [{ kind = "labelled", path = "labelled.csv", output = "triplets" }]')
    result = CliRunner().invoke(app, ["prep"], terminal_width=400)
    assert result.exit_code == EXIT_BAD_INPUT and "0 rows kept" in result.output
    assert not (ws.root / "prepared").exists() and not (ws.root / "reports").exists()


# --- results: a damaged stored result is run again ------------------------------------------------------


def test_damaged_result_is_run_again_and_timing_lives_in_one_key(ws):
    run("eval")
    path = ws.root / "results" / "tiny" / "sts-mini.json"
    first = path.read_text()
    assert "up to date, skipped" in run("eval")
    path.write_text(first[: len(first) // 2])
    out = run("eval")
    assert "stored result does not read" in out and "malformed JSON" in out and "sts-mini.json" in out, out
    second = path.read_text()
    # bit-identical apart from the one timing key, which is last
    assert list(json.loads(second))[-1] == "timing"
    assert first[: first.index('"timing"')] == second[: second.index('"timing"')]
    assert run("report") and (ws.root / "reports" / "mini.md").is_file()


def test_rerun_of_prep_and_eval_is_bit_identical(ws):
    run("prep")
    parquet = {p.name: p.read_bytes() for p in (ws.root / "prepared" / "toy").glob("*.parquet")}
    report = {p.name: p.read_bytes() for p in (ws.root / "reports").iterdir()}
    run("prep", "--force")
    assert {p.name: p.read_bytes() for p in (ws.root / "prepared" / "toy").glob("*.parquet")} == parquet
    assert {p.name: p.read_bytes() for p in (ws.root / "reports").iterdir()} == report
    run("eval")
    path = ws.root / "results" / "tiny" / "sts-mini.json"
    first = path.read_text()
    run("eval", "--force")
    second = path.read_text()
    assert first[: first.index('"timing"')] == second[: second.index('"timing"')]


# --- the embedding cache: a damaged file is moved aside and a new cache started -------------------------


@pytest.mark.parametrize("damage", ["not-a-database", "truncated"])
def test_damaged_cache_is_moved_aside(ws, damage):
    db = ws.root / "embeddings.sqlite"
    if damage == "not-a-database":
        db.write_bytes(b"this is not a database\n" * 200)
    else:
        run("eval")  # fills the cache
        with sqlite3.connect(db) as conn:  # move everything from the WAL into the file, then cut the file
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = db.stat().st_size
        with db.open("r+b") as f:
            f.truncate(size // 2)
    result = CliRunner().invoke(app, ["cache", "stats"], terminal_width=400)
    assert result.exit_code == EXIT_OK, result.output
    assert "embeddings.sqlite was damaged" in result.output and "moved it aside to embeddings.sqlite.damaged-" in result.output
    assert len(list(ws.root.glob("embeddings.sqlite.damaged-*"))) >= 1
    out = run("eval", "--force")
    assert "encoded" in out and "1 task(s) evaluated" in out


def test_cache_clear_moves_a_file_damaged_after_opening(tmp_path):
    from embedbench.cache import EmbeddingCache

    db = tmp_path / "e.sqlite"
    cache = EmbeddingCache(db)
    cache.close()
    db.write_bytes(b"garbage" * 1000)
    with pytest.raises(EmbedbenchError, match=r"e\.sqlite is damaged .*embedbench cache clear"):
        cache.stats()
    assert cache.clear() == 0
    assert cache.stats() == [] and list(tmp_path.glob("e.sqlite.damaged-*"))


# --- model folders: a truncated weights file is named; a changed trained run is retrained ---------------


@pytest.fixture
def model_copy(ws):
    from embedbench.models import resolve

    folder = ws.root / "mymodel"
    shutil.copytree(resolve("tiny").path, folder)
    return folder


def test_truncated_weights_file_is_named(ws, model_copy):
    weights = model_copy / "model.safetensors"
    with weights.open("r+b") as f:
        f.truncate(weights.stat().st_size - 1000)
    result = CliRunner().invoke(app, ["eval", "--model", str(model_copy)], terminal_width=400)
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert f"weights file {weights} is damaged" in " ".join(result.output.split())
    assert not (ws.root / "results").exists() or not list((ws.root / "results").rglob("*.json"))


def test_trained_run_whose_weights_changed_is_not_trusted(model_copy):
    from embedbench.fingerprint import model_fingerprint
    from embedbench.train.run import model_files_problem

    (model_copy / "manifest.json").write_text(json.dumps({"model_fingerprint": model_fingerprint(model_copy)}))
    assert model_files_problem(model_copy) is None
    weights = model_copy / "model.safetensors"
    with weights.open("r+b") as f:
        f.truncate(weights.stat().st_size - 10)
    assert "model files changed since training" in model_files_problem(model_copy)


def test_prepared_parquet_reads_after_rebuild(ws):
    run("prep")
    (ws.root / "prepared" / "toy" / "dev.parquet").write_bytes(b"PAR1")
    run("prep")
    assert pl.read_parquet(ws.root / "prepared" / "toy" / "dev.parquet").height == 2
