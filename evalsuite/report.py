"""The Markdown report, rebuilt from stored results alone (``embedbench report``).

``reports/<name>.md`` holds: a summary table (tasks as rows and models as columns, so it reads with
many tasks; main metric with its 95% bootstrap CI, the best per task in bold, the difference to the
baseline with significance marks after a Holm adjustment over every comparison in the table); the model
comparison (:mod:`embedbench.evalsuite.comparison`: each fine-tuned model beside its own base with the
paired gain, the cost table, mean score against throughput) and the left-out pairs, where
``models.json`` / ``plan.json`` lie beside the results; one section per task (metrics as rows with their
CIs, mteb's diagnostics left to the stored file, the paired comparison with p-values and items improved /
hurt / tied, a CI plot and, for retrieval, per-query difference histograms), a provenance table and the
commands that reproduce the report. For a fine-tuned model whose training manifest is known, its summary
cells gain the contamination share (the share of each task's test items found in its training data,
:mod:`embedbench.evalsuite.contamination`, computed once and cached beside the results), marked above
the limit, and a contamination section gives the shares by kind with an example.

Three separate steps: ``analyse`` computes, ``plan_figures`` says what to draw and ``render`` builds the
Markdown string (all three pure); ``build_report`` draws the figures into ``reports/<name>_files/``
and writes the Markdown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.comparison import (
    LEFT_OUT,
    ModelComparison,
    compare_models,
    comparison_section,
    left_out_section,
    mark,
    paired_comparison,
    throughput_figure,
)
from embedbench.evalsuite.contamination import TaskAudit
from embedbench.evalsuite.model_facts import ModelFacts, PlanFile, load_model_facts, load_plan
from embedbench.evalsuite.plots import CIFigure, DiffFigure, Figure, ScoreThroughputFigure
from embedbench.evalsuite.results import ResultsStore
from embedbench.evalsuite.statistics import CI, Comparison, align, bootstrap_ci, columns, has_ci, holm
from embedbench.evalsuite.types import TaskResult
from embedbench.io import write_text_atomic

SHOWN_VERSIONS = ("sentence-transformers", "transformers", "torch", "mteb")
CUTOFF = re.compile(r"(?:_at_|@)(\d+)$")
KEPT_CUTOFFS = ("1", "10", "100")


@dataclass
class Analysis:
    """Everything the report shows, computed from stored results."""

    results: dict[tuple[str, str], TaskResult]
    tasks: list[str]
    models: list[str]
    baseline: str | None
    alpha: float
    n_boot: int
    cis: dict[tuple[str, str, str], CI] = field(default_factory=dict)
    comparisons: dict[tuple[str, str], Comparison] = field(default_factory=dict)
    holm_p: dict[tuple[str, str], float] = field(default_factory=dict)
    contamination: dict[tuple[str, str], TaskAudit] = field(default_factory=dict)
    """(model, task) -> the share of the task's test items in the model's training data."""
    comparison: ModelComparison | None = None
    """Fine-tuned models against their bases, costs and left-out pairs (from ``models.json`` / ``plan.json``)."""

    def get(self, model: str, task: str) -> TaskResult | None:
        """The result of ``model`` on ``task``, if stored."""
        return self.results.get((model, task))

    def main_metric(self, task: str) -> str:
        """The task's main metric (taken from the first model that has the task)."""
        return next(r.main_metric for (m, t), r in self.results.items() if t == task)


