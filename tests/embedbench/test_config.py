"""Experiment files: TOML errors, profiles through ``extends``, section validation, the wiring between steps."""

from __future__ import annotations

import os
import re
import textwrap
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from embedbench import config as config_module
from embedbench.config import PREPARED_DIR, Experiment, StrictModel, load_toml, merge_tables, validate_section
from embedbench.data import spec as data_spec
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite import config as eval_config
from embedbench.evalsuite.config import CheckConfig, EvalConfig, TaskEntry, load_eval_config
from embedbench.prep import config as prep_config
from embedbench.prep.config import PrepConfig, SetConfig, load_prep_config
from embedbench.train import config as train_config
from embedbench.train.config import DatasetSpec, TrainConfig, load_train_config


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


# --- one Experiment: sections on one base, steps wired, docstring examples honest -------------------

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ["bench.toml", "bench-quick.toml", "bench-full.toml", "bench-ci.toml"]


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_every_section_model_is_strict():
    for model in (PrepConfig, SetConfig, TrainConfig, DatasetSpec, EvalConfig, CheckConfig, TaskEntry, Experiment):
        assert issubclass(model, StrictModel), model
        assert model.model_config.get("frozen") is True, model
    with pytest.raises(EmbedbenchError, match=r"eval\.check\.colour: unknown key \(got 1\); allowed keys at eval\.check: \['alpha'"):
        validate_section(CheckConfig, {"colour": 1}, section="eval.check")
    # task options stay free-form: the task checks them
    assert TaskEntry.model_validate({"name": "stsb", "limit": 5}).options == {"limit": 5}


def test_train_reads_what_prep_writes_and_eval_checks_what_train_writes(tmp_path):
    cfg = write(tmp_path / "bench.toml", """
        [prep]
        output_dir = "data/prepared-x"
        [train]
        run = "run-x"
        [[train.datasets]]
        name = "a"
        set = "s"
        [eval]
        models = ["all-MiniLM-L6-v2", "@train", "@train@onnx-int8"]
    """)
    train = load_train_config(cfg)
    assert train.prepared_dir == tmp_path / "data" / "prepared-x"
    assert train.run_dir == tmp_path / "models" / "run-x"
    train.run_dir.mkdir(parents=True)  # a trained model folder resolves to its absolute path
    ev = load_eval_config(cfg)
    assert ev.models[:2] == ["all-MiniLM-L6-v2", str(tmp_path / "models/run-x")]
    assert Experiment.load(cfg).eval["models"][2] == "models/run-x@onnx-int8"
    assert ev.check.candidate == str(tmp_path / "models/run-x")


def test_wiring_defaults_and_overrides(tmp_path):
    cfg = write(tmp_path / "bench.toml", """
        [train]
        prepared_dir = "elsewhere"
        output_dir = "out"
        [[train.datasets]]
        name = "a"
        set = "s"
        [eval.check]
        candidate = "tiny"
    """)
    assert load_train_config(cfg).prepared_dir == tmp_path / "elsewhere"
    assert load_eval_config(cfg).check.candidate == "tiny"
    only_train = write(tmp_path / "t.toml", '[train]\nrun = "r"\n[[train.datasets]]\nname = "a"\nset = "s"\n')
    assert load_train_config(only_train).prepared_dir == tmp_path / PREPARED_DIR
    assert load_eval_config(only_train).check.candidate == "models/r"  # not trained yet: kept as written
    no_train = write(tmp_path / "e.toml", '[eval]\nmodels = ["all-MiniLM-L6-v2"]\n')
    assert load_eval_config(no_train).check.candidate is None


def test_trained_model_without_train_section_is_an_error(tmp_path):
    cfg = write(tmp_path / "bench.toml", '[eval]\nmodels = ["@train"]\n')
    with pytest.raises(EmbedbenchError, match=r"bench.toml: \[eval\] names '@train'.*no \[train\] section"):
        Experiment.load(cfg)


