"""The report's model comparison: each fine-tuned model beside its base, the fine-tuning gain with its
paired test, what each model costs, and the pairs the run left out.

Everything comes from files beside the results, so the report still renders from stored files alone:
``models.json`` (:class:`ModelFacts`: a fine-tuned model's ``base_model``, parameters, dimension, size
on disk, encode throughput measured in the run, training time) and ``plan.json`` (:class:`PlanRow` s,
the ``left out`` ones with their estimated cost). Without them the parts that need them are omitted.

``compare_models`` computes (pure); ``comparison_section`` and ``left_out_section`` render Markdown.
The gains form their own family of tests: their p-values are Holm-adjusted over every (fine-tuned
model, task) gain, apart from the summary's comparisons with the one baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from embedbench.evalsuite.config import BM25
from embedbench.evalsuite.model_facts import ModelFacts, PlanFile, PlanRow
from embedbench.evalsuite.plots import ScoreThroughputFigure
from embedbench.evalsuite.statistics import Comparison, columns, compare, has_ci, holm
from embedbench.evalsuite.types import TaskResult

LEFT_OUT = "left out"
MARKS = ((0.01, "‡"), (0.05, "†"))


def mark(p: float | None) -> str:
    """Significance mark of an adjusted p-value: ‡ below 0.01, † below 0.05."""
    if p is None:
        return ""
    return next((m for level, m in MARKS if p < level), "")


def paired_comparison(
    cand: TaskResult, base: TaskResult, metric: str, *, n_boot: int, seed: int, alpha: float, test: str,
) -> Comparison | None:
    """``cand`` minus ``base`` on ``metric`` over the same items, or None when either kept no per-item data.

    ``test`` applies to per-item means; correlations, AP and best-F1 always use the paired bootstrap.
    """
    if not (has_ci(cand, metric) and has_ci(base, metric)):
        return None
    t = test if columns(cand, metric)[0].kind == "mean" else "bootstrap"
    return compare(cand, base, metric, n=n_boot, seed=seed, alpha=alpha, test=t)


@dataclass(frozen=True)
class Gain:
    """A fine-tuned model against its own base on one task's main metric."""

    base: str
    tuned: str
    task: str
    metric: str
    base_value: float
    tuned_value: float
    comparison: Comparison | None = None
    """The paired test; None where the task kept no per-item data (mteb), so only the difference is known."""
    holm_p: float | None = None

    @property
    def diff(self) -> float:
        """Fine-tuned minus base."""
        return self.tuned_value - self.base_value


@dataclass
class ModelComparison:
    """What the model-comparison section shows."""

    task_metrics: dict[str, str]
    """Task -> its main metric (report order)."""
    scores: dict[tuple[str, str], float]
    """(model, task) -> main metric value."""
    bases: list[str]
    """Embedding models not paired with a base, in report order (BM25 is a baseline, not a base model)."""
    tuned: dict[str, list[str]]
    """Base -> the fine-tuned models trained from it that have results (from ``ModelFacts.base_model``)."""
    facts: dict[str, ModelFacts]
    gains: dict[tuple[str, str], Gain] = field(default_factory=dict)
    """(fine-tuned model, task) -> its gain over its base."""
    common_tasks: list[str] = field(default_factory=list)
    """The tasks every compared (embedding) model ran: the mean score is taken over these."""
    mean_scores: dict[str, float] = field(default_factory=dict)
    left_out: list[PlanRow] = field(default_factory=list)
    plan: PlanFile | None = None

    @property
    def compared(self) -> list[str]:
        """Every embedding model in the comparison: the bases, each followed by its fine-tuned models."""
        return [m for b in self.bases for m in (b, *self.tuned.get(b, []))]

    def base_of(self, model: str) -> str | None:
        """The base a fine-tuned model was trained from (None for a base)."""
        return next((b for b, ts in self.tuned.items() if model in ts), None)


