"""Positive-aware hard-negative mining: (anchor, positive) pairs in, triplets / n-tuples / labelled pairs out.

Every unique anchor and corpus text is encoded once through the shared embedding cache; the corpus
(the given one plus every positive, de-duplicated) goes into a FAISS index (:mod:`embedbench.index`);
anchors are searched in batches and their candidates filtered and sampled by
:mod:`~embedbench.prep.negatives.filters`. What each filter removed, the score distributions and the
exact shortfall are returned in :class:`MiningStats`; :mod:`~embedbench.prep.negatives.assemble` shapes
the frames.

Differences from ``sentence_transformers.util.mine_hard_negatives``, on purpose:

- ranks count the candidates left after removing the anchor's known positives and same-text copies,
  and the window ``[range_min, range_max)`` is taken on those ranks before the score filters;
- a corpus text equal to the anchor or one of its positives after normalisation (NFKC, lower case,
  whitespace collapsed) is never a negative (sentence-transformers #2818);
- positives are grouped by ``query_id`` when the pairs carry it (else by anchor text);
- anchors short of negatives are counted once each, and are kept, dropped or padded as configured,
  with dropped pairs returned in ``MiningResult.dropped`` (never silently);
- with ``teacher``, the retrieved candidates (only those) are rescored by a second, stronger
  bi-encoder, and a candidate the teacher scores too close to the anchor's positive is dropped as a
  likely false negative (``teacher_relative_margin`` / ``teacher_absolute_margin``), as
  sentence-transformers does with a cross-encoder.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence

import numpy as np
import polars as pl

from embedbench import compute
from embedbench.data.shapes import PAIR, check_schema
from embedbench.encode import Encoder, load_encoder
from embedbench.errors import EmbedbenchError
from embedbench.index import IndexPlan, build_index, plan_index, search_batches
from embedbench.prep.negatives.assemble import assemble
from embedbench.prep.negatives.config import MiningConfig
from embedbench.prep.negatives.filters import FILTERS, select_negatives
from embedbench.prep.negatives.types import MiningInputs, MiningResult, SearchOutcome


class _Prefixed:
    """An encoder that prepends a prompt, for encoders without ``with_prompt``."""

    def __init__(self, inner: Encoder, prompt: str) -> None:
        self.inner, self.prompt = inner, prompt
        self.name, self.fingerprint = inner.name, f"{inner.fingerprint}|{prompt}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode([self.prompt + t for t in texts])


def _prompted(encoder: Encoder, prompt: str | None) -> Encoder:
    if not prompt:
        return encoder
    with_prompt = getattr(encoder, "with_prompt", None)
    return with_prompt(prompt) if callable(with_prompt) else _Prefixed(encoder, prompt)


def _norm_key(expr: pl.Expr) -> pl.Expr:
    """The text identity used for same-text exclusion: NFKC, lower case, whitespace collapsed."""
    return expr.str.normalize("NFKC").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()


def _blank(expr: pl.Expr) -> pl.Expr:
    return expr.is_null() | (expr.str.strip_chars().str.len_chars() == 0)


def prepare(pairs: pl.DataFrame, corpus: pl.Series | Sequence[str] | None) -> MiningInputs:
    """Check the pairs, build the searched pool (non-blank ``corpus`` texts, then every positive) and the
    exclusions: each anchor's known positives (grouped by ``query_id`` when present) and same-text copies."""
    where = "mine_hard_negatives(pairs)"
    check_schema(pairs, PAIR, where)
    pairs = pairs.select("anchor", "positive", *(["query_id"] if "query_id" in pairs.columns else []))
    if pairs.height == 0:
        raise EmbedbenchError(f"{where}: no (anchor, positive) pairs to mine negatives for")
    bad = pairs.with_row_index("row", offset=1).filter(_blank(pl.col("anchor")) | _blank(pl.col("positive")))
    if bad.height:
        raise EmbedbenchError(
            f"{where}: {bad.height} row(s) have a null or empty anchor or positive (rows {bad['row'].head(5).to_list()}"
            f"{' …' if bad.height > 5 else ''}, 1-based); drop them first (prep's normalise stage drops empty texts)"
        )
    given = pl.Series("text", [] if corpus is None else corpus, dtype=pl.String)
    kept = given.filter(~given.is_null() & (given.str.strip_chars().str.len_chars() > 0))
    texts = pl.concat([kept, pairs["positive"].alias("text")]).unique(maintain_order=True)
    n = len(texts)
    corpus_ids = pl.DataFrame({"text": texts}).with_row_index("pos_id").cast({"pos_id": pl.Int64})
    anchors = pairs["anchor"].unique(maintain_order=True)
    anchor_ids = pl.DataFrame({"anchor": anchors}).with_row_index("anchor_id").cast({"anchor_id": pl.Int64})
    group = pl.col("anchor")
    if "query_id" in pairs.columns:
        group = pl.when(pl.col("query_id").is_not_null()).then(pl.lit("q:") + pl.col("query_id").cast(pl.String)).otherwise(
            pl.lit("a:") + pl.col("anchor")
        )
    rows = (
        pairs.with_row_index("row")
        .join(anchor_ids, on="anchor", how="left", maintain_order="left")
        .join(corpus_ids.rename({"text": "positive"}), on="positive", how="left", maintain_order="left")
        .with_columns(group.alias("_group"))
    )
    known = (
        rows.select("anchor_id", "_group").unique()
        .join(rows.select("_group", "pos_id").unique(), on="_group")
        .select("anchor_id", "pos_id").unique()
    )
    # Same-text exclusions: corpus texts whose normalised form equals the anchor's or a known positive's.
    norms = corpus_ids.with_columns(_norm_key(pl.col("text")).alias("norm")).select("pos_id", "norm")
    pos_norms = known.join(norms, on="pos_id").select("anchor_id", "norm")
    anchor_norms = anchor_ids.select("anchor_id", _norm_key(pl.col("anchor")).alias("norm"))
    same = (
        pl.concat([pos_norms, anchor_norms]).unique()
        .join(norms, on="norm")
        .select("anchor_id", "pos_id")
        .join(known, on=["anchor_id", "pos_id"], how="anti")
    )

    def keys(frame: pl.DataFrame) -> np.ndarray:
        return np.sort(frame["anchor_id"].to_numpy() * n + frame["pos_id"].to_numpy())

    excluded = sum(np.bincount(f["anchor_id"].to_numpy(), minlength=len(anchors)) for f in (known, same))
    return MiningInputs(
        rows.drop("_group"), anchors.to_list(), texts, len(given), len(given) - len(kept),
        keys(known), keys(same), excluded,
    )


