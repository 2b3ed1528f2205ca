"""Contamination audit: which test items of the evaluation tasks also appear in the training data.

The training side is any of: a prepared set folder (its ``train.parquet``), a trained model's folder
(the training files its ``manifest.json`` records), a CSV/TSV/JSONL/Parquet file, or a source spec as
JSON, read by :mod:`embedbench.evalsuite.training_data`. The test side is each task's test texts (:func:`task_items`).

Both sides are normalised as prep normalises (:func:`embedbench.text.normalise_expr`). Each distinct
test text gets its best training match, in order of strength: ``exact`` (same normalised text), ``near``
(MinHash-LSH, estimated Jaccard >= ``near_threshold``, the leakage stage's :class:`~embedbench.minhash.MinHasher`)
or ``semantic`` (cosine >= ``semantic_threshold`` under a fixed judge model, FAISS range search through
:mod:`embedbench.matching`). A test item (an STS pair, a query, a triplet...) takes the strongest match of
its texts. Per task: the share of items by kind, the share with any match, whether it passes the limit,
and examples side by side.

:func:`report_contamination` computes the audit of a fine-tuned model (its training manifest known) once
per task and caches it under ``<results>/<model>/contamination/`` for the evaluation report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from embedbench.encode import Encoder
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.config import ContaminationConfig, EvalConfig, TaskEntry
from embedbench.evalsuite.results import display_name, safe_name
from embedbench.evalsuite.runner import build_task, inputs_hash
from embedbench.evalsuite.tasks import MtebTask, PairClassificationTask, RetrievalTask, STSTask, TripletTask
from embedbench.evalsuite.training_data import TrainingTexts, training_texts
from embedbench.io import config_hash, read_manifest, write_json_atomic
from embedbench.matching import calibrate, embed, semantic_matches
from embedbench.minhash import MinHasher
from embedbench.text import normalise_expr

KINDS = ("exact", "near", "semantic")
"""Match kinds, strongest first; an item counts once, under its strongest kind."""

# -- the test side -------------------------------------------------------------------------------------
def task_items(task: Any) -> pl.DataFrame:
    """The test texts of one task: ``item, text``, one row per text of each test item, dispatched on the task's kind.

    STS and pair tasks: both sentences of each pair; retrieval: the judged queries (the corpus is not held
    out); triplets: all three texts; mteb tasks with local data: the texts of their test split.
    """
    def rows(df: pl.DataFrame, columns: Sequence[str], ids: pl.Expr) -> pl.DataFrame:
        df = df.with_columns(item=ids.cast(pl.String))
        return pl.concat([df.select("item", pl.col(c).cast(pl.String).alias("text")) for c in columns])

    if isinstance(task, STSTask | PairClassificationTask):
        return rows(task.frame(), ["sentence1", "sentence2"], pl.col("id"))
    if isinstance(task, TripletTask):
        return rows(task.frame(), ["anchor", "positive", "negative"], pl.col("id"))
    if isinstance(task, RetrievalTask):
        data = task.data()
        judged = data.qrels.filter(pl.col("score") > 0).select("query_id").unique()
        queries = data.queries.join(judged, on="query_id", how="semi", maintain_order="left")
        return rows(queries, ["text"], pl.col("query_id"))
    if isinstance(task, MtebTask):
        return _mteb_items(task)
    texts = getattr(task, "texts", None)
    if callable(texts):  # the other kinds: every text the task encodes, one item each
        return pl.DataFrame({"text": [str(t) for t in texts()]}).with_row_index("item").select(
            pl.col("item").cast(pl.String), "text")
    raise EmbedbenchError(f"task {getattr(task, 'name', task)!r}: the contamination audit cannot read its test texts")


def _mteb_items(task: Any) -> pl.DataFrame:
    """Test texts of an mteb task with local data (its own ``load_data``): STS pairs, queries, or texts."""
    if task.online:
        raise EmbedbenchError(
            f"task {task.name!r} reads mteb's hub copy, which is not here; the audit needs local data "
            "(an mteb task with a local class: see `embedbench.evalsuite.tasks.mteb_tasks.LOCAL_TASKS`)"
        )
    mt = task.build()
    mt.load_data()
    data = mt.dataset
    test = data["default"]["test"] if "default" in data else data["test"]
    if isinstance(test, Mapping) and "queries" in test:
        judged = [q for q, docs in (test.get("relevant_docs") or {}).items() if any(s > 0 for s in docs.values())]
        q = pl.DataFrame({"item": test["queries"]["id"], "text": test["queries"]["text"]})
        return q.filter(pl.col("item").is_in(judged)) if judged else q
    columns = [c for c in ("sentence1", "sentence2", "text", "sentences") if c in test.column_names]
    if not columns:
        raise EmbedbenchError(f"task {task.name!r}: no text column in its test split ({test.column_names})")
    frame = pl.DataFrame({c: test[c] for c in columns}).with_row_index("item", offset=1)
    return pl.concat([frame.select(pl.col("item").cast(pl.String), pl.col(c).alias("text")) for c in columns])


# -- the audit -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskAudit:
    """One task's contamination: items per match kind, shares, the limit, and examples side by side."""

    task: str
    n_items: int
    counts: dict[str, int]
    """Items by strongest match kind (``exact``, ``near``, ``semantic``) and ``any``."""
    limit: float
    semantic: bool
    """Whether the semantic check ran."""
    examples: list[dict[str, Any]] = field(default_factory=list)
    """``{item, kind, score, test_text, train_text, train_ref}``."""

    def share(self, kind: str = "any") -> float:
        """Share of test items whose strongest match is ``kind`` (``any``: with any match)."""
        return self.counts.get(kind, 0) / self.n_items if self.n_items else 0.0

    @property
    def over_limit(self) -> bool:
        """More contaminated items than the limit allows."""
        return self.share() > self.limit

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (:meth:`from_json` reads it back)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskAudit:
        """The audit a :meth:`to_json` dict describes."""
        return cls(**data)


