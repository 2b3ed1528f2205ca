"""Hard-negative mining as a prep stage.

``config`` (options) <- ``types`` (what flows between modules) <- ``filters`` (candidate filters) and
``assemble`` (output frames and statistics) <- ``mine`` (the algorithm) <- ``stage`` (a set's splits, a
pairs file); ``io`` reads pairs and writes results, ``report`` renders the statistics.
"""

from embedbench.prep.negatives.config import MiningConfig, MiningOutput, NegativesConfig, make_config
from embedbench.prep.negatives.io import read_pairs, write_mining
from embedbench.prep.negatives.mine import mine_for_set, mine_hard_negatives, prepare
from embedbench.prep.negatives.stage import MinedFiles, MinedSplits, mine_files, mine_splits
from embedbench.prep.negatives.types import MiningInputs, MiningResult, MiningStats, SearchOutcome

__all__ = [
    "MinedFiles",
    "MinedSplits",
    "MiningConfig",
    "MiningInputs",
    "MiningOutput",
    "MiningResult",
    "MiningStats",
    "NegativesConfig",
    "SearchOutcome",
    "make_config",
    "mine_files",
    "mine_for_set",
    "mine_hard_negatives",
    "mine_splits",
    "prepare",
    "read_pairs",
    "write_mining",
]