def compare_models(
    results: dict[tuple[str, str], TaskResult], models: Sequence[str], tasks: Sequence[str],
    facts: dict[str, ModelFacts], plan: PlanFile | None, *, n_boot: int = 1000, seed: int = 0,
    alpha: float = 0.05, test: str = "auto",
) -> ModelComparison:
    """Pair fine-tuned models with their bases, test each gain, and gather the costs and left-out pairs."""
    task_metrics = {t: next(r.main_metric for (_, rt), r in results.items() if rt == t) for t in tasks}
    scores = {(m, t): float(r.metrics[task_metrics[t]]) for (m, t), r in results.items()
              if t in task_metrics and task_metrics[t] in r.metrics}
    with_results = [m for m in models if any((m, t) in scores for t in tasks)]
    base_of = {m: f.base_model for m in with_results if (f := facts.get(m)) is not None and f.base_model}
    tuned: dict[str, list[str]] = {}
    for m, b in base_of.items():
        if b in with_results:
            tuned.setdefault(b, []).append(m)
    paired = {m for ts in tuned.values() for m in ts}
    # a fine-tuned model whose base has no results stands alone, like a base
    bases = [m for m in with_results if m not in paired and m != BM25]
    mc = ModelComparison(task_metrics, scores, bases, tuned, facts, plan=plan)
    for base, tuned_models in tuned.items():
        for m in tuned_models:
            for t, metric in task_metrics.items():
                if (m, t) not in scores or (base, t) not in scores:
                    continue
                c = paired_comparison(results[(m, t)], results[(base, t)], metric, n_boot=n_boot, seed=seed,
                                      alpha=alpha, test=test)
                mc.gains[(m, t)] = Gain(base, m, t, metric, scores[(base, t)], scores[(m, t)], c)
    tested = [k for k, g in mc.gains.items() if g.comparison is not None]
    adjusted = holm([mc.gains[k].comparison.p_value for k in tested])  # type: ignore[union-attr]
    for k, p in zip(tested, adjusted, strict=True):
        g = mc.gains[k]
        mc.gains[k] = Gain(g.base, g.tuned, g.task, g.metric, g.base_value, g.tuned_value, g.comparison, p)
    compared = mc.compared
    mc.common_tasks = [t for t in tasks if compared and all((m, t) in scores for m in compared)]
    if mc.common_tasks:
        mc.mean_scores = {m: float(np.mean([scores[(m, t)] for t in mc.common_tasks])) for m in compared}
    mc.left_out = [r for r in (plan.rows if plan else []) if r.status == LEFT_OUT]
    return mc


def throughput_figure(mc: ModelComparison) -> ScoreThroughputFigure | None:
    """Mean main score against encode throughput, for the compared models with a measured throughput."""
    shown = [m for m in mc.compared if m in mc.mean_scores and (f := mc.facts.get(m)) is not None
             and (f.short_per_s or f.long_per_s)]
    if not shown:
        return None
    return ScoreThroughputFigure(
        models=tuple(shown), scores=tuple(mc.mean_scores[m] for m in shown),
        short_per_s=tuple(mc.facts[m].short_per_s for m in shown),
        long_per_s=tuple(mc.facts[m].long_per_s for m in shown),
        bases=tuple(mc.base_of(m) or "" for m in shown), n_tasks=len(mc.common_tasks),
    )


# ------------------------------------------------------------------------------------------ rendering


def _gain_text(g: Gain | None) -> str:
    if g is None:
        return ""
    if g.comparison is None:
        return f"<br>{g.diff:+.4f} (untested)"
    return f"<br>{g.diff:+.4f}{mark(g.holm_p)} [{g.comparison.low:+.4f}, {g.comparison.high:+.4f}]"