class Matcher:
    """The training texts with their MinHash signatures and (lazily) embeddings, matched against test texts."""

    def __init__(self, training: TrainingTexts, cfg: ContaminationConfig, encoder: Encoder | None = None) -> None:
        self.training = training
        self.cfg = cfg
        self.hasher = MinHasher(cfg.near_threshold, cfg.num_perm, cfg.shingle, cfg.ngram)
        self.signatures = self.hasher.signatures(training.texts["text"])
        self.encoder = encoder
        self._emb: np.ndarray | None = None

    @property
    def semantic(self) -> bool:
        """Whether the semantic check runs (a threshold is configured)."""
        return self.cfg.semantic_threshold is not None

    def _encoder(self) -> Encoder:
        if self.encoder is None:
            from embedbench.encode import load_encoder  # loads torch: only when the semantic check runs

            self.encoder = load_encoder(self.cfg.model, show_progress=True)
        return self.encoder

    def best(self, texts: pl.Series) -> pl.DataFrame:
        """For each of ``texts`` (normalised, unique) with a match: ``text, kind, score, train_text, train_ref``."""
        train = self.training.texts
        found = [
            pl.DataFrame({"text": texts}).join(train, on="text", how="inner")
            .select("text", kind=pl.lit("exact"), score=pl.lit(1.0), train_text=pl.col("text"), train_ref="ref")
        ]
        pairs = self.hasher.cross_pairs(self.hasher.signatures(texts), self.signatures)
        found.append(self._gather(texts, pairs["doc"], pairs["match"], pairs["jaccard"], "near"))
        if self.semantic and len(texts):
            if self._emb is None:
                self._emb = embed(self._encoder(), train["text"].to_list())
            m = semantic_matches(embed(self._encoder(), texts.to_list()), self._emb, float(self.cfg.semantic_threshold or 1.0))
            found.append(self._gather(texts, m["doc"], m["match"], m["cosine"], "semantic"))
        rank = pl.col("kind").replace_strict(list(KINDS), list(range(len(KINDS))), return_dtype=pl.Int64)
        return (
            pl.concat(found)
            .sort(rank, -pl.col("score"), "train_ref")
            .unique("text", keep="first", maintain_order=True)
        )

    def _gather(self, texts: pl.Series, doc: pl.Series, match: pl.Series, score: pl.Series, kind: str) -> pl.DataFrame:
        train = self.training.texts
        return pl.DataFrame(
            {
                "text": texts.gather(doc),
                "kind": [kind] * len(doc),
                "score": score.cast(pl.Float64),
                "train_text": train["text"].gather(match),
                "train_ref": train["ref"].gather(match),
            },
            schema={"text": pl.String, "kind": pl.String, "score": pl.Float64, "train_text": pl.String, "train_ref": pl.String},
        )

    def audit(self, name: str, items: pl.DataFrame) -> TaskAudit:
        """Contamination of one task's ``item, text`` frame."""
        items = items.with_columns(normalise_expr(pl.col("text"))).filter(pl.col("text").str.len_chars() > 0)
        best = self.best(items["text"].unique(maintain_order=True))
        rank = pl.col("kind").replace_strict(list(KINDS), list(range(len(KINDS))), return_dtype=pl.Int64)
        per_item = (
            items.join(best, on="text", how="inner", maintain_order="left")
            .sort(rank, -pl.col("score"), maintain_order=True)
            .unique("item", keep="first", maintain_order=True)
        )
        counts = {k: int(n) for k, n in per_item.group_by("kind").len().iter_rows()}
        counts = {k: counts.get(k, 0) for k in KINDS} | {"any": per_item.height}
        order = items.select("item").unique(maintain_order=True).with_row_index("_pos")
        shown = (
            per_item.join(order, on="item").sort(rank, "_pos")
            .group_by("kind", maintain_order=True).head(self.cfg.examples)
            .select("item", "kind", pl.col("score").round(4), test_text="text", train_text="train_text", train_ref="train_ref")
        )
        return TaskAudit(
            task=name, n_items=items["item"].n_unique(), counts=counts, limit=self.cfg.limit_for(name),
            semantic=self.semantic, examples=shown.to_dicts(),
        )


