"""Schema of the ``[eval]`` section of the experiment file.

Example::

    [eval]
    models = ["all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2", "bm25", "@train"]   # "@train": [train]'s model
    baseline = "all-MiniLM-L6-v2"
    tasks = ["stsb", "scifact", { name = "snli-triplets", limit = 2000 }]
    bootstrap = 1000            # resamples for CIs and paired tests
    seed = 0
    report_name = "eval"        # -> reports/eval.md

    [eval.check]                # `embedbench check` defaults
    candidate = "models/scifact"  # default: "@train" when the file has a [train] section
    tolerance = 0.01            # allowed drop of any task's main metric
    tolerances = { stsb = 0.005 }

A task entry is a registry name, or a table whose ``name`` picks the task (or names the result
when ``task`` picks it, e.g. ``{ name = "stsb-mini", task = "stsb", path = "mini.tsv" }``) and whose
other keys are the task's options (fields of its dataclass; source keys such as ``path`` go to its
source). ``task`` may be a task kind with a ``source`` table (prep's source keys), e.g.
``{ name = "my-sts", task = "sts", source = { kind = "table", path = "pairs.csv", output = "scored" } }``;
``embedbench tasks`` lists the kinds and their options. A relative path is resolved against the config
file's folder when the file is there. ``"bm25"`` is the lexical baseline (retrieval only).
Relative paths (results, reports, expected file, model folders) are resolved against the folder of
the config file, so the config works from any working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from embedbench.config import DEFAULT_CONFIG, Experiment, StrictModel
from embedbench.models import DEFAULT_MODEL

BM25 = "bm25"
SOURCE_OPTIONS = ("source", "train", "queries", "corpus", "qrels")
"""Task options that hold a source table (their relative ``path`` is resolved like the config's other paths)."""


class TaskEntry(StrictModel):
    """One configured task: its name, the registry task it is (default: the name) and its options.

    Open on purpose: every key but ``name`` and ``task`` is an option of the task, checked by the task.
    """

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.+-]+$")
    task: str | None = None

    @property
    def registry_name(self) -> str:
        """The registry task this entry builds."""
        return self.task or self.name

    @property
    def options(self) -> dict[str, Any]:
        """The task's options (every key but ``name`` and ``task``); an alias passes its name on."""
        opts = dict(self.model_extra or {})
        if self.task and self.task != self.name:
            opts["name"] = self.name
        return opts


class CheckConfig(StrictModel):
    """Defaults of the regression gate (``embedbench check``)."""

    candidate: str | None = None
    """The model checked; in an experiment file with a ``[train]`` section it defaults to ``"@train"``."""
    baseline: str | None = None
    expected: Path | None = None
    tasks: list[str] | None = None
    alpha: float = Field(0.05, gt=0, lt=0.5)
    tolerance: float = Field(0.01, ge=0)
    tolerances: dict[str, float] = Field(default_factory=dict)
    correction: Literal["holm", "bonferroni", "none"] = "holm"
    """Multiple-comparison correction of the per-task p-values (``evalsuite.gate.adjust_p_values``)."""

    @field_validator("tolerances")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: t for k, t in v.items() if t < 0}
        if bad:
            raise ValueError(f"tolerances must be >= 0, got {bad}")
        return v

    def tolerance_for(self, task: str) -> float:
        """The allowed drop of ``task``'s main metric."""
        return self.tolerances.get(task, self.tolerance)


class ContaminationConfig(StrictModel):
    """Defaults of the contamination audit (``embedbench contamination``, the report's contamination column).

    A test item counts as contaminated when one of its texts has an exact (after normalisation), near
    (MinHash, estimated Jaccard >= ``near_threshold``) or semantic (cosine >= ``semantic_threshold`` under
    ``model``) match in the training data. ``semantic_threshold`` has no default: choose it from
    ``embedbench contamination --calibrate`` (sampled pairs per similarity band); unset, the semantic
    check is off.
    """

    tasks: list[str] | None = None
    """Tasks audited (default: ``[eval] tasks``)."""
    limit: float = Field(0.01, ge=0.0, le=1.0)
    """Share of a task's test items with any match above which the audit fails (exit 1)."""
    limits: dict[str, float] = Field(default_factory=dict)
    """Per-task limits overriding ``limit``."""
    near_threshold: float = Field(0.8, gt=0.0, lt=1.0)
    shingle: Literal["char", "word"] = "char"
    ngram: int = Field(5, ge=1, le=32)
    num_perm: int = Field(128, ge=16, le=1024)
    semantic_threshold: float | None = Field(None, gt=0.0, le=1.0)
    model: str = DEFAULT_MODEL
    """The model that embeds both sides for the semantic check (a fixed judge, not the model evaluated)."""
    examples: int = Field(3, ge=0, le=100)
    """Matched items shown per task and kind."""

    @field_validator("limits")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: x for k, x in v.items() if not 0.0 <= x <= 1.0}
        if bad:
            raise ValueError(f"limits are shares of test items, between 0 and 1; got {bad}")
        return v

    def limit_for(self, task: str) -> float:
        """The largest allowed share of contaminated test items for ``task``."""
        return self.limits.get(task, self.limit)


