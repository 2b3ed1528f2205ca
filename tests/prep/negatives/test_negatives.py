"""Hard-negative mining on hand-worked geometry: a fake encoder puts texts on the unit circle.

Text ``t`` at angle ``θ`` degrees embeds as ``(cos θ, sin θ)``; the anchor sits at 0°, so a text's
score is ``cos θ`` and the ranking is by angle. Expected negatives follow from the angles alone.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from embedbench.errors import EmbedbenchError
from embedbench.prep.negatives import MiningConfig, make_config, mine_hard_negatives
from embedbench.prep.negatives.filters import random_keys


class CircleEncoder:
    """Fake encoder: each text has an angle; counts how often each text is encoded."""

    name = "circle"
    fingerprint = "circle-v1"

    def __init__(self, angles: dict[str, float]):
        self.angles = angles
        self.calls: dict[str, int] = {}

    def encode(self, texts):
        for t in texts:
            self.calls[t] = self.calls.get(t, 0) + 1
        rad = [math.radians(self.angles[t]) for t in texts]
        return np.array([[math.cos(r), math.sin(r)] for r in rad], dtype=np.float32).reshape(len(texts), 2)


# anchor q at 0°, positive p at 10°, candidates every 10° after it
ANGLES = {"q": 0, "p": 10, "a": 20, "b": 30, "c": 40, "d": 50, "e": 60, "f": 70}
CORPUS = ["a", "b", "c", "d", "e", "f"]
PAIRS = pl.DataFrame({"anchor": ["q"], "positive": ["p"]})


def cfg(**kw) -> MiningConfig:
    base = {"range_max": 5, "num_negatives": 2, "relative_margin": None}
    return MiningConfig(**{**base, **kw})


def negatives(result) -> list[list[str]]:
    cols = [c for c in result.dataset.columns if c.startswith("negative")]
    return [list(r) for r in result.dataset.select(cols).iter_rows()]


def test_top_negatives_follow_the_ranking():
    r = mine_hard_negatives(PAIRS, CORPUS, CircleEncoder(ANGLES), cfg(output="n-tuples"))
    assert r.dataset.columns == ["anchor", "positive", "negative_1", "negative_2"]
    assert negatives(r) == [["a", "b"]]
    assert r.stats.removed["known_positive"] == 1  # p is retrieved (rank 0 of the corpus) and excluded
    assert r.stats.short_anchors == 0 and r.stats.rows_out == 1
    assert r.stats.positive["mean"] == pytest.approx(math.cos(math.radians(10)), abs=1e-6)


def test_range_min_skips_ranks_counted_without_positives():
    r = mine_hard_negatives(PAIRS, CORPUS, CircleEncoder(ANGLES), cfg(range_min=1, output="n-tuples"))
    assert negatives(r) == [["b", "c"]]
    assert r.stats.removed["range_min"] == 1
    assert r.examples["rank"].to_list() == [1, 2]


def test_absolute_margin():
    # pos = cos 10° = 0.9848; drop if neg + 0.1 > pos, i.e. neg > 0.8848: a (cos 20° = 0.9397) goes.
    r = mine_hard_negatives(PAIRS, CORPUS, CircleEncoder(ANGLES), cfg(absolute_margin=0.1, output="n-tuples"))
    assert negatives(r) == [["b", "c"]]
    assert r.stats.removed["absolute_margin"] == 1


def test_relative_margin_positive_scores():
    # threshold = 0.9848 - 0.9848 * 0.05 = 0.9356: a (0.9397) goes, b (0.8660) stays.
    r = mine_hard_negatives(PAIRS, CORPUS, CircleEncoder(ANGLES), cfg(relative_margin=0.05, output="n-tuples"))
    assert negatives(r) == [["b", "c"]]
    assert r.stats.removed["relative_margin"] == 1


def test_relative_margin_is_sign_safe_for_negative_scores():
    # positive at 100° (cos = -0.1736); r = 0.5: threshold = -0.1736 - 0.0868 = -0.2604.
    # x at 105° (-0.2588) is above it and goes; y at 120° (-0.5) and z at 150° (-0.866) stay.
    # The sign-unsafe pos * (1 - r) = -0.0868 would wrongly keep x (sentence-transformers #3819).
    angles = {"q": 0, "p": 100, "x": 105, "y": 120, "z": 150}
    pairs = pl.DataFrame({"anchor": ["q"], "positive": ["p"]})
    r = mine_hard_negatives(pairs, ["x", "y", "z"], CircleEncoder(angles), cfg(relative_margin=0.5, output="n-tuples"))
    assert negatives(r) == [["y", "z"]]
    assert r.stats.removed["relative_margin"] == 1


def test_max_and_min_score():
    # max 0.9 drops a (0.94); min 0.7 drops d (0.64), e, f; window [0,5) holds a..e.
    r = mine_hard_negatives(
        PAIRS, CORPUS, CircleEncoder(ANGLES), cfg(max_score=0.9, min_score=0.7, num_negatives=3, shortfall="keep", output="n-tuples")
    )
    assert negatives(r) == [["b", "c", None]]
    assert r.stats.removed["max_score"] == 1
    assert r.stats.removed["min_score"] == 2  # d and e (f is outside the window)
    assert (r.stats.short_anchors, r.stats.missing_negatives) == (1, 1)


def test_every_known_positive_is_excluded_and_all_rows_share_negatives():
    # q has positives p and a (two rows); neither may be a negative of q.
    pairs = pl.DataFrame({"anchor": ["q", "q"], "positive": ["p", "a"]})
    r = mine_hard_negatives(pairs, CORPUS, CircleEncoder(ANGLES), cfg(output="n-tuples"))
    assert r.dataset.rows() == [("q", "p", "b", "c"), ("q", "a", "b", "c")]
    assert r.stats.removed["known_positive"] == 2


def test_positives_grouped_by_query_id():
    # Two phrasings of one query (same query_id): each one's positive is excluded for the other.
    angles = {**ANGLES, "q2": 1}
    pairs = pl.DataFrame({"anchor": ["q", "q2"], "positive": ["p", "a"], "query_id": ["1", "1"]})
    r = mine_hard_negatives(pairs, CORPUS, CircleEncoder(angles), cfg(output="n-tuples"))
    assert negatives(r) == [["b", "c"], ["b", "c"]]


def test_same_text_as_anchor_or_positive_is_never_a_negative():
    # "P " and "Q" normalise to the positive and the anchor (sentence-transformers #2818).
    angles = {**ANGLES, "P ": 10, "Q": 0}
    r = mine_hard_negatives(PAIRS, ["Q", "P ", *CORPUS], CircleEncoder(angles), cfg(output="n-tuples"))
    assert negatives(r) == [["a", "b"]]
    assert r.stats.removed["same_text"] == 2


# q (three positives at 5-7°) sees a (0.94), b (0.64), c (0.34) in its window [0, 3); max_score 0.5 leaves c
# only: one negative short. r (180°) sees d (200°: 0.94), e (245°: 0.42), f (260°: 0.17): d goes, e and f stay.
SHORT_ANGLES = {"q": 0, "p1": 5, "p2": 6, "p3": 7, "a": 20, "b": 50, "c": 70, "d": 200, "e": 245, "f": 260,
                "r": 180, "rp": 185}
SHORT_PAIRS = pl.DataFrame({"anchor": ["q", "q", "q", "r"], "positive": ["p1", "p2", "p3", "rp"]})
SHORT_CORPUS = ["a", "b", "c", "d", "e", "f"]


def mine_short(**kw):
    c = cfg(range_max=3, num_negatives=2, max_score=0.5, **kw)
    return mine_hard_negatives(SHORT_PAIRS, SHORT_CORPUS, CircleEncoder(SHORT_ANGLES), c)


def test_shortfall_is_counted_once_per_anchor_not_per_row():
    st = mine_short(shortfall="keep", output="n-tuples").stats
    # one anchor short by one negative; it has three pair rows (sentence-transformers #3504 inflated this)
    assert (st.short_anchors, st.short_pairs, st.missing_negatives, st.anchors_without_negatives) == (1, 3, 1, 0)
    assert st.removed["max_score"] == 3  # a, b for q; d for r


def test_shortfall_keep():
    nt = mine_short(shortfall="keep", output="n-tuples")
    assert negatives(nt) == [["c", None]] * 3 + [["e", "f"]]
    tr = mine_short(shortfall="keep", output="triplets")
    assert tr.dataset["negative"].to_list() == ["c", "c", "c", "e", "f"]
    assert tr.dropped.height == 0


def test_shortfall_drop_lists_every_dropped_pair():
    for output in ("n-tuples", "triplets", "binary-pairs"):
        r = mine_short(shortfall="drop", output=output)
        assert r.dropped.rows() == [("q", p, "shortfall", 1, i) for i, p in enumerate(["p1", "p2", "p3"], 1)]
        assert r.stats.dropped_pairs == 3
    assert negatives(mine_short(shortfall="drop", output="n-tuples")) == [["e", "f"]]


def test_triplet_keep_reports_pairs_without_any_negative():
    r = mine_short(shortfall="keep", output="triplets", min_score=0.4)  # q now finds nothing at all
    assert r.dropped.select("anchor", "reason", "negatives_found").unique().rows() == [("q", "no_negative", 0)]
    assert r.stats.anchors_without_negatives == 1 and r.stats.dropped_pairs == 3


def test_pad_random_fills_with_non_positive_texts():
    c = cfg(range_max=3, num_negatives=3, max_score=0.9, shortfall="pad-random", output="n-tuples", output_scores=True)
    r = mine_hard_negatives(PAIRS, CORPUS, CircleEncoder(ANGLES), c)
    (row,) = negatives(r)
    assert row[:2] == ["b", "c"] and row[2] in {"d", "e", "f"}  # a is above max_score; p is the positive
    assert r.stats.padded_negatives == 1 and r.stats.short_anchors == 1 and r.stats.dropped_pairs == 0
    scores = r.dataset["scores"].to_list()[0]
    assert scores[3] == pytest.approx(math.cos(math.radians(ANGLES[row[2]])), abs=1e-6)


def test_random_sampling_is_seeded_sorted_and_batch_independent():
    anchors = [f"q{i}" for i in range(6)]
    angles = {**{a: i * 0.1 for i, a in enumerate(anchors)}, **ANGLES}
    pairs = pl.DataFrame({"anchor": anchors, "positive": ["p"] * 6})
    c = cfg(range_max=4, num_negatives=3, sampling="random", seed=7, output="n-tuples", output_scores=True)
    one = mine_hard_negatives(pairs, CORPUS, CircleEncoder(angles), c.model_copy(update={"batch_size": 1}))
    big = mine_hard_negatives(pairs, CORPUS, CircleEncoder(angles), c)
    assert one.dataset.equals(big.dataset)
    for row, scores in zip(negatives(big), big.dataset["scores"].to_list(), strict=True):
        assert set(row) <= {"a", "b", "c", "d"} and len(set(row)) == 3  # sampled inside the window
        assert scores[1:] == sorted(scores[1:], reverse=True)
    draws = {tuple(map(tuple, negatives(mine_hard_negatives(pairs, CORPUS, CircleEncoder(angles), c.model_copy(update={"seed": s})))))
             for s in range(5)}
    assert len(draws) > 1  # the seed matters
    keys = random_keys(7, np.arange(6, dtype=np.uint64), np.tile(np.arange(4), (6, 1)))
    assert len({tuple(np.argsort(k)) for k in keys}) > 1  # anchors get different orders


def test_ivf_with_all_lists_probed_equals_exact_search():
    rng = np.random.default_rng(0)
    angles = {f"t{i}": float(a) for i, a in enumerate(rng.uniform(15, 350, 400))}
    angles.update({"q": 0, "p": 10, "q2": 90, "p2": 95})
    pairs = pl.DataFrame({"anchor": ["q", "q2"], "positive": ["p", "p2"]})
    corpus = [t for t in angles if t.startswith("t")]
    flat = mine_hard_negatives(pairs, corpus, CircleEncoder(angles), cfg(range_max=20, num_negatives=5, index="flat", output="n-tuples"))
    ivf = mine_hard_negatives(
        pairs, corpus, CircleEncoder(angles), cfg(range_max=20, num_negatives=5, index="ivf", nlist=4, nprobe=4, output="n-tuples")
    )
    assert ivf.stats.index.startswith("IVF") and flat.stats.index.startswith("exact")
    assert flat.dataset.equals(ivf.dataset)


def test_each_unique_text_is_encoded_once():
    enc = CircleEncoder(ANGLES)
    pairs = pl.DataFrame({"anchor": ["q", "q", "q"], "positive": ["p", "a", "p"]})
    mine_hard_negatives(pairs, [*CORPUS, "a", "p"], enc, cfg())
    assert set(enc.calls.values()) == {1} and set(enc.calls) == set(ANGLES)


def test_output_formats_and_column_order():
    pairs = pl.DataFrame({"anchor": ["q", "q"], "positive": ["p", "a"]})
    enc = CircleEncoder(ANGLES)
    trip = mine_hard_negatives(pairs, CORPUS, enc, cfg(output="triplets"))
    assert trip.dataset.rows() == [("q", "p", "b"), ("q", "p", "c"), ("q", "a", "b"), ("q", "a", "c")]
    one = mine_hard_negatives(PAIRS, CORPUS, enc, cfg(output="n-tuples", num_negatives=1))
    assert one.dataset.columns == ["anchor", "positive", "negative"]  # prep.schemas.ntuple(1) is the triplet
    lab = mine_hard_negatives(pairs, CORPUS, enc, cfg(output="binary-pairs"))
    assert lab.dataset.rows() == [("q", "p", 1), ("q", "a", 1), ("q", "b", 0), ("q", "c", 0)]
    scored = mine_hard_negatives(pairs, CORPUS, enc, cfg(output="binary-pairs", output_scores=True))
    assert scored.dataset.columns == ["sentence1", "sentence2", "score"]
    assert scored.dataset["score"][2] == pytest.approx(math.cos(math.radians(30)), abs=1e-6)
    ts = mine_hard_negatives(PAIRS, CORPUS, enc, cfg(output="triplets", output_scores=True))
    assert ts.dataset.columns == ["anchor", "positive", "negative", "scores"]
    assert ts.dataset["scores"][0].to_list() == pytest.approx([math.cos(math.radians(10)), math.cos(math.radians(20))], abs=1e-6)


def test_no_corpus_uses_the_positives():
    angles = {"q1": 0, "p1": 5, "q2": 40, "p2": 45, "q3": 80, "p3": 85}
    pairs = pl.DataFrame({"anchor": ["q1", "q2", "q3"], "positive": ["p1", "p2", "p3"]})
    r = mine_hard_negatives(pairs, None, CircleEncoder(angles), cfg(range_max=2, num_negatives=1, output="n-tuples"))
    assert r.stats.corpus_size == 3
    assert r.dataset["negative"].to_list() == ["p2", "p1", "p2"]  # q3 at 80°: p2 (45°) is nearer than p1 (5°)


def test_window_and_num_negatives_past_the_corpus_end():
    # range_max beyond the corpus: no crash (sentence-transformers #3873), a note, exact shortfall.
    r = mine_hard_negatives(
        PAIRS, ["a", "b"], CircleEncoder(ANGLES), cfg(range_max=100, num_negatives=4, shortfall="keep", output="n-tuples")
    )
    assert negatives(r) == [["a", "b", None, None]]
    assert r.stats.missing_negatives == 2 and any("exceeds" in n for n in r.stats.notes)
    with pytest.raises(EmbedbenchError, match="past the end of the corpus"):
        mine_hard_negatives(PAIRS, ["a", "b"], CircleEncoder(ANGLES), cfg(range_min=2, range_max=10))
    with pytest.raises(EmbedbenchError, match="no rows"):
        mine_hard_negatives(PAIRS, ["a", "b"], CircleEncoder(ANGLES), cfg(range_max=10, num_negatives=4, shortfall="drop"))


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (pl.DataFrame({"anchor": ["q", None], "positive": ["p", "a"]}), r"null or empty .*rows \[2\]"),
        (pl.DataFrame({"anchor": ["q", "q"], "positive": ["p", "  "]}), r"null or empty .*rows \[2\]"),
        (pl.DataFrame({"anchor": [], "positive": []}, schema={"anchor": pl.String, "positive": pl.String}), "no \\(anchor, positive\\) pairs"),
        (pl.DataFrame({"query": ["q"], "positive": ["p"]}), "missing column"),
    ],
)
def test_bad_pairs_raise_clear_errors(frame, match):
    with pytest.raises(EmbedbenchError, match=match):
        mine_hard_negatives(frame, CORPUS, CircleEncoder(ANGLES), cfg())


def test_blank_corpus_texts_are_counted_and_ignored():
    r = mine_hard_negatives(PAIRS, ["a", "", None, "b", "  "], CircleEncoder(ANGLES), cfg(range_max=2, output="n-tuples"))
    assert r.stats.corpus_blank_removed == 3 and r.stats.corpus_size == 3
    empty = mine_hard_negatives(
        pl.DataFrame({"anchor": ["q", "a"], "positive": ["p", "b"]}), [], CircleEncoder(ANGLES), cfg(range_max=1, num_negatives=1)
    )
    assert empty.stats.corpus_size == 2


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"range_min": 5, "range_max": 5}, "range_max"),
        ({"range_max": 4, "num_negatives": 5}, "num_negatives"),
        ({"relative_margin": 1.5}, "mine.relative_margin"),
        ({"absolute_margin": -0.1}, "mine.absolute_margin"),
        ({"min_score": 0.5, "max_score": 0.2}, "min_score"),
        ({"nlist": 8, "nprobe": 16}, "nprobe"),
        ({"sampling": "best"}, "mine.sampling"),
        ({"range_min": -1}, "mine.range_min"),
        ({"margin": 0.1}, r"mine\.margin: unknown key .*allowed keys at mine"),
    ],
)
def test_config_errors_name_the_key(options, key):
    with pytest.raises(EmbedbenchError, match=key):
        make_config(**options)


def test_unknown_model_is_a_clear_error():
    from embedbench.prep.negatives import mine_for_set

    with pytest.raises(EmbedbenchError, match="unknown model 'no-such-model'"):
        mine_for_set(PAIRS, CORPUS, cfg(model="no-such-model"))


def test_provenance_columns_do_not_clash():
    pairs = PAIRS.with_columns(pl.lit(7).alias("row"), pl.lit("d1").alias("doc_id"), pl.lit(1).alias("query_id"))
    r = mine_hard_negatives(pairs, CORPUS, CircleEncoder(ANGLES), cfg(output="n-tuples"))
    assert negatives(r) == [["a", "b"]]
