"""Our evaluators give the published MTEB scores of the baselines (the figures users compare against).

Published (MTEB leaderboard, main scores): all-mpnet-base-v2 STSBenchmark test Spearman 0.8342 and
SciFact nDCG@10 0.6557; all-MiniLM-L6-v2 0.8203 and 0.6451. Whole datasets with real models: minutes,
so these are ``real`` tests (``make test-real``). mpnet on SciFact (5,183 abstracts, about 35 minutes on
2 CPU cores) belongs to the full profile's run (bench-full.toml), not here.
"""

from __future__ import annotations

import pytest

from embedbench.encode import load_encoder
from embedbench.evalsuite.tasks import get_task

PUBLISHED = [
    ("all-MiniLM-L6-v2", "stsb", "spearman", 0.8203),
    ("all-MiniLM-L6-v2", "scifact", "ndcg@10", 0.6451),
    ("all-mpnet-base-v2", "stsb", "spearman", 0.8342),
]


@pytest.mark.real
@pytest.mark.parametrize(("model", "task", "metric", "published"), PUBLISHED)
def test_published_mteb_score(model: str, task: str, metric: str, published: float) -> None:
    """Main score within 0.0005 of the published figure (mteb rounds to 4 places; backends differ by < 1e-6)."""
    result = get_task(task).evaluate(load_encoder(model, show_progress=False))
    assert result.metrics[metric] == pytest.approx(published, abs=5e-4)