def _encode(encoder: Encoder, texts: list[str], what: str) -> np.ndarray:
    emb = np.asarray(encoder.encode(texts), dtype=np.float32)
    if emb.ndim != 2 or len(emb) != len(texts):
        raise EmbedbenchError(f"encoder {encoder.name!r} returned shape {emb.shape} for {len(texts)} {what} texts")
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return np.ascontiguousarray(emb / np.where(norms > 0, norms, 1.0))


def _uids(texts: list[str]) -> np.ndarray:
    return np.array(
        [int.from_bytes(hashlib.sha256(t.encode("utf-8")).digest()[:8], "little") for t in texts], dtype=np.uint64
    )


def _pad_random(sel_ids: np.ndarray, anchor: int, inp: MiningInputs, seed: int, uid: int) -> list[int]:
    """Random corpus ids (not excluded, not chosen) to fill anchor ``anchor``'s empty slots."""
    n = len(inp.corpus)
    need = int((sel_ids < 0).sum())
    lo, hi = anchor * n, (anchor + 1) * n
    banned = {int(k - lo) for keys in (inp.positive_keys, inp.same_text_keys)
              for k in keys[np.searchsorted(keys, lo):np.searchsorted(keys, hi)]}
    banned |= {int(i) for i in sel_ids if i >= 0}
    rng = np.random.default_rng([seed, uid])
    pool = np.setdiff1d(np.arange(n), np.fromiter(banned, dtype=np.int64)) if n <= 8 * (need + len(banned)) else None
    if pool is not None:
        return rng.permutation(pool)[:need].tolist()
    picked: list[int] = []
    while len(picked) < need:
        for i in rng.integers(0, n, size=2 * need).tolist():
            if i not in banned and len(picked) < need:
                banned.add(i)
                picked.append(i)
    return picked


