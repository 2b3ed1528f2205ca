"""``[compute]`` and ``--engine``: the setting each command activates (no cluster needed)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from embedbench import compute
from embedbench.cli import app
from embedbench.compute import load_compute_config
from embedbench.errors import EmbedbenchError

runner = CliRunner()


@pytest.fixture(autouse=True)
def _local_again():
    yield
    compute.activate(compute.ComputeConfig())


def test_engine_option_overrides_the_section(tmp_path):
    path = tmp_path / "bench.toml"
    path.write_text('[compute]\nengine = "ray"\nactors = 3\nbatch_size = 16\n')
    cfg = load_compute_config(path)
    assert (cfg.engine, cfg.actors, cfg.batch_size) == ("ray", 3, 16)
    assert load_compute_config(path, "local").engine == "local"
    with pytest.raises(EmbedbenchError, match="unknown engine"):
        load_compute_config(path, "spark")


@pytest.mark.parametrize("command", [["prep"], ["eval"], ["mine", "--pairs", "p.parquet", "--out", "o"]])
def test_bad_engine_is_one_error_line(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bench.toml").write_text("")
    result = runner.invoke(app, [*command, "--engine", "spark"])
    assert result.exit_code == 2, result.output
    assert "--engine 'spark': unknown engine; choose one of: local, ray" in result.output
    assert "Traceback" not in result.output