def side_by_side(mc: ModelComparison) -> list[str]:
    """Per task (rows): one column per base and fine-tuned pair, ``base → fine-tuned`` with the gain and its
    paired CI under it; a base without a fine-tuned version has a column of its own."""
    cols: list[tuple[str, str | None]] = []
    for b in mc.bases:
        cols += [(b, m) for m in mc.tuned.get(b, [])] or [(b, None)]
    heads = [b if m is None else f"{b}<br>→ {m}" for b, m in cols]
    out = ["| task | metric | " + " | ".join(heads) + " |", "|---|---|" + "---|" * len(heads)]
    for t, metric in mc.task_metrics.items():
        best = max((mc.scores[(m, t)] for m in mc.compared if (m, t) in mc.scores), default=None)

        def value(model: str, task: str = t, top: float | None = best) -> str:
            if (model, task) not in mc.scores:
                return _left_out_or_dash(mc, model, task)
            v = mc.scores[(model, task)]
            return f"**{v:.4f}**" if v == top else f"{v:.4f}"

        cells = [value(b) if m is None else f"{value(b)} → {value(m)}{_gain_text(mc.gains.get((m, t)))}" for b, m in cols]
        out.append(f"| {t} | {metric} | " + " | ".join(cells) + " |")
    return out


def _left_out_or_dash(mc: ModelComparison, model: str, task: str) -> str:
    return LEFT_OUT if any(r.model == model and r.task == task for r in mc.left_out) else "–"


def gain_summary(mc: ModelComparison) -> list[str]:
    """One line per fine-tuned model: tasks better / worse (significant), mean gain."""
    out = []
    for b, tuned in mc.tuned.items():
        for m in tuned:
            gains = [g for (tm, _), g in mc.gains.items() if tm == m]
            if not gains:
                continue
            up = [g for g in gains if g.diff > 0]
            down = [g for g in gains if g.diff < 0]
            sig = [g for g in gains if g.holm_p is not None and g.holm_p < 0.05]
            out.append(
                f"- **{m}** over **{b}**: better on {len(up)} of {len(gains)} tasks "
                f"({sum(g.diff > 0 for g in sig)} significantly), worse on {len(down)} "
                f"({sum(g.diff < 0 for g in sig)} significantly); mean gain {np.mean([g.diff for g in gains]):+.4f}."
            )
    return out