def analyse(
    results: list[TaskResult], *, baseline: str | None, models_order: list[str] | None = None, n_boot: int = 1000,
    seed: int = 0, alpha: float = 0.05, test: str = "auto", facts: dict[str, ModelFacts] | None = None,
    plan: PlanFile | None = None,
) -> Analysis:
    """CIs for every metric with per-item data; main-metric comparisons with the baseline, Holm-adjusted;
    the model comparison (fine-tuning gains, costs, left-out pairs) from ``facts`` and ``plan``."""
    if not results:
        raise EmbedbenchError("no results to report; run `embedbench eval` first")
    by_key = {(r.model, r.task): r for r in results}
    found = sorted({r.model for r in results})
    order = [m for m in (models_order or []) if m in found] + [m for m in found if m not in (models_order or [])]
    if baseline is not None and baseline not in found:
        raise EmbedbenchError(f"baseline {baseline!r} has no stored results (models with results: {', '.join(found)})")
    if baseline is not None:
        order = [baseline] + [m for m in order if m != baseline]
    tasks = sorted({r.task for r in results})
    a = Analysis(by_key, tasks, order, baseline, alpha, n_boot)
    for (model, task), r in by_key.items():
        for metric in r.metrics:
            if has_ci(r, metric):
                a.cis[(model, task, metric)] = bootstrap_ci(r, metric, n=n_boot, seed=seed, alpha=alpha)
    if baseline is not None:
        for task in tasks:
            base = by_key.get((baseline, task))
            for model in order:
                cand = by_key.get((model, task))
                if model == baseline or base is None or cand is None:
                    continue
                c = paired_comparison(cand, base, base.main_metric, n_boot=n_boot, seed=seed, alpha=alpha, test=test)
                if c is not None:
                    a.comparisons[(model, task)] = c
        keys = list(a.comparisons)
        a.holm_p = dict(zip(keys, holm([a.comparisons[k].p_value for k in keys]), strict=True))
    a.comparison = compare_models(by_key, order, tasks, facts or {}, plan, n_boot=n_boot, seed=seed, alpha=alpha,
                                  test=test)
    return a


def _fmt_ci(ci: CI | None) -> str:
    return f"[{ci.low:.4f}, {ci.high:.4f}]" if ci is not None and np.isfinite(ci.low) else ""


def _fmt_spread(r: TaskResult, metric: str) -> str:
    """For a result without per-item data whose runs were kept (mteb's classification experiments,
    clustering subsets): ``± sd (n runs, min–max)``; empty otherwise."""
    runs = r.provenance.get(f"{metric}_per_run")
    std = r.metrics.get(f"{metric}_std")
    if not isinstance(runs, list) or len(runs) < 2 or std is None:
        return ""
    return f" ± {std:.4f} sd ({len(runs)} runs, {min(runs):.4f}–{max(runs):.4f})"


def summary_table(a: Analysis) -> list[str]:
    """Markdown rows: tasks × models (so it reads with many tasks), main metric [CI], best in bold,
    Δ vs baseline with marks, and a fine-tuned model's contamination share where it was audited."""
    heads = [f"{m} (baseline)" if m == a.baseline else m for m in a.models]
    lines = ["| task | metric | " + " | ".join(heads) + " |", "|---|---|" + "---|" * len(a.models)]
    left_out = {(r.model, r.task) for r in (a.comparison.left_out if a.comparison else [])}
    for t in a.tasks:
        metric = a.main_metric(t)
        vals = [r.metrics[metric] for m in a.models if (r := a.get(m, t)) is not None and metric in r.metrics]
        best = max(vals, default=None)
        cells = []
        for m in a.models:
            r = a.get(m, t)
            if r is None or metric not in r.metrics:
                cells.append(LEFT_OUT if (m, t) in left_out else "–")
                continue
            v = r.metrics[metric]
            text = f"**{v:.4f}**" if v == best else f"{v:.4f}"
            ci = _fmt_ci(a.cis.get((m, t, metric)))
            text += f"<br>{ci}" if ci else _fmt_spread(r, metric)
            c = a.comparisons.get((m, t))
            if c is not None:
                text += f"<br>Δ {c.diff:+.4f}{mark(a.holm_p[(m, t)])}"
            if (m, t) in a.contamination:
                text += f"<br>↳ contamination {_contamination_cell(a.contamination[(m, t)])}"
            cells.append(text)
        lines.append(f"| {t} | {metric} | " + " | ".join(cells) + " |")
    return lines


