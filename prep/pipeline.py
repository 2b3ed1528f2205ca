"""Run the configured prep sets end to end: read, filter stages, split, (mine negatives), write, report.

One set is one marked frame (:mod:`prep.marks`) passed through the configured stages with ``.pipe()``;
rows are never deleted mid-way, so each stage's kept count and drops by reason are exact. A set whose
inputs (content hashes, model fingerprints) and configuration hash match its manifest is skipped and
says so; ``force`` rebuilds it. Nothing is written for a set until all of it has been computed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from embedbench.data.shapes import SHAPES, Schema, ntuple, select_schema
from embedbench.encode import load_encoder
from embedbench.errors import EmbedbenchError
from embedbench.io import (
    check_output_dir,
    check_output_file,
    clean_temps,
    config_hash,
    is_up_to_date,
    outputs_problem,
    read_manifest,
)
from embedbench.prep.config import PrepConfig, SetConfig, Step, load_prep_config
from embedbench.prep.inputs import (
    corpus_path,
    describe_input,
    describe_path,
    read_mining_corpus,
    read_set,
)
from embedbench.prep.manifest import build_manifest
from embedbench.prep.marks import count_kept, partition, text_columns
from embedbench.prep.negatives import MinedSplits, NegativesConfig, mine_splits
from embedbench.prep.normalise import normalise_expr
from embedbench.prep.report import write_report
from embedbench.prep.split import assign_split
from embedbench.prep.stages import Context, build_stages, check_columns
from embedbench.prep.store import SPLITS, write_set
from embedbench.prep.teacher import label_splits

PIPELINE_VERSION = 1
"""Bumped when a stage changes what it keeps, so old outputs are rebuilt."""



@dataclass(frozen=True)
class SetOutcome:
    """What happened to one set: built or skipped, where, and its manifest."""

    name: str
    skipped: bool
    out_dir: Path
    manifest: dict[str, Any]
    rebuilt_because: str | None = None
    """Why a set whose inputs and config were unchanged was rebuilt (its outputs did not verify)."""


def set_schema(shape: str, frame: pl.DataFrame) -> Schema:
    """The schema of a set: its shape's, widened to an n-tuple when the rows carry ``negative_1..n``."""
    if shape == "triplets" and "negative_1" in frame.columns:
        return ntuple(sum(1 for c in frame.columns if re.fullmatch(r"negative_\d+", c)))
    return SHAPES[shape]


def _model_key(name: str, cfg: SetConfig, role: str) -> str:
    """The config key that names the model of ``role`` in set ``name``."""
    if role == "semantic" and cfg.semantic.model:
        return f"prep.sets.{name}.semantic.model"
    if role == "negatives":
        return f"prep.sets.{name}.negatives.model"
    return "prep.model"


def _models_used(cfg: SetConfig, prep: PrepConfig) -> dict[str, str]:
    """Role -> model name, for the models that decide this set's output."""
    used: dict[str, str] = {}
    norm = cfg.normalise
    if Step.normalise in cfg.steps and (norm.token_count == "tokenizer" or norm.max_tokens == "model"):
        used["tokenizer"] = prep.model
    if Step.semantic in cfg.steps:
        used["semantic"] = cfg.semantic.model or prep.model
    if cfg.negatives is not None:
        used["negatives"] = cfg.negatives.model
        if cfg.negatives.teacher:
            used["negatives_teacher"] = cfg.negatives.teacher
    if cfg.teacher is not None:
        used["teacher"] = cfg.teacher.model
    if Step.leakage in cfg.steps and cfg.leakage.semantic is not None:
        used["leakage"] = cfg.leakage.semantic.model or prep.model
    return used


def set_hashes(name: str, ctx: Context) -> tuple[list[dict[str, Any]], str, str]:
    """``(inputs, inputs_hash, config_hash)`` of a set: source, eval and mining-corpus files, models, and its settings."""
    cfg = ctx.config.sets[name]
    inputs = [
        describe_input(spec, f"prep.sets.{name}.{role}[{i}]")
        for role in SPLITS
        for i, spec in enumerate(getattr(cfg, role))
    ]
    against = ctx.config.against(name)
    inputs += [describe_input(ctx.config.eval[e].source, f"prep.eval.{e}.source") for e in against]
    if cfg.negatives is not None and cfg.negatives.corpus:
        key = f"prep.sets.{name}.negatives.corpus"
        corpus = cfg.negatives.corpus
        inputs.append(describe_path(corpus_path(corpus, key), key, f"corpus:{corpus}"))
    inputs += [
        {"key": f"model.{role}", "source": m, "sha256": ctx.fingerprint(m, _model_key(name, cfg, role))}
        for role, m in _models_used(cfg, ctx.config).items()
    ]
    settings = {
        "version": PIPELINE_VERSION,
        "set": cfg.model_dump(mode="json"),
        "eval": {e: ctx.config.eval[e].model_dump(mode="json") for e in against},
        "models": _models_used(cfg, ctx.config),
    }
    return (
        inputs,
        config_hash([i["sha256"] for i in inputs] + [i["key"] for i in inputs]),
        config_hash(settings),
    )


