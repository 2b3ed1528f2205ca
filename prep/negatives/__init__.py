"""Hard-negative mining as a prep stage (see :mod:`embedbench.prep.negatives.mine`)."""

from embedbench.prep.negatives.mine import (
    MiningConfig,
    MiningResult,
    MiningStats,
    make_config,
    mine_for_set,
    mine_hard_negatives,
    write_mining,
)

__all__ = [
    "MiningConfig",
    "MiningResult",
    "MiningStats",
    "make_config",
    "mine_for_set",
    "mine_hard_negatives",
    "write_mining",
]
