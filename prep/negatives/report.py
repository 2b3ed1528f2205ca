"""Render mining statistics for a person: a score-distribution plot and a Markdown section.

Renders from :class:`~embedbench.prep.negatives.types.MiningStats` (or its JSON dict) alone, so the prep report can be
rebuilt from the stored stats without mining again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from embedbench.io import atomic_path
from embedbench.prep.negatives.filters import FILTERS

_SUMMARY_ROWS = ("count", "mean", "std", "min", "p25", "median", "p75", "max")


def _as_dict(stats: Any) -> dict[str, Any]:
    return stats.to_dict() if hasattr(stats, "to_dict") else dict(stats)


def plot_score_distributions(
    stats: Any, path: str | Path, *, title: str | None = None, negatives: str = "mined negatives",
    xlabel: str = "cosine similarity to the anchor",
) -> Path:
    """Write a PNG with the positive and (mined-)negative score histograms of ``stats["histogram"]`` (atomically)."""
    import matplotlib  # optional and slow to import: only when a plot is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = _as_dict(stats)
    edges = np.asarray(s["histogram"]["edges"])
    pos, neg = np.asarray(s["histogram"]["positive"]), np.asarray(s["histogram"]["negative"])
    used = np.flatnonzero((pos + neg) > 0)
    lo, hi = (edges[used[0]], edges[used[-1] + 1]) if len(used) else (-1.0, 1.0)
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=110)
    centres, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    ax.bar(centres, pos, width=width, alpha=0.55, label=f"positives (n={int(pos.sum())})", color="tab:green")
    ax.bar(centres, neg, width=width, alpha=0.55, label=f"{negatives} (n={int(neg.sum())})", color="tab:red")
    ax.set_xlim(lo - width, hi + width)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.set_title(title or f"hard-negative mining: {s['config']['model']}")
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def render_mining_section(
    stats: Any, path: str | Path, *, link_from: str | Path | None = None, title: str = "## Hard-negative mining"
) -> str:
    """Write the score plot to ``path`` and return a Markdown section describing the mining run.

    The image link is relative to ``link_from`` (the report's folder), else the plot's file name;
    ``title`` is the section's heading line.
    """
    s = _as_dict(stats)
    png = plot_score_distributions(s, path)
    link = Path(png).name if link_from is None else Path(os.path.relpath(Path(png).resolve(), Path(link_from).resolve())).as_posix()
    c = s["config"]
    margin = ", ".join(
        f"{k}={c[k]}" for k in ("absolute_margin", "relative_margin", "max_score", "min_score") if c.get(k) is not None
    ) or "none"
    lines = [
        title,
        "",
        f"Model `{c['model']}`, index {s['index']}, {s['anchors']:,} anchors ({s['pairs']:,} pairs), "
        f"corpus {s['corpus_size']:,} texts; window ranks [{c['range_min']}, {c['range_max']}), "
        f"{c['num_negatives']} negatives per anchor by {c['sampling']} sampling; filters: {margin}.",
        "",
        "| filter | candidates removed |",
        "|---|---:|",
        *(f"| {name} | {s['removed'].get(name, 0):,} |" for name in FILTERS),
        f"| (left in window before score filters) | {s['candidates_in_window']:,} |",
        "",
        "| score | positive | negative | positive - negative |",
        "|---|---:|---:|---:|",
        *(
            f"| {row} | {_fmt(s['positive'].get(row, '-'))} | {_fmt(s['negative'].get(row, '-'))} | "
            f"{_fmt(s['difference'].get(row, '-'))} |"
            for row in _SUMMARY_ROWS
        ),
        "",
        f"Shortfall: {s['short_anchors']:,} anchors ({s['short_pairs']:,} pairs) found fewer than "
        f"{c['num_negatives']} negatives, {s['missing_negatives']:,} negatives missing in all, "
        f"{s['anchors_without_negatives']:,} anchors found none; policy `{c['shortfall']}`: "
        f"{s['padded_negatives']:,} padded at random, {s['dropped_pairs']:,} pairs dropped. Output: {s['rows_out']:,} rows "
        f"({c['output']}).",
        "",
        f"![score distributions]({link})",
    ]
    if s.get("notes"):
        lines += ["", *(f"- note: {n}" for n in s["notes"])]
    if s.get("examples"):
        lines += [
            "", "Sample of mined negatives (check for false negatives):", "",
            "| anchor | positive | pos score | negative | neg score | rank |", "|---|---|---:|---|---:|---:|",
        ]
        for e in s["examples"]:
            cells = [e.get("anchor"), e.get("positive"), e.get("positive_score"), e.get("negative"),
                     e.get("negative_score"), "random pad" if e.get("padded") else e.get("rank")]
            lines.append("| " + " | ".join(_cell(v) for v in cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    return _fmt(v).replace("|", "\\|").replace("\n", " ")