def _contamination_cell(audit: TaskAudit | None) -> str:
    """Share of test items in the training data; above the limit, a warning mark and the limit."""
    if audit is None:
        return "–"
    text = f"{100 * audit.share():.1f}%"
    return f"**{text}** ⚠ over the {100 * audit.limit:g}% limit" if audit.over_limit else text


def contamination_section(a: Analysis) -> list[str]:
    """Per fine-tuned model and task: test items with an exact, near or semantic match in its training data."""
    if not a.contamination:
        return []
    out = ["## Training-data contamination", "",
           "Share of each task's test items with a match in the model's training data (from its training "
           "manifest): exact after normalisation, near (MinHash), semantic (embedding cosine; when configured). "
           "Each item counts once, under its strongest match. The same audit as `embedbench contamination`, "
           "computed once per task and cached beside the results.", "",
           "| model | task | test items | exact | near | semantic | any | limit | note |", "|---|---|---|---|---|---|---|---|---|"]
    for (m, t), audit in sorted(a.contamination.items(), key=lambda kv: (a.models.index(kv[0][0]) if kv[0][0] in a.models else 0, kv[0][1])):
        pct = [f"{100 * audit.share(k):.1f}%" for k in ("exact", "near")]
        sem = f"{100 * audit.share('semantic'):.1f}%" if audit.semantic else "off"
        note = "above the limit: read this score as contaminated" if audit.over_limit else ""
        out.append(f"| {m} | {t} | {audit.n_items} | {pct[0]} | {pct[1]} | {sem} | {100 * audit.share():.1f}% | "
                   f"{100 * audit.limit:g}% | {note} |")
    shown = [(m, t, e) for (m, t), audit in a.contamination.items() if audit.over_limit for e in audit.examples[:1]]
    if shown:
        out += ["", "One example per task above the limit (test text / training text):", ""]
        for m, t, e in shown:
            out.append(f"- {m} on {t} ({e['kind']}, {e['score']:.3f}): “{_md(e['test_text'])}” / “{_md(e['train_text'])}” (`{e['train_ref']}`)")
    return out


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def detail_metrics(metrics: list[str], main: str) -> tuple[list[str], int]:
    """The metrics a task section shows (main first) and how many it leaves to the stored result.

    mteb reports ~150 metrics for a retrieval task; the section keeps each family at the cut-offs 1, 10
    and 100 and drops mteb's calibration diagnostics (``nauc_*``) and its ``main_score`` copy.
    """
    def shown(k: str) -> bool:
        cut = CUTOFF.search(k)
        return k == main or not (k.startswith("nauc_") or k == "main_score" or (cut and cut.group(1) not in KEPT_CUTOFFS))

    keep = [k for k in dict.fromkeys([main, *metrics]) if k in metrics and shown(k)]
    return keep, len(set(metrics)) - len(keep)


def task_section(a: Analysis, task: str, figures: list[Figure], rel: str) -> list[str]:
    """Detail of one task: metrics (rows) × models (columns) with CIs, the comparisons, and links to its
    figures (under ``rel``)."""
    rows = [(m, r) for m in a.models if (r := a.get(m, task)) is not None]
    first = rows[0][1]
    metrics, hidden = detail_metrics(list(dict.fromkeys(k for _, r in rows for k in r.metrics)), first.main_metric)
    more = f" {hidden} more metrics (other cut-offs, mteb's nauc_* diagnostics) are in the stored results." if hidden else ""
    out = [f"## {task}", "", f"{first.task_type} on `{first.dataset}` ({first.n_items} items); main metric "
           f"`{first.main_metric}`. Cells: value [95% CI] (no CI where the task kept no per-item data; ± sd is "
           f"then the spread over the task's own runs, as mteb reports them).{more}", ""]
    out += ["| metric | " + " | ".join(m for m, _ in rows) + " |", "|---|" + "---|" * len(rows)]
    for k in metrics:
        cells = [f"{r.metrics[k]:.4f} {_fmt_ci(a.cis.get((m, task, k)))}".strip()
                 + ("" if (m, task, k) in a.cis else _fmt_spread(r, k)) if k in r.metrics else "–" for m, r in rows]
        out.append(f"| {k} | " + " | ".join(cells) + " |")
    comps = [(m, a.comparisons[(m, task)]) for m, _ in rows if (m, task) in a.comparisons]
    if comps:
        out += ["", f"Paired comparison with `{a.baseline}` on `{first.main_metric}` over the same items:", "",
                "| model | Δ | 95% CI | test | p | p (Holm) | improved | hurt | tied |", "|---|---|---|---|---|---|---|---|---|"]
        for m, c in comps:
            out.append(f"| {m} | {c.diff:+.4f} | [{c.low:+.4f}, {c.high:+.4f}] | {c.test} | {c.p_value:.3g} | "
                       f"{a.holm_p[(m, task)]:.3g}{mark(a.holm_p[(m, task)])} | {c.improved} | {c.hurt} | {c.tied} |")
    out += ["", *(f"![{f.alt}]({rel}/{f.file})" for f in figures if f.task == task)]
    return out


