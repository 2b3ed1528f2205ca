"""Text normalisation shared by every step that compares texts: Unicode form, whitespace, optional case.

Prep's normalise stage (:mod:`embedbench.prep.normalise`), its leakage check and the contamination audit
(:mod:`embedbench.evalsuite.contamination`) all compare texts after this one expression, so an
"exact" match means the same thing everywhere.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

UnicodeForm = Literal["NFC", "NFKC", "NFD", "NFKD"]


def normalise_expr(expr: pl.Expr, form: UnicodeForm = "NFC", lowercase: bool = False) -> pl.Expr:
    """Unicode-normalise ``expr``, collapse every run of (Unicode) whitespace to one space and strip."""
    out = expr.str.normalize(form).str.replace_all(r"\s+", " ").str.strip_chars()
    return out.str.to_lowercase() if lowercase else out
