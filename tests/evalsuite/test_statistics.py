"""Statistics: hand-worked CIs and correlations, and agreement with scipy, sklearn, sentence-transformers and ranx."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.statistics import aggregate, bootstrap_ci, compare, holm, parse_aggregation
from embedbench.evalsuite.types import TaskResult


def make(per_item: dict, aggregations: dict, model: str = "m", task: str = "t", dataset_hash: str = "h") -> TaskResult:
    metrics = {}
    result = TaskResult(
        task=task, task_type="test", model=model, model_fingerprint="fp", dataset="d", dataset_hash=dataset_hash,
        main_metric=next(iter(aggregations)), metrics=metrics, per_item=per_item, aggregations=aggregations,
    )
    for name in aggregations:
        metrics[name] = float(aggregate(result, name))
    return result


def test_mean_ci_hand_worked():
    # Resample means of [0,0,0,1] are k/4 with k ~ Binomial(4, 1/4): P(k<=0)=.316, P(k<=2)=.949, P(k<=3)=.996,
    # so the 2.5% quantile is 0 and the 97.5% quantile is 3/4.
    r = make({"x": [0, 0, 0, 1]}, {"acc": "mean:x"})
    ci = bootstrap_ci(r, "acc", n=20000, seed=1)
    assert ci.estimate == 0.25
    assert (ci.low, ci.high) == (0.0, 0.75)
    assert ci.n_items == 4


def test_spearman_five_pairs_hand_worked():
    # ranks differ by d = (-1, 1, -1, 1, 0): rho = 1 - 6 * 4 / (5 * 24) = 0.8
    r = make({"score": [0.1, 0.2, 0.3, 0.4, 0.5], "gold": [2, 1, 4, 3, 5]}, {"spearman": "spearman:score,gold"})
    assert aggregate(r, "spearman") == pytest.approx(0.8, abs=1e-12)
    # one resample, given by its indices: items 0,0,1 -> scores (.1,.1,.2), gold (2,2,1): ranks (1.5,1.5,3) vs (2.5,2.5,1)
    assert aggregate(r, "spearman", np.array([0, 0, 1])) == pytest.approx(-1.0)


def test_kernels_match_references():
    rng = np.random.default_rng(0)
    pred = np.round(rng.normal(size=300), 1)  # rounding makes ties
    gold = pred + rng.normal(size=300)
    label = (gold > 0).astype(int)
    r = make(
        {"p": pred.tolist(), "g": gold.tolist(), "y": label.tolist()},
        {"sp": "spearman:p,g", "pe": "pearson:p,g", "ap": "ap:p,y", "f1": "best_f1:p,y"},
    )
    from sentence_transformers.sentence_transformer.evaluation import BinaryClassificationEvaluator
    from sklearn.metrics import average_precision_score

    assert r.metrics["sp"] == pytest.approx(stats.spearmanr(pred, gold).statistic, abs=1e-12)
    assert r.metrics["pe"] == pytest.approx(stats.pearsonr(pred, gold).statistic, abs=1e-12)
    assert r.metrics["ap"] == pytest.approx(average_precision_score(label, pred), abs=1e-12)
    best = BinaryClassificationEvaluator.find_best_f1_and_threshold(pred, label, True)[0]
    assert r.metrics["f1"] == pytest.approx(best, abs=1e-12)
    # vectorised resamples equal one-at-a-time evaluation
    idx = rng.integers(0, 300, (5, 300))
    for name in r.metrics:
        batch = aggregate(r, name, idx)
        assert batch == pytest.approx([aggregate(r, name, row) for row in idx], abs=1e-12)


def test_bootstrap_ci_equals_scipy():
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    y = x + rng.normal(size=200)
    r = make({"x": x.tolist(), "y": y.tolist()}, {"mean": "mean:x", "sp": "spearman:x,y"})
    ours = bootstrap_ci(r, "mean", n=2000, seed=7)
    ref = stats.bootstrap((x,), np.mean, n_resamples=2000, method="percentile", rng=np.random.default_rng(7))
    assert (ours.low, ours.high) == pytest.approx(tuple(ref.confidence_interval), abs=1e-12)

    def spearman(a, b, axis=-1):
        return stats.spearmanr(a, b, axis=None).statistic if a.ndim == 1 else np.array(
            [stats.spearmanr(u, v).statistic for u, v in zip(a, b, strict=True)])

    ours = bootstrap_ci(r, "sp", n=500, seed=11)
    ref = stats.bootstrap((x, y), spearman, paired=True, vectorized=True, n_resamples=500, method="percentile",
                          rng=np.random.default_rng(11))
    assert (ours.low, ours.high) == pytest.approx(tuple(ref.confidence_interval), abs=1e-12)


def test_compare_counts_alignment_and_identity():
    base = make({"id": ["a", "b", "c", "d"], "x": [0.0, 0.5, 1.0, 0.2]}, {"ndcg": "mean:x"}, model="base")
    # same items in another order; a and b improved, c hurt, d tied
    cand = make({"id": ["d", "c", "b", "a"], "x": [0.2, 0.5, 1.0, 0.3]}, {"ndcg": "mean:x"}, model="cand")
    c = compare(cand, base, "ndcg", n=2000, seed=0)
    assert c.diff == pytest.approx(0.3 / 4)
    assert (c.improved, c.hurt, c.tied) == (2, 1, 1)
    assert c.test == "randomization"
    same = compare(base, base, "ndcg", n=500)
    assert (same.diff, same.low, same.high, same.p_value, same.tied) == (0.0, 0.0, 0.0, 1.0, 4)


def test_randomization_p_hand_worked():
    # d = (1, 1, 1): of the 8 sign patterns only the two constant ones reach |mean| >= 1, so p = 2/8.
    base = make({"x": [0.0, 0.0, 0.0]}, {"m": "mean:x"})
    cand = make({"x": [1.0, 1.0, 1.0]}, {"m": "mean:x"})
    assert compare(cand, base, "m", n=20000, seed=0).p_value == pytest.approx(0.25, abs=0.01)
    assert compare(cand, base, "m", n=20000, seed=0, alternative="greater").p_value == pytest.approx(0.125, abs=0.01)
    assert compare(cand, base, "m", n=20000, seed=0, alternative="less").p_value == pytest.approx(1.0)


def test_randomization_and_t_test_match_ranx():
    """A retrieval-shaped example (100 queries, graded qrels, 20 ranked docs each) through ranx.compare."""
    from ranx import Qrels, Run, evaluate
    from ranx import compare as ranx_compare

    rng = np.random.default_rng(5)
    qrels, run_a, run_b = {}, {}, {}
    for q in range(100):
        rel = {f"d{j}": int(rng.integers(1, 3)) for j in rng.choice(50, size=3, replace=False)}
        qrels[f"q{q}"] = rel
        for run, noise in ((run_a, 1.0), (run_b, 1.3)):
            scores = rng.normal(size=50) * noise
            for j in rel:
                scores[int(j[1:])] += 1.0
            top = np.argsort(-scores)[:20]
            run[f"q{q}"] = {f"d{j}": float(scores[j]) for j in top}
    qrels_, a, b = Qrels(qrels), Run(run_a, name="a"), Run(run_b, name="b")
    per_a = evaluate(qrels_, a, "ndcg@10", return_mean=False)
    per_b = evaluate(qrels_, b, "ndcg@10", return_mean=False)
    ids = sorted(qrels)  # ranx orders queries by sorted id
    ra = make({"id": ids, "ndcg@10": per_a.tolist()}, {"ndcg@10": "mean:ndcg@10"}, model="a")
    rb = make({"id": ids, "ndcg@10": per_b.tolist()}, {"ndcg@10": "mean:ndcg@10"}, model="b")

    fisher = ranx_compare(qrels_, [a, b], "ndcg@10", stat_test="fisher", n_permutations=20000, random_seed=0)
    ours = compare(rb, ra, "ndcg@10", n=20000, seed=0)
    ref_p = fisher.comparisons[frozenset(["a", "b"])]["ndcg@10"]["p_value"]
    assert 0.001 < ref_p < 0.5  # a real-shaped, not trivially separable case
    assert ours.p_value == pytest.approx(ref_p, abs=0.01)
    wtl = fisher.win_tie_loss[("b", "a")]["ndcg@10"]
    assert (ours.improved, ours.tied, ours.hurt) == (wtl["W"], wtl["T"], wtl["L"])

    student = ranx_compare(qrels_, [a, b], "ndcg@10", stat_test="student")
    t = compare(rb, ra, "ndcg@10", test="t-test")
    assert t.p_value == pytest.approx(student.comparisons[frozenset(["a", "b"])]["ndcg@10"]["p_value"], rel=1e-9)


def test_bootstrap_test_for_correlations():
    rng = np.random.default_rng(0)
    gold = rng.normal(size=400)
    good = make({"s": (gold + rng.normal(size=400) * 0.5).tolist(), "g": gold.tolist()}, {"sp": "spearman:s,g"}, "good")
    bad = make({"s": (gold + rng.normal(size=400) * 2).tolist(), "g": gold.tolist()}, {"sp": "spearman:s,g"}, "bad")
    c = compare(good, bad, "sp", n=1000, seed=0)
    assert c.test == "bootstrap" and c.diff > 0 and c.low > 0 and c.p_value < 0.01
    assert c.improved > c.hurt
    with pytest.raises(EmbedbenchError, match="needs a mean metric"):
        compare(good, bad, "sp", test="t-test")


def test_holm_hand_worked():
    # sorted: .01*3 = .03, .03*2 = .06, .04*1 = .04 -> running max .06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([]) == []


def test_bad_input_is_a_clear_error():
    with pytest.raises(EmbedbenchError, match="unknown aggregation"):
        parse_aggregation("median:x")
    with pytest.raises(EmbedbenchError, match="needs 2 column"):
        parse_aggregation("spearman:x")
    r = TaskResult("t", "sts", "m", "fp", "d", "h", "sp", {"sp": 0.5}, {"s": [0.1, float("nan")], "g": [1, 2]},
                   {"sp": "spearman:s,g"})
    with pytest.raises(EmbedbenchError, match="non-finite value.*item 1"):
        bootstrap_ci(r, "sp")
    with pytest.raises(EmbedbenchError, match="no per-item aggregation"):
        bootstrap_ci(r, "other")
    a = make({"x": [1.0, 2.0]}, {"m": "mean:x"}, dataset_hash="h1")
    b = make({"x": [1.0, 2.0]}, {"m": "mean:x"}, dataset_hash="h2")
    with pytest.raises(EmbedbenchError, match="different data"):
        compare(a, b, "m")
    c = make({"id": [1, 2], "x": [1.0, 2.0]}, {"m": "mean:x"})
    d = make({"id": [1, 3], "x": [1.0, 2.0]}, {"m": "mean:x"})
    with pytest.raises(EmbedbenchError, match="different items"):
        compare(c, d, "m")


def test_same_values_as_the_tasks_metric_functions():
    """statistics.aggregate (vectorised, for resampling) agrees with the metric functions the tasks use."""
    from embedbench.evalsuite import metrics

    rng = np.random.default_rng(9)
    p, g = np.round(rng.normal(size=200), 1), rng.normal(size=200)
    y = rng.integers(0, 2, 200)
    r = make({"p": p.tolist(), "g": g.tolist(), "y": y.tolist()},
             {"sp": "spearman:p,g", "pe": "pearson:p,g", "ap": "ap:p,y", "f1": "best_f1:p,y"})
    idx = rng.integers(0, 200, 200)
    for sel in (np.arange(200), idx):
        ref = {"sp": metrics.spearman(p[sel], g[sel]), "pe": metrics.pearson(p[sel], g[sel]),
               "ap": metrics.average_precision(p[sel], y[sel]), "f1": metrics.best_f1(p[sel], y[sel]).f1}
        for name, value in ref.items():
            assert aggregate(r, name, sel) == pytest.approx(value, abs=1e-12), name