def plan_figures(a: Analysis) -> list[Figure]:
    """What the report draws: per task its main metric with CIs and, for retrieval against a baseline,
    the per-query difference histogram of each compared model."""
    out: list[Figure] = []
    for task in a.tasks:
        rows = [(m, r) for m in a.models if (r := a.get(m, task)) is not None]
        metric = rows[0][1].main_metric
        cis = [a.cis.get((m, task, metric)) for m, _ in rows]
        out.append(CIFigure(task, metric, tuple(m for m, _ in rows), tuple(r.metrics[metric] for _, r in rows),
                            tuple(c.low if c else None for c in cis), tuple(c.high if c else None for c in cis),
                            baseline=a.baseline))
        base = a.get(a.baseline, task) if a.baseline else None
        if base is None or rows[0][1].task_type != "retrieval":
            continue
        for m, r in rows:
            if m == a.baseline or (m, task) not in a.comparisons or columns(r, metric)[0].kind != "mean":
                continue
            col = columns(r, metric)[0].columns[0]
            order = align(r, base)
            diffs = np.asarray(r.per_item[col], float) - np.asarray(base.per_item[col], float)[order]
            out.append(DiffFigure(task, metric, m, str(a.baseline), tuple(diffs.tolist())))
    scatter = throughput_figure(a.comparison) if a.comparison else None
    return out + ([scatter] if scatter else [])


def provenance_table(a: Analysis) -> list[str]:
    """One row per stored result: fingerprint, backend, data hash, date, time taken (and the plan's estimate,
    where ``plan.json`` has one), library versions."""
    mc = a.comparison
    estimates = {(r.model, r.task): r.est_seconds for r in (mc.plan.rows if mc and mc.plan else [])}
    out = ["| model | task | fingerprint | backend | dataset | dataset hash | date | seconds | estimated s | "
           + " | ".join(SHOWN_VERSIONS) + " |", "|---|---|---|---|---|---|---|---|---|" + "---|" * len(SHOWN_VERSIONS)]
    for m in a.models:
        facts = mc.facts.get(m) if mc else None
        backend = f"{facts.backend} {facts.precision}".strip() if facts else "–"
        for t in a.tasks:
            r = a.get(m, t)
            if r is None:
                continue
            p = r.provenance
            versions = p.get("versions") or {}
            est = estimates.get((m, t))
            out.append(
                f"| {m} | {t} | `{r.model_fingerprint[:12]}` | {backend} | {r.dataset} | `{r.dataset_hash[:12]}` | "
                f"{p.get('created', '')} | {float(p.get('seconds', r.seconds)):.1f} | "
                f"{'–' if est is None else f'{est:.1f}'} | "
                + " | ".join(str(versions.get(v) or "–") for v in SHOWN_VERSIONS) + " |"
            )
    return out