def prepare_set(name: str, ctx: Context, *, force: bool = False) -> SetOutcome:
    """Build set ``name`` (or skip it when its manifest matches its inputs and configuration)."""
    cfg = ctx.config.sets[name]
    out_dir = ctx.root / ctx.config.output_dir / name
    inputs, inputs_hash, cfg_hash = set_hashes(name, ctx)
    rebuilt_because = None
    if not force and is_up_to_date(out_dir / "manifest.json", inputs_hash, cfg_hash):
        manifest = read_manifest(out_dir / "manifest.json") or {}
        rebuilt_because = outputs_problem(out_dir, manifest.get("outputs"))
        if rebuilt_because is None:
            return SetOutcome(name, True, out_dir, manifest)
    t_start = time.perf_counter()
    read = read_set(name, {r: getattr(cfg, r) for r in SPLITS})
    frame = read.frame
    shape = set_schema(cfg.shape, frame)
    texts = text_columns(shape)
    t_read = time.perf_counter()
    check_columns(name, cfg, frame, texts)
    stages = build_stages(name, cfg, ctx, texts)
    rows = {"read": frame.height}
    timings = {"read_s": round(t_read - t_start, 4), "setup_s": round(time.perf_counter() - t_read, 4)}
    for stage_name, fn in stages:
        t0 = time.perf_counter()
        frame = frame.pipe(fn)
        rows[stage_name] = count_kept(frame)
        timings[f"{stage_name}_s"] = round(time.perf_counter() - t0, 4)
    s = cfg.split
    frame = assign_split(
        frame,
        group_by=s.group_by or texts[0],
        dev=0.0 if cfg.dev else s.dev,
        test=0.0 if cfg.test else s.test,
        seed=s.seed,
    )
    parts = partition(frame)
    splits = {
        sp: select_schema(parts.kept.filter(pl.col("split") == sp), shape, f"prep.sets.{name} ({sp})")
        for sp in SPLITS
    }
    if not any(sp.height for sp in splits.values()):
        raise EmbedbenchError(_nothing_kept(name, cfg, read.frame.height, rows, parts.dropped, read.reader_dropped))
    mined = None
    if cfg.negatives is not None:
        try:
            mined = _mine(name, cfg, cfg.negatives, parts.kept, splits)
        except EmbedbenchError as exc:  # e.g. no anchor kept enough negatives: name the set's table
            where = f"{ctx.source}: " if ctx.source is not None else ""
            raise EmbedbenchError(f"{where}prep.sets.{name}.negatives: {exc}") from None
        splits = mined.splits
    teacher = None
    if cfg.teacher is not None:
        t = cfg.teacher
        encoder = load_encoder(t.model, batch_size=t.batch_size, show_progress=False)
        splits, teacher = label_splits(
            splits, t, encoder, fingerprint=ctx.fingerprint(t.model), where=f"prep.sets.{name}.teacher"
        )
    dropped = parts.dropped
    if read.reader_dropped is not None:
        dropped = pl.concat([read.reader_dropped, dropped], how="diagonal_relaxed")
    manifest = build_manifest(name, cfg, inputs, inputs_hash, cfg_hash, frame, dropped, rows, splits, timings, ctx)
    if mined is not None:
        manifest["negatives"] = mined.stats
    if teacher is not None:
        manifest["teacher"] = teacher
    manifest["timings"]["total_s"] = round(time.perf_counter() - t_start, 4)
    write_set(out_dir, splits, dropped, manifest, mined.write if mined is not None else None)
    return SetOutcome(name, False, out_dir, read_manifest(out_dir / "manifest.json") or manifest, rebuilt_because)


