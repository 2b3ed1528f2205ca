"""prep: readers, cleaning, dedupe, leakage checks and hard-negative mining that build training sets."""