def render(
    a: Analysis, *, name: str, figures: list[Figure], rel: str, command: str, rendered: str,
    notes: list[str] | None = None,
) -> str:
    """The whole Markdown document (pure: figures are linked under ``rel``, drawn elsewhere).

    ``rendered`` is the time shown in the header (ISO 8601).
    """
    n_comp = len(a.comparisons)
    lines = [
        f"# Evaluation report: {name}", "",
        f"{len(a.results)} stored results ({len(a.models)} models × {len(a.tasks)} tasks), rendered "
        f"{rendered} from the results store alone.", "",
        "## Summary", "",
        f"Main metric per task with its {1 - a.alpha:.0%} percentile-bootstrap CI over items ({a.n_boot} "
        "resamples, seeded); the best value per task is in **bold**."
        + (f" Δ is the difference to the baseline `{a.baseline}` on the same items." if a.baseline else ""), "",
        *summary_table(a), "",
    ]
    for note in notes or []:
        lines += [f"> {note}", ""]
    if n_comp:
        lines += [
            f"Significance: {n_comp} comparisons with the baseline are made in this table, so p-values are "
            "Holm-adjusted over all of them (family-wise error); † adjusted p < 0.05, ‡ adjusted p < 0.01. "
            "Tests: Fisher's paired randomisation for per-item means (retrieval, triplet accuracy; at least "
            "10,000 sign patterns), the difference over its paired-bootstrap standard error for correlations, AP "
            "and F1. Metrics other than the main one are not tested here.", "",
        ]
    if a.comparison is not None:
        link = next((f"![{f.alt}]({rel}/{f.file})" for f in figures if isinstance(f, ScoreThroughputFigure)), None)
        compared = comparison_section(a.comparison, a.models, link)
        left_out = left_out_section(a.comparison)
        lines += [*compared, ""] if compared else []
        lines += [*left_out, ""] if left_out else []
    contaminated = contamination_section(a)
    if contaminated:
        lines += [*contaminated, ""]
    for task in a.tasks:
        lines += task_section(a, task, figures, rel) + [""]
    lines += ["## Provenance", "", *provenance_table(a), "", "## Reproduce", "", "```", command, "```", ""]
    return "\n".join(lines)


def build_report(
    store: ResultsStore,
    out_dir: str | Path,
    name: str,
    *,
    baseline: str | None = None,
    models: list[str] | None = None,
    tasks: list[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    test: str = "auto",
    command: str = "embedbench report",
    notes: list[str] | None = None,
    contamination: dict[str, list[TaskAudit]] | None = None,
) -> Path:
    """Render ``<out_dir>/<name>.md`` (and its figures) from the stored results; returns the report path.

    Args:
        store: the results store.
        out_dir: reports folder.
        name: report name (file stem).
        baseline: model every other model is compared with (None: no comparisons).
        models: report only these models, in this order (default: every stored model).
        tasks: report only these tasks.
        n_boot: bootstrap resamples / permutations.
        seed: resampling seed.
        alpha: 1 - CI coverage.
        test: test for mean metrics (``auto``/``randomization``/``t-test``).
        command: the command line that reproduces the report (shown in it).
        notes: sentences shown under the summary table.
        contamination: results name -> its per-task contamination audits
            (:func:`embedbench.evalsuite.contamination.report_contamination`).
    """
    results = store.load_all(models=models, tasks=tasks)
    a = analyse(results, baseline=baseline, models_order=models, n_boot=n_boot, seed=seed, alpha=alpha, test=test,
                facts=load_model_facts(store.root), plan=load_plan(store.root))
    a.contamination = {(m, audit.task): audit for m, audits in (contamination or {}).items() for audit in audits}
    drawn = plan_figures(a)
    folder = Path(out_dir) / f"{name}_files"
    for figure in drawn:
        figure.draw(folder)
    text = render(a, name=name, figures=drawn, rel=folder.name, command=command,
                  rendered=datetime.now(UTC).isoformat(timespec="seconds"), notes=notes)
    return write_text_atomic(Path(out_dir) / f"{name}.md", text)
