"""Mining extras: include_positives, the labeled-list output, and rescoring candidates with a teacher.

Geometry as in test_negatives.py: each text is an angle on the unit circle, so cosine scores and the
ranking are worked out by hand (anchor q at 0°, positive p at 10°, candidates every 10° after it).
"""

from __future__ import annotations

import math

import polars as pl
import pytest

from embedbench.errors import EmbedbenchError
from embedbench.prep.negatives import make_config, mine_hard_negatives

from .test_negatives import ANGLES, CORPUS, PAIRS, CircleEncoder, cfg, negatives


def test_include_positives_keeps_the_positive_in_the_ranking_past_the_margins():
    r = mine_hard_negatives(
        PAIRS, CORPUS, CircleEncoder(ANGLES), cfg(output="n-tuples", include_positives=True, relative_margin=0.05)
    )
    # p (10°) ranks first and stays although it scores above 95% of itself; the relative threshold is
    # cos 10° * 0.95 = 0.9356, so a (cos 20° = 0.9397) is dropped and b (cos 30° = 0.8660) follows p.
    assert negatives(r) == [["p", "b"]]
    assert r.stats.removed["known_positive"] == 0 and r.stats.removed["relative_margin"] == 1


def test_include_positives_needs_a_ranking_output():
    with pytest.raises(EmbedbenchError, match="include_positives .* 'n-tuples' or 'labeled-list'"):
        make_config(include_positives=True, output="triplets")


def test_labeled_list_has_positives_then_negatives_with_labels_or_scores():
    pairs = pl.DataFrame({"anchor": ["q", "q"], "positive": ["p", "a"]})
    r = mine_hard_negatives(pairs, CORPUS, CircleEncoder(ANGLES), cfg(output="labeled-list"))
    assert r.dataset.columns == ["anchor", "documents", "labels"]
    assert r.dataset.rows() == [("q", ["p", "a", "b", "c"], [1, 1, 0, 0])]
    scored = mine_hard_negatives(pairs, CORPUS, CircleEncoder(ANGLES), cfg(output="labeled-list", output_scores=True))
    (row,) = scored.dataset["scores"].to_list()
    assert row == pytest.approx([math.cos(math.radians(a)) for a in (10, 20, 30, 40)], abs=1e-6)
    ranked = mine_hard_negatives(
        pl.DataFrame({"anchor": ["q"], "positive": ["c"]}), CORPUS, CircleEncoder(ANGLES),
        cfg(output="labeled-list", include_positives=True, num_negatives=3),
    )
    assert ranked.dataset.rows() == [("q", ["a", "b", "c"], [0, 0, 1])]  # the ranking, positive in place


def test_teacher_rescoring_drops_candidates_the_teacher_finds_as_close_as_the_positive():
    # The teacher sees a and b as near copies of the positive (11° and 12° vs p at 10°): both score above
    # its 5% relative threshold cos 10° * 0.95 = 0.9356 and are dropped as likely false negatives.
    teacher = CircleEncoder({**ANGLES, "a": 11, "b": 12})
    r = mine_hard_negatives(PAIRS, CORPUS, CircleEncoder(ANGLES), cfg(output="n-tuples", teacher="t"), teacher=teacher)
    assert negatives(r) == [["c", "d"]]
    assert r.stats.removed["teacher_relative_margin"] == 2
    assert set(teacher.calls) <= {"q", "p", *CORPUS[:5]}  # only retrieved candidates are rescored
    absolute = mine_hard_negatives(
        PAIRS, CORPUS, CircleEncoder(ANGLES),
        cfg(output="n-tuples", teacher="t", teacher_relative_margin=None, teacher_absolute_margin=0.0), teacher=teacher,
    )
    assert negatives(absolute) == [["a", "b"]] and absolute.stats.removed["teacher_absolute_margin"] == 0