def test_unknown_top_level_key_is_an_error(tmp_path):
    cfg = write(tmp_path / "bench.toml", "[trian]\nrun = 'x'\n")
    with pytest.raises(EmbedbenchError, match=r"unknown top-level key\(s\) \['trian'\]; allowed: \['prep', 'train', 'eval', 'compute'\]"):
        Experiment.load(cfg)


def test_wiring_follows_the_merged_profile(tmp_path):
    write(tmp_path / "base.toml", """
        [prep]
        output_dir = "data/prepared"
        [train]
        run = "finetuned"
        [[train.datasets]]
        name = "a"
        set = "s"
        [eval]
        models = ["@train"]
    """)
    quick = write(tmp_path / "quick.toml", """
        extends = "base.toml"
        [prep]
        output_dir = "data/prepared-quick"
        [train]
        run = "finetuned-quick"
    """)
    assert load_train_config(quick).prepared_dir == tmp_path / "data" / "prepared-quick"
    ev = load_eval_config(quick)
    assert ev.models == ["models/finetuned-quick"]  # not trained yet: kept as written
    assert ev.check.candidate == "models/finetuned-quick"


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_validate_and_wire(profile):
    path = ROOT / profile
    prep, train, ev = load_prep_config(path), load_train_config(path), load_eval_config(path)
    assert train.prepared_dir == ROOT / prep.output_dir
    runs = [str(Path(os.path.relpath(r.config.run_dir, ROOT))) for r in train.runs() if r.available()]
    for trained in runs:
        assert any(m.endswith(trained) for m in ev.models), (trained, ev.models)
    assert ev.check.candidate is not None and ev.check.candidate.endswith(runs[0])


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_name_each_step_output_once(profile):
    text = (ROOT / profile).read_text(encoding="utf-8")
    assert not re.search(r"^\s*(prepared_dir|candidate)\s*=", text, re.M), "derived from the other sections"
    assert not re.search(r"\bissues? \d", text), "say what a thing is, not which issue filed it"
    assert '"models/finetuned' not in text


