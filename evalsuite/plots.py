"""Report figures: what each shows (small frozen records, built from stored results by the report) and
how it is drawn (matplotlib, Agg backend, PNG written atomically). Drawing is the only step that writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedbench.evalsuite.results import safe_name
from embedbench.io import atomic_path


@dataclass(frozen=True)
class CIFigure:
    """Bars of one task's main metric per model with their CIs (None where a model has none)."""

    task: str
    metric: str
    models: tuple[str, ...]
    values: tuple[float, ...]
    lows: tuple[float | None, ...]
    highs: tuple[float | None, ...]
    baseline: str | None = None

    @property
    def file(self) -> str:
        """File name inside the report's figures folder."""
        return f"{safe_name(self.task)}_{safe_name(self.metric)}.png"

    @property
    def alt(self) -> str:
        """Alt text in the Markdown."""
        return f"{self.task} {self.metric}"

    def draw(self, folder: Path) -> Path:
        """Write the PNG into ``folder``."""
        return metric_ci_plot(self.task, self.metric, self.models, self.values, self.lows, self.highs,
                              folder / self.file, baseline=self.baseline)


@dataclass(frozen=True)
class DiffFigure:
    """Histogram of per-query differences of one metric, candidate minus baseline (retrieval tasks)."""

    task: str
    metric: str
    candidate: str
    baseline: str
    diffs: tuple[float, ...]

    @property
    def file(self) -> str:
        """File name inside the report's figures folder."""
        return f"{safe_name(self.task)}_diff_{safe_name(self.candidate)}.png"

    @property
    def alt(self) -> str:
        """Alt text in the Markdown."""
        return f"{self.task}: {self.candidate} - {self.baseline}"

    def draw(self, folder: Path) -> Path:
        """Write the PNG into ``folder``."""
        return difference_histogram(self.task, self.metric, self.candidate, self.baseline, self.diffs,
                                    folder / self.file)


@dataclass(frozen=True)
class ScoreThroughputFigure:
    """Mean main score (over the tasks every model ran) against encode throughput, one point per model.

    Two panels, short sentences and long documents (a panel only where some model has that throughput);
    an arrow joins each fine-tuned model to its base (``bases``: the base's name, "" for a base).
    """

    models: tuple[str, ...]
    scores: tuple[float, ...]
    short_per_s: tuple[float | None, ...]
    long_per_s: tuple[float | None, ...]
    bases: tuple[str, ...]
    n_tasks: int
    task: str = ""
    """Not a task's figure (the report links it in the model-comparison section)."""

    @property
    def file(self) -> str:
        """File name inside the report's figures folder."""
        return "score_vs_throughput.png"

    @property
    def alt(self) -> str:
        """Alt text in the Markdown."""
        return f"mean main score over {self.n_tasks} tasks against encode throughput"

    def draw(self, folder: Path) -> Path:
        """Write the PNG into ``folder``."""
        return score_throughput_plot(self, folder / self.file)


Figure = CIFigure | DiffFigure | ScoreThroughputFigure


def _figure(width: float, height: float, ncols: int = 1):  # noqa: ANN202 - matplotlib types
    import matplotlib  # expensive; only when a figure is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(1, ncols, figsize=(width, height), dpi=110)


def _save(plt, fig, path: Path) -> Path:  # noqa: ANN001 - matplotlib types
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def metric_ci_plot(
    task: str, metric: str, models: Sequence[str], values: Sequence[float],
    lows: Sequence[float | None], highs: Sequence[float | None], path: str | Path, baseline: str | None = None,
) -> Path:
    """Horizontal bars of ``metric`` per model with their CI as error bars (no bar where a model has no CI)."""
    plt, fig, ax = _figure(6.5, 0.45 * len(models) + 1.3)
    y = np.arange(len(models))
    vals = np.asarray(values, dtype=float)
    err = np.array([[v - lo if lo is not None else 0.0 for v, lo in zip(vals, lows, strict=True)],
                    [hi - v if hi is not None else 0.0 for v, hi in zip(vals, highs, strict=True)]])
    colors = ["#4c72b0" if m != baseline else "#dd8452" for m in models]
    ax.barh(y, vals, xerr=np.clip(err, 0, None), color=colors, capsize=3, error_kw={"elinewidth": 1})
    ax.set_yticks(y, labels=list(models))
    ax.invert_yaxis()
    span = max(np.nanmax([h if h is not None else v for v, h in zip(vals, highs, strict=True)]), 1e-9)
    ax.set_xlim(min(0.0, float(np.nanmin(vals))), span * 1.08)
    ax.set_xlabel(f"{metric} (95% CI)")
    ax.set_title(task)
    ax.grid(axis="x", alpha=0.3)
    return _save(plt, fig, Path(path))


def difference_histogram(task: str, metric: str, candidate: str, baseline: str, diffs: Sequence[float],
                         path: str | Path) -> Path:
    """Histogram of per-query ``metric`` differences (candidate minus baseline), with wins / losses counted."""
    plt, fig, ax = _figure(6.0, 3.4)
    d = np.asarray(diffs, dtype=float)
    ax.hist(d, bins=min(40, max(10, d.size // 8)), color="#4c72b0", edgecolor="white")
    ax.axvline(0.0, color="black", linewidth=1)
    ax.axvline(float(d.mean()), color="#c44e52", linestyle="--", linewidth=1, label=f"mean {d.mean():+.4f}")
    wins, losses = int((d > 0).sum()), int((d < 0).sum())
    ax.set_title(f"{task}: {candidate} - {baseline}\n{wins} queries better, {losses} worse, {d.size - wins - losses} tied")
    ax.set_xlabel(f"per-query {metric} difference")
    ax.set_ylabel("queries")
    ax.legend(loc="upper right", fontsize=8)
    return _save(plt, fig, Path(path))


def score_throughput_plot(f: ScoreThroughputFigure, path: str | Path) -> Path:
    """Scatter of mean main score against texts/s (log scale), labelled, with base -> fine-tuned arrows."""
    panels = [(label, rates) for label, rates in (("short sentences / s", f.short_per_s),
                                                  ("long documents / s", f.long_per_s))
              if any(r for r in rates)]
    plt, fig, axes = _figure(5.5 * len(panels), 4.2, ncols=len(panels))
    from matplotlib import ticker

    for ax, (label, rates) in zip(np.atleast_1d(axes), panels, strict=True):
        where = {m: (r, s) for m, r, s in zip(f.models, rates, f.scores, strict=True) if r}
        for m, (r, s) in where.items():
            tuned = f.bases[f.models.index(m)] != ""
            ax.scatter([r], [s], color="#c44e52" if tuned else "#4c72b0", zorder=3)
            ax.annotate(m, (r, s), textcoords="offset points", xytext=(5, 4), fontsize=7)
        for m, base in zip(f.models, f.bases, strict=True):
            if base and m in where and base in where:
                ax.annotate("", xy=where[m], xytext=where[base],
                            arrowprops={"arrowstyle": "->", "color": "#888888", "linewidth": 1})
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        lo, hi = min(r for r, _ in where.values()), max(r for r, _ in where.values())
        ax.set_xlim(lo / 1.6, hi * 4.0)  # room on the right for the labels
        ax.margins(y=0.1)
        ax.set_xlabel(f"{label} (log scale)")
        ax.set_ylabel(f"mean main score ({f.n_tasks} tasks)")
        ax.grid(alpha=0.3)
    fig.suptitle("score against encode throughput (blue: base, red: fine-tuned)", fontsize=9)
    return _save(plt, fig, Path(path))
