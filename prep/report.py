"""``reports/prep.md``: per set rows in and out, drops by stage and reason, text-length plots, examples.

Rendered from the stored artefacts alone (``manifest.json``, ``dropped.parquet``, split Parquet files),
so it can be rebuilt without re-running prep. Plots are PNGs beside the report (matplotlib, Agg).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from embedbench.io import atomic_path, read_manifest, write_text_atomic
from embedbench.prep.config import PrepConfig
from embedbench.prep.marks import REASONS
from embedbench.prep.negatives.report import render_mining_section
from embedbench.prep.teacher import render_teacher_section

EXAMPLES_PER_REASON = 3
_CLIP = 90


def _clip(value: Any) -> str:
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= _CLIP else text[: _CLIP - 1] + "…"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_clip(c) for c in row) + " |" for row in rows]
    return lines


def length_plot(set_dir: Path, manifest: dict[str, Any], png: Path) -> Path | None:
    """Histogram of words per text, one series per text column of the written splits; None when empty."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = [
        pl.read_parquet(set_dir / f)
        for k, f in manifest.get("files", {}).items()
        if k in ("train", "dev", "test")
    ]
    if not frames:
        return None
    data = pl.concat(frames, how="diagonal_relaxed")
    cols = [c for c, t in data.schema.items() if t == pl.String and c != "label"]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for col in cols:
        words = data.select(pl.col(col).str.count_matches(r"\S+")).to_series().drop_nulls().to_numpy()
        ax.hist(words, bins=50, alpha=0.5, label=col)
    ax.set_xlabel("words per text")
    ax.set_ylabel("texts")
    ax.set_yscale("log")
    ax.set_title(f"{manifest.get('set')}: text lengths ({data.height} rows)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return png


def _examples(dropped: pl.DataFrame, text_cols: list[str]) -> list[str]:
    lines: list[str] = []
    reasons = [
        r
        for r in (*REASONS, *sorted(set(dropped["reason"].drop_nulls()) - set(REASONS)))
        if r in set(dropped["reason"])
    ]
    for reason in reasons:
        sample = dropped.filter(pl.col("reason") == reason).head(EXAMPLES_PER_REASON)
        lines += ["", f"**{reason}**", ""]
        cols = [
            c for c in ("ref", *text_cols, "duplicate_of", "duplicate_text", "detail") if c in sample.columns
        ]
        lines += _table(cols, [list(r) for r in sample.select(cols).iter_rows()])
    return lines


def render_set(set_dir: Path, manifest: dict[str, Any], png: Path) -> list[str]:
    """Markdown lines for one set (writes its length plot to ``png``)."""
    name = manifest["set"]
    rows = manifest["rows"]
    lines = [
        f"## {name}",
        "",
        f"Shape `{manifest['shape']}`, columns {manifest.get('columns')}; "
        f"{rows['read']} rows read, {rows['out']} written {manifest['splits']}.",
    ]
    if manifest.get("against"):
        lines.append(f"Leakage checked against: {', '.join(manifest['against'])}.")
    tokens = manifest.get("tokens")
    if tokens:
        lines.append(
            f"Too long for the model (max {tokens['max_tokens']} tokens, counted with the {tokens['count']}): "
            f"{tokens['flagged_too_long']} kept rows flagged ({tokens['action']})."
        )
    lines += ["", "Rows kept after each stage:", ""]
    lines += _table(list(rows), [list(rows.values())])
    drop_rows = [
        [stage, reason, n] for stage, by in manifest.get("drops", {}).items() for reason, n in by.items()
    ]
    lines += ["", "Dropped rows by stage and reason:", ""]
    lines += _table(["stage", "reason", "rows"], drop_rows) if drop_rows else ["(none)"]
    if png and length_plot(set_dir, manifest, png):
        lines += ["", f"![text lengths of {name}]({png.name})"]
    for split, mined in (manifest.get("negatives") or {}).items():  # stats of prep.negatives, per split
        plot = png.with_name(f"{png.stem.removesuffix('_lengths')}_negatives_{split}.png")
        lines += [
            "",
            *render_mining_section(
                mined, plot, link_from=png.parent, title=f"### Hard negatives ({split})"
            ).splitlines(),
        ]
    if manifest.get("teacher"):  # stats of prep.teacher
        lines += render_teacher_section(
            manifest["teacher"], png.with_name(f"{png.stem.removesuffix('_lengths')}_teacher.png") if png else None
        )
    dropped_path = set_dir / "dropped.parquet"
    if dropped_path.is_file():
        dropped = pl.read_parquet(dropped_path)
        if dropped.height:
            lines += ["", "Examples of dropped rows:"]
            lines += _examples(dropped, [c for c in manifest.get("columns", []) if c in dropped.columns])
    return lines


def write_report(config: PrepConfig, root: Path, path: str | Path | None = None) -> Path:
    """Write the prep report for every configured set that has a manifest; returns its path."""
    report = Path(path) if path is not None else root / config.report
    lines = [
        "# Prepared datasets",
        "",
        f"Sets under `{config.output_dir}/` (one folder per set: train/dev/test "
        "Parquet, `dropped.parquet`, `manifest.json`).",
    ]
    summary, sections = [], []
    for name in config.sets:
        set_dir = root / config.output_dir / name
        manifest = read_manifest(set_dir / "manifest.json")
        if manifest is None:
            summary.append([name, "-", "-", "not built yet (run `embedbench prep`)"])
            continue
        total = manifest.get("drops_total", {})
        summary.append(
            [
                name,
                manifest["rows"]["read"],
                manifest["rows"]["out"],
                ", ".join(f"{r} {n}" for r, n in total.items()),
            ]
        )
        sections += [""] + render_set(set_dir, manifest, report.parent / f"{report.stem}_{name}_lengths.png")
    lines += [""] + _table(["set", "rows in", "rows out", "dropped"], summary) + sections
    return write_text_atomic(report, "\n".join(lines) + "\n")
