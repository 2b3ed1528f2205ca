"""The filter stages of one prep set, and the resources the sets of a run share.

:class:`Context` holds the run's config, evaluation frames and models (each loaded once);
:func:`build_stages` turns a set's configured ``steps`` into ``frame -> frame`` functions (normalise,
exact, near, semantic, leakage), each marking the rows it drops (:mod:`prep.marks`), and
:func:`chain` runs them in order. :mod:`prep.pipeline` runs a set through them, splits, mines and writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from embedbench.data.shapes import SHAPES
from embedbench.encode import load_encoder
from embedbench.errors import EmbedbenchError
from embedbench.models import load_model, resolve
from embedbench.prep.config import PrepConfig, SetConfig, Step
from embedbench.prep.dedupe import ROW, exact_dedupe, near_dedupe
from embedbench.prep.inputs import (
    read_one,
)
from embedbench.prep.leakage import eval_texts, leak_exact, leak_near, leak_semantic
from embedbench.prep.marks import require_columns, text_columns
from embedbench.prep.minhash import MinHasher
from embedbench.prep.normalise import drop_empty, flag_long, normalise, normalise_expr, tokenizer_counter
from embedbench.prep.semantic import semantic_dedupe

Stage = Callable[[pl.DataFrame], pl.DataFrame]
"""One filter stage: a marked frame in, the same frame with more rows marked out."""


@dataclass
class Context:
    """Resources shared by the sets of one run: config, evaluation frames and models, each loaded once."""

    config: PrepConfig
    root: Path
    source: str | Path | None = None
    """The experiment file, named in errors about a value it holds."""
    _evals: dict[str, pl.DataFrame] = field(default_factory=dict)
    _models: dict[str, Any] = field(default_factory=dict)

    def eval_frame(self, name: str) -> pl.DataFrame:
        """The evaluation split ``name`` as its reader returns it."""
        if name not in self._evals:
            self._evals[name] = read_one(self.config.eval[name].source, f"prep.eval.{name}.source", [])
        return self._evals[name]

    def model(self, name: str) -> Any:
        """A loaded SentenceTransformer (for its tokenizer and max sequence length)."""
        if name not in self._models:
            self._models[name] = load_model(name, device="cpu")
        return self._models[name]

    def fingerprint(self, name: str, key: str = "prep.model") -> str:
        """Content fingerprint of a model (part of a set's inputs when the model decides the output);
        an unknown model names the config file and ``key``, the setting that holds it."""
        try:
            return resolve(name).fingerprint
        except EmbedbenchError as exc:
            where = f"{self.source}: " if self.source is not None else ""
            raise EmbedbenchError(f"{where}{key} = {name!r}: {exc}") from None


def check_columns(name: str, cfg: SetConfig, frame: pl.DataFrame, texts: list[str]) -> None:
    """Every column a step names must exist in the set's rows (checked before any work is done)."""
    key = f"prep.sets.{name}"
    if Step.exact in cfg.steps:
        require_columns(frame, cfg.exact.key or [], key=f"{key}.exact.key")
        require_columns(frame, cfg.exact.columns, key=f"{key}.exact.columns")
    for step, on in ((Step.near, cfg.near.on), (Step.semantic, cfg.semantic.on)):
        if step in cfg.steps and on != ROW:
            require_columns(frame, [on], key=f"{key}.{step.value}.on")
    require_columns(frame, [cfg.split.group_by or texts[0]], key=f"{key}.split.group_by")


def eval_split_texts(ctx: Context, names: list[str], cfg: SetConfig) -> pl.DataFrame:
    """Normalised texts of the evaluation splits ``names``, unique by text."""
    parts = []
    for name in names:
        split = ctx.config.eval[name]
        frame = ctx.eval_frame(name)
        columns = split.columns or text_columns(SHAPES[split.source.shape])
        require_columns(frame, columns, key=f"prep.eval.{name}.columns")
        if Step.normalise in cfg.steps:
            frame = frame.with_columns(
                normalise_expr(pl.col(c), cfg.normalise.form, cfg.normalise.lowercase) for c in columns
            )
        parts.append(eval_texts(frame, columns, name=name))
    if not parts:
        return pl.DataFrame(schema={"text": pl.String, "ref": pl.String, "split": pl.String})
    return pl.concat(parts).unique("text", keep="first", maintain_order=True)


def build_stages(name: str, cfg: SetConfig, ctx: Context, texts: list[str]) -> list[tuple[str, Stage]]:
    """The configured filter stages, in order, each a ``frame -> frame`` function."""
    stages: list[tuple[str, Stage]] = []
    for step in cfg.steps:
        if step is Step.normalise:
            n = cfg.normalise
            counter = max_tokens = None
            if n.token_count == "tokenizer" or n.max_tokens == "model":
                model = ctx.model(ctx.config.model)
                counter = tokenizer_counter(model.tokenizer) if n.token_count == "tokenizer" else None
                max_tokens = model.max_seq_length
            limit = n.max_tokens if isinstance(n.max_tokens, int) else int(max_tokens or 0)

            stages.append(
                (
                    "normalise",
                    chain(
                        [
                            partial(normalise, columns=texts, form=n.form, lowercase=n.lowercase),
                            partial(drop_empty, columns=texts),
                            partial(
                                flag_long,
                                columns=texts,
                                max_tokens=limit,
                                counter=counter,
                                drop=n.long_texts == "drop",
                            ),
                        ]
                    ),
                )
            )
        elif step is Step.exact:
            e = cfg.exact
            fns: list[Stage] = [partial(exact_dedupe, key=e.key or texts)] if e.row else []
            fns += [partial(exact_dedupe, key=[c]) for c in e.columns]
            stages.append(("exact", chain(fns)))
        elif step is Step.near:
            c = cfg.near
            hasher = MinHasher(c.threshold, c.num_perm, c.shingle, c.ngram, c.seed, c.verify, c.recall_weight)
            stages.append(("near", partial(near_dedupe, text_columns=texts, hasher=hasher, on=c.on)))
        elif step is Step.semantic:
            s = cfg.semantic
            encoder = load_encoder(s.model or ctx.config.model, show_progress=False)
            stages.append(
                (
                    "semantic",
                    partial(
                        semantic_dedupe, text_columns=texts, encoder=encoder, threshold=s.threshold, on=s.on
                    ),
                )
            )
        elif step is Step.leakage:
            lk = cfg.leakage
            evals = eval_split_texts(ctx, ctx.config.against(name), cfg)
            checks: list[Stage] = [partial(leak_exact, text_columns=texts, evals=evals)]
            if lk.near:
                hasher = MinHasher(lk.threshold, lk.num_perm, lk.shingle, lk.ngram)
                checks.append(partial(leak_near, text_columns=texts, evals=evals, hasher=hasher))
            if lk.semantic is not None:
                sem = lk.semantic
                encoder = load_encoder(sem.model or ctx.config.model, show_progress=False)
                checks.append(
                    partial(
                        leak_semantic, text_columns=texts, evals=evals, encoder=encoder,
                        threshold=sem.threshold, action=sem.action,
                    )
                )
            stages.append(("leakage", chain(checks)))
    return stages


def chain(fns: Sequence[Stage]) -> Stage:
    def run(frame: pl.DataFrame) -> pl.DataFrame:
        for fn in fns:
            frame = frame.pipe(fn)
        return frame

    return run
