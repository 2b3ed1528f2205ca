"""Experiment files: TOML errors, profiles through ``extends``, section validation messages."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from embedbench.config import load_toml, merge_tables, validate_section
from embedbench.errors import EmbedbenchError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epochs: int = 1
    name: str = "x"


def test_missing_file(tmp_path):
    with pytest.raises(EmbedbenchError, match="not found"):
        load_toml(tmp_path / "nope.toml")


def test_bad_toml_names_file(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("[prep\n")
    with pytest.raises(EmbedbenchError, match="bad.toml: invalid TOML"):
        load_toml(f)


def test_extends_merges_tables(tmp_path):
    (tmp_path / "base.toml").write_text('[train]\nepochs = 3\nname = "base"\n[eval]\nmodels = ["a", "b"]\n')
    (tmp_path / "quick.toml").write_text('extends = "base.toml"\n[train]\nepochs = 1\n[eval]\nmodels = ["a"]\n')
    data = load_toml(tmp_path / "quick.toml")
    assert data == {"train": {"epochs": 1, "name": "base"}, "eval": {"models": ["a"]}}


def test_extends_loop_is_an_error(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(EmbedbenchError, match="loops back"):
        load_toml(tmp_path / "a.toml")


def test_merge_tables_replaces_lists():
    assert merge_tables({"a": {"b": [1, 2], "c": 1}}, {"a": {"b": [3]}}) == {"a": {"b": [3], "c": 1}}


def test_validate_section_names_key_and_value():
    with pytest.raises(EmbedbenchError) as err:
        validate_section(Section, {"epochs": "many", "colour": 1}, section="train", source="bench.toml")
    msg = str(err.value)
    assert "bench.toml: invalid [train] section" in msg
    assert "train.epochs" in msg and "'many'" in msg
    assert "train.colour" in msg