def gain_table(mc: ModelComparison) -> list[str]:
    """The paired test of every gain: difference, its CI, test, p, Holm-adjusted p, items improved / hurt / tied."""
    out = ["| fine-tuned | base | task | metric | gain | 95% CI | test | p | p (Holm) | improved | hurt | tied |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for g in mc.gains.values():
        c = g.comparison
        if c is None:
            out.append(f"| {g.tuned} | {g.base} | {g.task} | {g.metric} | {g.diff:+.4f} | – | no per-item data | – | – | – | – | – |")
            continue
        out.append(f"| {g.tuned} | {g.base} | {g.task} | {g.metric} | {g.diff:+.4f} | [{c.low:+.4f}, {c.high:+.4f}] | "
                   f"{c.test} | {c.p_value:.3g} | {g.holm_p:.3g}{mark(g.holm_p)} | {c.improved} | {c.hurt} | {c.tied} |")
    return out


def _num(v: float | None, fmt: str) -> str:
    return "–" if v is None else format(v, fmt)


def _params(n: int | None) -> str:
    if n is None:
        return "–"
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def duration(seconds: float | None) -> str:
    """``45 s``, ``12.5 min``, ``1.3 h`` (``–`` when unknown)."""
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def cost_table(mc: ModelComparison, models: Sequence[str]) -> list[str]:
    """One row per model: size, speed measured in this run, training time, mean main score over the common tasks."""
    n = len(mc.common_tasks)
    out = ["| model | base | backend | parameters | dimension | max tokens | size on disk | short texts/s | "
           f"long documents/s | training time | mean main score ({n} tasks) |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in models:
        f = mc.facts.get(m, ModelFacts(m, backend="", precision=""))
        backend = f"{f.backend} {f.precision}".strip() or "–"
        out.append(
            f"| {m} | {f.base_model or '–'} | {backend} | {_params(f.parameters)} | {_num(f.dimension, 'd')} | "
            f"{_num(f.max_seq_length, 'd')} | {_num(f.size_mb, '.0f') + ' MB' if f.size_mb is not None else '–'} | "
            f"{_num(f.short_per_s, '.3g')} | {_num(f.long_per_s, '.3g')} | {duration(f.train_seconds)} | "
            f"{_num(mc.mean_scores.get(m), '.4f')} |"
        )
    return out


def comparison_section(mc: ModelComparison, models: Sequence[str], figure_link: str | None) -> list[str]:
    """``## Model comparison``: side by side, the gains and their tests, the cost table, the plot."""
    costs = [m for m in models if m in mc.facts]
    if not mc.tuned and not costs:
        return []
    out = ["## Model comparison", ""]
    if mc.tuned:
        out += ["Each fine-tuned model beside the base it was trained from (from `models.json`), on every task's "
                "main metric: `base → fine-tuned`, the best value per task in **bold**; under it the gain, "
                f"fine-tuned minus its own base on the same items, with its paired 95% CI; {sum(g.comparison is not None for g in mc.gains.values())} gains are "
                "tested and Holm-adjusted together (a family of their own, apart from the summary's comparisons "
                "with the baseline); † adjusted p < 0.05, ‡ adjusted p < 0.01; untested where the task kept no "
                "per-item data.", "", *side_by_side(mc), "", *gain_summary(mc), "",
                "### Fine-tuning gain per base", "", *gain_table(mc), ""]
    if costs:
        machines = sorted({mc.facts[m].machine for m in costs if mc.facts[m].machine})
        where = f" on {', '.join(f'`{x}`' for x in machines)}" if machines else ""
        common = ", ".join(mc.common_tasks) or "none"
        out += ["### Cost", "",
                f"Size and speed of each model as measured in this run{where}: encode throughput on short "
                "sentences and on long documents (truncated at the model's max tokens), with the backend it ran "
                f"on; training time of the models fine-tuned here. The mean main score is taken over the tasks "
                f"every compared model ran ({common}).", "", *cost_table(mc, costs), ""]
        reasons = [f"- {m}: {mc.facts[m].backend_reason}" for m in costs if mc.facts[m].backend_reason]
        out += ["Why each backend:", "", *reasons, ""] if reasons else []
        out += _plan_vs_actual(mc)
    if figure_link:
        out += [figure_link, ""]
    return out[:-1]


def _plan_vs_actual(mc: ModelComparison) -> list[str]:
    """The run's estimated against its measured seconds, over the pairs that ran and have both."""
    ran = [r for r in (mc.plan.rows if mc.plan else []) if r.est_seconds is not None and r.actual_seconds is not None]
    if not ran:
        return []
    est, act = sum(r.est_seconds or 0.0 for r in ran), sum(r.actual_seconds or 0.0 for r in ran)
    ratio = f" ({act / est:.2f}× the estimate)" if est > 0 else ""
    return [f"The plan estimated {duration(est)} for the {len(ran)} model × task pairs that ran; they took "
            f"{duration(act)}{ratio}.", ""]


def left_out_section(mc: ModelComparison) -> list[str]:
    """``## Left out``: the model × task pairs the experiment does not run, with what they would cost."""
    if not mc.left_out:
        return []
    total = sum(r.est_seconds or 0.0 for r in mc.left_out)
    machine = f" on `{mc.plan.machine}`" if mc.plan and mc.plan.machine else ""
    out = ["## Left out", "",
           f"{len(mc.left_out)} model × task pair(s) are configured but not run (`[eval] leave_out`); planned "
           f"all the same, they would cost about {duration(total)} of encoding{machine}.", "",
           "| model | task | texts | to encode | estimated time | reason |", "|---|---|---|---|---|---|"]
    for r in mc.left_out:
        out.append(f"| {r.model} | {r.task} | {r.texts:,} | {r.texts - r.cached:,} | {duration(r.est_seconds)} | "
                   f"{r.reason.replace('|', '/') or '–'} |")
    return out