def _teacher_scores(
    teacher: Encoder, inp: MiningInputs, results: list[tuple[int, np.ndarray, np.ndarray]], a_ids: np.ndarray,
    p_ids: np.ndarray,
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """The teacher's lowest positive score per anchor and its scores of every retrieved candidate, per batch."""
    texts = inp.corpus.to_list()
    wanted = np.unique(np.concatenate([p_ids, *(ids[ids >= 0].ravel() for _, _, ids in results)]))
    emb = _encode(teacher, [texts[i] for i in wanted], "corpus (teacher)")
    t_docs = np.zeros((len(texts), emb.shape[1]), dtype=np.float32)
    t_docs[wanted] = emb
    t_q = _encode(teacher, inp.anchors, "anchor (teacher)")
    row_pos = np.einsum("ij,ij->i", t_q[a_ids], t_docs[p_ids])
    t_pos = np.full(len(inp.anchors), np.inf, dtype=np.float32)
    np.minimum.at(t_pos, a_ids, row_pos)
    per_batch = {
        start: np.where(ids >= 0, np.einsum("bd,bkd->bk", t_q[start : start + len(ids)], t_docs[np.maximum(ids, 0)]), np.nan)
        for start, _, ids in results
    }
    return t_pos, per_batch


def _candidates(
    c_emb: np.ndarray, q_emb: np.ndarray, k: np.ndarray, plan: IndexPlan, cfg: MiningConfig
) -> tuple[Iterator[tuple[int, np.ndarray, np.ndarray]], str]:
    """The index built over ``c_emb`` and its ``(start, scores, ids)`` per anchor batch, here or on Ray
    (``[compute] engine``: the same index and batches either way), and where it ran, for the statistics."""
    engine = compute.active()
    if engine.engine == "ray":
        from embedbench.prep.negatives.ray_mine import array_shards, search_on_ray

        found = search_on_ray(array_shards(c_emb), len(c_emb), q_emb, k, plan, engine, batch_size=cfg.batch_size,
                              seed=cfg.seed)
        return found, f" on Ray ({engine.actors} search actors)"
    index = build_index(c_emb, plan, seed=cfg.seed)
    return search_batches(index, q_emb, k, batch_size=cfg.batch_size), ""


def mine_hard_negatives(
    pairs: pl.DataFrame,
    corpus: pl.Series | Sequence[str] | None,
    encoder: Encoder,
    config: MiningConfig | None = None,
    *,
    teacher: Encoder | None = None,
) -> MiningResult:
    """Mine hard negatives for (anchor, positive) pairs from ``corpus`` plus all positives.

    Args:
        pairs: frame with ``anchor`` and ``positive`` (optionally ``query_id``, ``doc_id`` and other
            provenance columns); rows sharing an anchor text (or a ``query_id``) are its positives.
        corpus: candidate texts; ``None`` means the positives alone.
        encoder: any :class:`embedbench.encode.Encoder` (use ``load_encoder`` for the shared cache).
        config: a :class:`MiningConfig` (defaults: top-3 with relative margin 0.05 in ranks [0, 50)).
        teacher: an encoder that rescores the retrieved candidates for the teacher margins (``config.teacher``).

    Returns:
        MiningResult with the dataset in sentence-transformers column order and its statistics.
    """
    cfg = config or MiningConfig()
    t0 = time.perf_counter()
    inp = prepare(pairs, corpus)
    n_corpus, n_anchors = len(inp.corpus), len(inp.anchors)
    notes: list[str] = []
    if cfg.range_min >= n_corpus - 1:
        raise EmbedbenchError(
            f"range_min={cfg.range_min} starts past the end of the corpus: {n_corpus} texts leave at most "
            f"{n_corpus - 1} candidates per anchor; lower range_min or pass a larger corpus"
        )
    if cfg.range_max > n_corpus:
        notes.append(f"range_max={cfg.range_max} exceeds the corpus ({n_corpus} texts): the window ends at the corpus end")
    if cfg.num_negatives > n_corpus - 1:
        notes.append(f"num_negatives={cfg.num_negatives} exceeds the {n_corpus - 1} candidates per anchor: every anchor is short")
    hits0, misses0 = getattr(encoder, "hits", 0), getattr(encoder, "misses", 0)
    q_emb = _encode(_prompted(encoder, cfg.query_prompt), inp.anchors, "anchor")
    c_emb = _encode(_prompted(encoder, cfg.corpus_prompt), inp.corpus.to_list(), "corpus")
    if q_emb.shape[1] != c_emb.shape[1]:
        raise EmbedbenchError(f"anchor and corpus embeddings differ in width: {q_emb.shape[1]} vs {c_emb.shape[1]}")
    t_enc = time.perf_counter()

    a_ids = inp.rows["anchor_id"].to_numpy().astype(np.int64)
    p_ids = inp.rows["pos_id"].to_numpy().astype(np.int64)
    row_pos = np.concatenate(
        [np.einsum("ij,ij->i", q_emb[a_ids[s : s + 65536]], c_emb[p_ids[s : s + 65536]]) for s in range(0, len(a_ids), 65536)]
    )
    anchor_pos = np.full(n_anchors, np.inf, dtype=np.float32)
    np.minimum.at(anchor_pos, a_ids, row_pos)

    plan = plan_index(n_corpus, cfg.index, auto_threshold=cfg.auto_threshold, nlist=cfg.nlist, nprobe=cfg.nprobe)
    k = cfg.range_max + inp.excluded_per_anchor
    batches, where = _candidates(c_emb, q_emb, k, plan, cfg)
    t_idx = time.perf_counter()
    uids = _uids(inp.anchors)
    neg_ids = np.full((n_anchors, cfg.num_negatives), -1, dtype=np.int64)
    neg_scores = np.full((n_anchors, cfg.num_negatives), np.nan, dtype=np.float32)
    neg_ranks = np.full((n_anchors, cfg.num_negatives), -1, dtype=np.int64)
    removed = dict.fromkeys(FILTERS, 0)
    in_window = 0
    t_pos, t_scores = None, {}
    if teacher is not None:  # rescoring needs every batch's candidates first
        batches = list(batches)  # type: ignore[assignment]
        t_pos, t_scores = _teacher_scores(teacher, inp, batches, a_ids, p_ids)  # type: ignore[arg-type]
    for start, scores, ids in batches:
        rows = np.arange(start, start + len(ids))
        sel = select_negatives(
            ids, scores, anchor_rows=rows, anchor_uids=uids[rows], positive_scores=anchor_pos[rows],
            positive_keys=inp.positive_keys, same_text_keys=inp.same_text_keys, n_corpus=n_corpus, config=cfg,
            teacher_scores=t_scores.get(start), teacher_positive=None if t_pos is None else t_pos[rows],
        )
        neg_ids[rows], neg_scores[rows], neg_ranks[rows] = sel.ids, sel.scores, sel.ranks
        for name, count in sel.removed.items():
            removed[name] += count
        in_window += sel.in_window
    t_search = time.perf_counter()

    found = (neg_ids >= 0).sum(axis=1)
    padded = np.zeros_like(neg_ids, dtype=bool)
    if cfg.shortfall == "pad-random":
        for a in np.flatnonzero(found < cfg.num_negatives):
            extra = _pad_random(neg_ids[a], int(a), inp, cfg.seed, int(uids[a]))
            slots = np.flatnonzero(neg_ids[a] < 0)[: len(extra)]
            neg_ids[a, slots] = extra
            neg_scores[a, slots] = c_emb[extra] @ q_emb[a]
            padded[a, slots] = True
    del batches
    timings = {"encode_s": t_enc - t0, "index_s": t_idx - t_enc, "search_s": t_search - t_idx}
    encoded = {"hits": getattr(encoder, "hits", 0) - hits0, "misses": getattr(encoder, "misses", 0) - misses0}
    outcome = SearchOutcome(
        row_pos=row_pos, neg_ids=neg_ids, neg_scores=neg_scores, neg_ranks=neg_ranks, found=found, padded=padded,
        removed=removed, in_window=in_window, index=plan.describe() + where, notes=notes, encoded=encoded,
        timings=timings, started=t0,
    )
    return assemble(inp, cfg, outcome)


def mine_for_set(
    pairs: pl.DataFrame, corpus: pl.Series | Sequence[str] | None, cfg: MiningConfig
) -> MiningResult:
    """Load ``cfg.model`` (and ``cfg.teacher``) behind the shared embedding cache and mine ``pairs`` (the stage's
    and the CLI's entry)."""
    teacher = load_encoder(cfg.teacher) if cfg.teacher else None
    return mine_hard_negatives(pairs, corpus, load_encoder(cfg.model), cfg, teacher=teacher)