def docstring_example(module) -> dict:
    """The TOML block after ``Example::`` in a module's docstring."""
    doc = module.__doc__
    block = doc.split("Example::", 1)[1] if "Example::" in doc else doc.split("Example (TOML)::", 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if line.strip() and not line.startswith("    "):
            break
        lines.append(line)
    return tomllib.loads(textwrap.dedent("\n".join(lines)))


def test_docstring_examples_parse_through_the_schema():
    validate_section(PrepConfig, docstring_example(prep_config)["prep"], section="prep", source="prep/config.py")
    spec_example = docstring_example(data_spec)["prep"]
    validate_section(PrepConfig, spec_example, section="prep", source="embedbench/data/spec.py")
    train_example = docstring_example(train_config)["train"]
    validate_section(TrainConfig, train_example, section="train", source="train/config.py")
    validate_section(EvalConfig, docstring_example(eval_config)["eval"], section="eval", source="evalsuite/config.py")


# --- several base models, one recipe: the runs [train] names and what "@train" expands to -----------

MULTI = """
    [train]
    run = "ft"
    base_models = ["all-MiniLM-L6-v2", { model = "paraphrase-MiniLM-L3-v2", run = "ft-l3" },
                   { model = "all-mpnet-base-v2", requires = "gpu" }, "org/some-model"]
    [[train.datasets]]
    name = "a"
    set = "s"
    [eval]
    models = ["bm25", "@train", "@train@onnx-int8"]
"""


@pytest.mark.parametrize("gpu", [False, True])
def test_train_expands_to_every_run_this_machine_can_train(tmp_path, monkeypatch, gpu):
    monkeypatch.setattr(config_module, "gpu_available", lambda: gpu)
    cfg = write(tmp_path / "bench.toml", MULTI)
    runs = load_train_config(cfg).runs()
    assert [(r.config.run, r.config.base_model, r.available()) for r in runs] == [
        ("ft-all-MiniLM-L6-v2", "all-MiniLM-L6-v2", True), ("ft-l3", "paraphrase-MiniLM-L3-v2", True),
        ("ft-all-mpnet-base-v2", "all-mpnet-base-v2", gpu), ("ft-some-model", "org/some-model", True),
    ]
    assert all(r.config.base_models is None and r.config.run_dir == tmp_path / "models" / r.config.run for r in runs)
    here = [f"models/{r.config.run}" for r in runs if r.available()]
    ev = Experiment.load(cfg).eval
    assert ev["models"] == ["bm25", *here, *(m + "@onnx-int8" for m in here)]
    assert ev["check"]["candidate"] == "models/ft-all-MiniLM-L6-v2"  # the first run
    assert load_eval_config(cfg).models[1:3] == here[:2]


def test_base_model_keeps_its_folder_and_an_explicit_train_candidate_is_the_first_run(tmp_path, monkeypatch):
    monkeypatch.setattr(config_module, "gpu_available", lambda: False)
    single = write(tmp_path / "one.toml", '[train]\nrun = "r"\n[[train.datasets]]\nname = "a"\nset = "s"\n')
    assert [r.config.run_dir for r in load_train_config(single).runs()] == [tmp_path / "models" / "r"]
    gpu_only = write(tmp_path / "gpu.toml", """
        [train]
        base_models = [{ model = "all-mpnet-base-v2", requires = "gpu" }]
        [[train.datasets]]
        name = "a"
        set = "s"
        [eval]
        models = ["all-MiniLM-L6-v2", "@train"]
    """)
    ev = Experiment.load(gpu_only).eval
    assert ev["models"] == ["all-MiniLM-L6-v2"] and "candidate" not in ev["check"]  # nothing trains here
    asked = write(tmp_path / "asked.toml", gpu_only.read_text() + '[eval.check]\ncandidate = "@train"\n')
    with pytest.raises(EmbedbenchError, match=r"asked.toml: \[eval.check\] candidate = '@train' but no \[train\] run"):
        Experiment.load(asked)


@pytest.mark.parametrize(("bases", "message"), [
    ('base_model = "tiny"\nbase_models = ["tiny"]',
     r"gives both base_model \('tiny': one run, models/<run>\) and base_models"),
    ('base_models = ["tiny", "x/tiny"]', r"run name\(s\) \['finetuned-tiny'\] more than once"),
    ('base_models = [{ model = "tiny", requires = "tpu" }]', r"train\.base_models\.0\..*requires.*'tpu'"),
    ('base_models = [{ model = "tiny", colour = 1 }]', r"train\.base_models\.0\..*colour: unknown key"),
    ('base_models = ["tiny", 3]', r"train\.base_models: entry 1 is 3; expected a model name or a table"),
    ('base_models = []', r"train\.base_models: Value should have at least 1 item"),
])
def test_bad_base_models_are_located_errors(tmp_path, bases, message):
    cfg = write(tmp_path / "bench.toml", f'[train]\n{bases}\n[[train.datasets]]\nname = "a"\nset = "s"\n')
    with pytest.raises(EmbedbenchError, match=message):
        load_train_config(cfg)


def test_a_profile_overrides_inherited_base_models_with_base_models(tmp_path):
    write(tmp_path / "base.toml", MULTI)
    quick = write(tmp_path / "quick.toml", """
        extends = "base.toml"
        [train]
        run = "q"
        base_models = [{ model = "tiny", run = "q" }]
    """)
    assert [r.config.run for r in load_train_config(quick).runs()] == ["q"]
    assert load_eval_config(quick).models == ["bm25", "models/q", "models/q@onnx-int8"]
    clash = write(tmp_path / "clash.toml", 'extends = "base.toml"\n[train]\nbase_model = "tiny"\n')
    with pytest.raises(EmbedbenchError, match="keep one of them"):
        Experiment.load(clash)