def _nothing_kept(
    name: str, cfg: SetConfig, n_read: int, rows: dict[str, int], dropped: pl.DataFrame, reader_dropped: pl.DataFrame | None
) -> str:
    """Why set ``name`` has no row to write: the sources built none, or every row was dropped (by reason)."""
    key = f"prep.sets.{name}"
    if n_read == 0:
        why = f"its sources built no {cfg.shape!r} row"
        if reader_dropped is not None and reader_dropped.height:
            reasons = reader_dropped.group_by("reason").len().sort("reason").iter_rows()
            why += " (the reader dropped " + ", ".join(f"{n} as {r}" for r, n in reasons) + ")"
        if cfg.shape == "triplets" and any(s.kind == "labelled" for s in cfg.train):
            why += "; a labelled source builds triplets only from classes with two texts or more and a second class"
        return f"{key}: 0 rows kept: {why}; check the sources and their output shape (nothing was written)"
    reasons = ", ".join(
        f"{stage}/{reason} {n}" for stage, reason, n in dropped.group_by("stage", "reason").len().sort("stage", "reason").iter_rows()
    )
    stages = " -> ".join(f"{k} {v}" for k, v in rows.items())
    return (
        f"{key}: 0 rows kept of {n_read} read (rows per stage: {stages}; dropped: {reasons or 'none'}); "
        "loosen the steps that drop them or check the sources (nothing was written)"
    )


def _mine(
    name: str, cfg: SetConfig, negatives: NegativesConfig, kept: pl.DataFrame, splits: dict[str, pl.DataFrame]
) -> MinedSplits:
    """The negatives stage: mine the kept train and dev pairs against the set's corpus (normalised like the set)."""
    corpus = None
    if negatives.corpus:
        corpus = read_mining_corpus(negatives.corpus, f"prep.sets.{name}.negatives.corpus")
        if Step.normalise in cfg.steps:
            n = cfg.normalise
            corpus = corpus.to_frame().select(normalise_expr(pl.col("text"), n.form, n.lowercase))["text"]
    pairs = {sp: kept.filter(pl.col("split") == sp) for sp in SPLITS}
    return mine_splits(splits, pairs, negatives.mining(), corpus)


def run_prep(
    config: PrepConfig,
    *,
    root: str | Path | None = None,
    sets: list[str] | None = None,
    force: bool = False,
    report: bool = True,
    log: Callable[[str], None] = print,
    source: str | Path | None = None,
) -> list[SetOutcome]:
    """Prepare ``sets`` (default: all) of ``config`` under ``root`` and write the report.

    Output locations are checked, and temporary files a killed run left there removed, before any
    work. ``source`` (the experiment file) is named in errors about a configured value. Returns one
    :class:`SetOutcome` per set; unknown set names raise ``EmbedbenchError`` listing the known ones.
    """
    names = sets or list(config.sets)
    unknown = [n for n in names if n not in config.sets]
    if unknown:
        raise EmbedbenchError(f"unknown set(s) {unknown}; sets in [prep.sets]: {sorted(config.sets)}")
    if not names:
        raise EmbedbenchError("no sets configured: add a [prep.sets.<name>] table to bench.toml")
    ctx = Context(config, Path(root) if root is not None else Path.cwd(), source)
    where = f"{source}: " if source is not None else ""
    output_dir = check_output_dir(ctx.root / config.output_dir, f"{where}[prep] output_dir")
    for name in names:
        check_output_dir(output_dir / name, f"{where}[prep] output_dir (set {name!r})")
    report_path = check_output_file(ctx.root / config.report, f"{where}[prep] report") if report else None
    for folder in (output_dir, *([report_path.parent] if report_path else [])):
        clean_temps(folder)
    outcomes = []
    for name in names:
        outcome = prepare_set(name, ctx, force=force)
        m = outcome.manifest
        if outcome.rebuilt_because:
            log(f"{name}: inputs and config unchanged but {outcome.rebuilt_because}; rebuilt it")
        if outcome.skipped:
            log(
                f"{name}: unchanged (inputs {m.get('inputs_hash')}, config {m.get('config_hash')}), skipped; --force rebuilds it"
            )
        else:
            drops = ", ".join(f"{r}={n}" for r, n in m["drops_total"].items()) or "none"
            log(
                f"{name}: {m['rows']['read']} rows read -> {m['rows']['out']} kept {m['splits']}; dropped: {drops}"
            )
        outcomes.append(outcome)
    if report:
        path = write_report(config, ctx.root)
        log(f"report: {path}")
    return outcomes


def run_prep_file(config_path: str | Path = "bench.toml", **kwargs: Any) -> list[SetOutcome]:
    """Load ``[prep]`` from ``config_path`` and :func:`run_prep` it (relative outputs under the file's folder)."""
    config = load_prep_config(config_path)
    kwargs.setdefault("root", Path(config_path).resolve().parent)
    kwargs.setdefault("source", config_path)
    return run_prep(config, **kwargs)