class LeaveOut(StrictModel):
    """Pairs the experiment plans but does not run: ``model`` on each of ``tasks``, and why.

    They appear in the plan (texts, estimated time), in ``plan.json`` with status ``left out`` and in
    the report's "Left out" table, e.g.
    ``{ model = "all-mpnet-base-v2", tasks = ["scifact"], reason = "54 min on 2 CPU cores" }``.
    """

    model: str = Field(min_length=1)
    tasks: list[str] = Field(min_length=1)
    reason: str = ""


class EvalConfig(StrictModel):
    """Everything ``embedbench eval``, ``report`` and ``check`` read from ``[eval]``."""

    models: list[str] = Field(default_factory=lambda: [DEFAULT_MODEL], min_length=1)
    """Registry names, model folders, ``"bm25"``, or ``"@train"`` (the model ``[train]`` writes)."""
    baseline: str | None = None
    tasks: list[str | TaskEntry] = Field(default_factory=list)
    bootstrap: int = Field(1000, ge=100, le=100_000)
    seed: int = 0
    alpha: float = Field(0.05, gt=0, lt=0.5)
    test: Literal["auto", "randomization", "t-test", "bootstrap"] = "auto"
    batch_size: int = Field(64, ge=1)
    results_dir: Path = Path("results")
    reports_dir: Path = Path("reports")
    report_name: str = Field("eval", pattern=r"^[A-Za-z0-9_.-]+$")
    notes: list[str] = Field(default_factory=list)
    """Sentences shown under the report's summary (e.g. which model x task pairs this profile leaves out)."""
    leave_out: list[LeaveOut] = Field(default_factory=list)
    """(model, tasks) pairs planned but not run (``LeaveOut``); the model and tasks must be configured."""
    check: CheckConfig = Field(default_factory=CheckConfig)
    contamination: ContaminationConfig = Field(default_factory=ContaminationConfig)

    @model_validator(mode="after")
    def _baseline_is_a_model(self) -> EvalConfig:
        if self.baseline is not None and self.baseline not in self.models:
            raise ValueError(f"baseline {self.baseline!r} is not one of models {self.models}")
        names = [t.name for t in self.task_entries]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"task(s) listed twice: {dupes}; give each entry its own name")
        for i, rule in enumerate(self.leave_out):
            if rule.model not in self.models:
                raise ValueError(f"leave_out[{i}].model {rule.model!r} is not one of models {self.models}; "
                                 "name a configured model (as written there)")
            unknown = [t for t in rule.tasks if t not in names]
            if unknown:
                raise ValueError(f"leave_out[{i}].tasks {unknown} are not configured tasks {names}; "
                                 "name tasks listed under [eval] tasks")
        return self

    @property
    def task_entries(self) -> list[TaskEntry]:
        """The tasks as entries (plain names become entries without options)."""
        return [TaskEntry(name=t) if isinstance(t, str) else t for t in self.tasks]

    @property
    def baseline_model(self) -> str:
        """The model every other model is compared with (default: the first model)."""
        return self.baseline or self.models[0]

    def resolved(self, base: Path) -> EvalConfig:
        """A copy with relative paths (and model folders that exist there) made relative to ``base``."""

        def fix(p: Path | None) -> Path | None:
            return None if p is None or p.is_absolute() else Path(os.path.normpath(base / p))

        def model(m: str) -> str:
            candidate = base / m
            return str(candidate) if m != BM25 and not Path(m).is_absolute() and candidate.is_dir() else m

        def source(value: Any) -> Any:
            # a source table's relative path: beside the config file when it is there, else as given
            # (the readers then try the working directory and the data folder)
            if not isinstance(value, dict) or not isinstance(value.get("path"), str) or Path(value["path"]).is_absolute():
                return value
            return {**value, "path": str(base / value["path"])} if (base / value["path"]).exists() else value

        def entry(t: str | TaskEntry) -> str | TaskEntry:
            if isinstance(t, str):
                return t
            data = {k: source(v) if k in SOURCE_OPTIONS else v for k, v in t.model_dump().items()}
            if isinstance(data.get("path"), str) and not Path(data["path"]).is_absolute():
                data["path"] = str(base / data["path"])
            return TaskEntry.model_validate(data)

        check = self.check.model_copy(update={
            "expected": fix(self.check.expected) or self.check.expected,
            "candidate": model(self.check.candidate) if self.check.candidate else None,
            "baseline": model(self.check.baseline) if self.check.baseline else None,
        })
        return self.model_copy(update={
            "results_dir": fix(self.results_dir) or self.results_dir,
            "reports_dir": fix(self.reports_dir) or self.reports_dir,
            "models": [model(m) for m in self.models],
            "leave_out": [r.model_copy(update={"model": model(r.model)}) for r in self.leave_out],
            "tasks": [entry(t) for t in self.tasks],
            "baseline": model(self.baseline) if self.baseline else None,
            "check": check,
        })


def load_eval_config(path: str | Path = DEFAULT_CONFIG) -> EvalConfig:
    """The ``[eval]`` section of experiment file ``path``, ``"@train"`` filled in, paths resolved against its folder."""
    experiment = Experiment.load(path)
    return experiment.section("eval", EvalConfig).resolved(experiment.folder)