def audit_tasks(
    training: TrainingTexts,
    tasks: Mapping[str, Any],
    cfg: ContaminationConfig,
    *,
    encoder: Encoder | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> list[TaskAudit]:
    """Audit every task (name -> task object) against the training texts."""
    matcher = Matcher(training, cfg, encoder)
    out = []
    for name, task in tasks.items():
        log(f"{name}: reading its test texts and matching them")
        out.append(matcher.audit(name, task_items(task)))
    return out


def calibration(
    training: TrainingTexts,
    tasks: Mapping[str, Any],
    cfg: ContaminationConfig,
    *,
    encoder: Encoder | None = None,
    per_band: int = 5,
    seed: int = 0,
) -> Any:
    """Every task's test texts (pooled) against their nearest training text, by cosine band under ``cfg.model``
    (:func:`embedbench.matching.calibrate`): what a semantic threshold would catch, pair by pair."""
    if encoder is None:
        from embedbench.encode import load_encoder  # loads torch

        encoder = load_encoder(cfg.model, show_progress=True)
    texts = pl.concat([task_items(t) for t in tasks.values()]).select(normalise_expr(pl.col("text")))["text"]
    texts = texts.filter(texts.str.len_chars() > 0).unique(maintain_order=True)
    return calibrate(texts.to_list(), training.texts["text"].to_list(), encoder, per_band=per_band, seed=seed)


def build_tasks(entries: Sequence[TaskEntry], names: Sequence[str] | None = None) -> dict[str, Any]:
    """Task objects by name: the configured entries, or ``names`` (configured entries or registry names)."""
    by_name = {e.name: e for e in entries}
    chosen = [by_name.get(n) or TaskEntry(name=n) for n in names] if names else list(entries)
    if not chosen:
        raise EmbedbenchError("no tasks to audit: pass --tasks a,b or list them in [eval] tasks")
    return {e.name: build_task(e) for e in chosen}


# -- the report's cached audit -------------------------------------------------------------------------
def training_manifest(model: str | Path) -> Path | None:
    """``<model>/manifest.json`` when ``model`` is a folder trained by ``embedbench train``, else None."""
    path = Path(str(model).split("@", 1)[0]) / "manifest.json"
    manifest = read_manifest(path) if path.is_file() else None
    return path if manifest is not None and manifest.get("step") == "train" else None


def report_contamination(
    cfg: EvalConfig, *, log: Callable[[str], None] = lambda _: None, encoder: Encoder | None = None
) -> dict[str, list[TaskAudit]]:
    """The audit of every configured model with a training manifest (results name -> per-task audits).

    Each task's audit is cached in ``<results_dir>/<model>/contamination/<task>.json`` with a key of the
    training files' hashes, the task's data hash and the settings; it is recomputed only when one changes.
    """
    out: dict[str, list[TaskAudit]] = {}
    for spec in cfg.models:
        if training_manifest(spec) is None:
            continue
        name = display_name(spec)
        try:
            out[name] = _cached_audits(spec, name, cfg, encoder, log)
        except EmbedbenchError as exc:  # the report still renders; it says why the row is missing
            log(f"contamination of {name} not measured: {exc}")
    return out


def _cached_audits(
    spec: str, name: str, cfg: EvalConfig, encoder: Encoder | None, log: Callable[[str], None]
) -> list[TaskAudit]:
    """The per-task audits of one model folder, each read from its cache file when its key still matches."""
    c = cfg.contamination
    folder = Path(cfg.results_dir) / safe_name(name) / "contamination"
    training = training_texts([str(spec).split("@", 1)[0]])
    matcher: Matcher | None = None
    audits = []
    for task_name, task in build_tasks(cfg.task_entries, c.tasks).items():
        key = config_hash({"train": training.files, "task": inputs_hash(task), "settings": c.model_dump(mode="json")})
        path = folder / f"{safe_name(task_name)}.json"
        cached = read_manifest(path) or {}
        if cached.get("key") == key:
            try:
                audits.append(TaskAudit.from_json(cached["audit"]))
                continue
            except (KeyError, TypeError):  # written by another version: recompute
                pass
        log(f"contamination of {name} on {task_name}: computing (cached in {path})")
        matcher = matcher or Matcher(training, c, encoder)
        audit = matcher.audit(task_name, task_items(task))
        write_json_atomic(path, {"key": key, "training": training.files, "audit": audit.to_json()})
        audits.append(audit)
    return audits

