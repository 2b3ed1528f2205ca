"""MinHash + LSH for the prep stages: the one implementation lives in :mod:`embedbench.minhash`.

It moved to the shared core so the evaluation side (``embedbench contamination``, the report's
contamination column) matches near copies exactly as the leakage stage does; prep keeps importing it
from here.
"""

from embedbench.minhash import MinHasher, jaccard, mix64, optimal_bands

__all__ = ["MinHasher", "jaccard", "mix64", "optimal_bands"]
