"""``embedbench mine``: mine hard negatives for a pairs file and write the mined set, its stats and report section.

Defaults and help come from :class:`~embedbench.prep.negatives.MiningConfig`: an option left out is
not passed, so the config's default applies. The common knobs are options of their own; any other
mining key is given as ``--option key=value`` (repeatable).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from embedbench.cli._output import EngineOption, activate_engine, console, user_errors
from embedbench.config import error_lines
from embedbench.errors import EmbedbenchError
from embedbench.io import check_output_dir, clean_temps
from embedbench.prep.negatives import MiningConfig, mine_files

NONE_VALUES = ("none", "null")
"""``--option key=none`` sets an optional key to nothing (e.g. ``relative_margin=none``)."""


def _help(key: str, extra: str = "") -> str:
    field = MiningConfig.model_fields[key]
    return f"{field.description or key}{extra} (default: {field.default})"


def _options(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` strings as mining options (keys may use ``-``; values are validated by MiningConfig)."""
    out: dict[str, Any] = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise EmbedbenchError(
                f"--option {item!r}: expected key=value, e.g. --option nprobe=64; keys: {sorted(MiningConfig.model_fields)}"
            )
        out[key.strip().replace("-", "_")] = None if value.strip().lower() in NONE_VALUES else value
    return out


OWN_OPTIONS = ("model", "range_min", "range_max", "num_negatives", "relative_margin", "output", "shortfall")
"""Mining keys with an option of their own (``--range-max``); the others are given as ``--option key=value``."""


def _option_name(key: str) -> str:
    """How the user gave mining key ``key`` on the command line."""
    return f"--{key.replace('_', '-')}" if key in OWN_OPTIONS else f"--option {key}"


def mining_config(options: dict[str, Any]) -> MiningConfig:
    """Validate the mining options; each error names the command-line option that gave the value."""
    try:
        return MiningConfig.model_validate(options)
    except ValidationError as exc:
        lines = error_lines(exc, prefix=(), name=lambda loc: _option_name(loc[0]) if loc else "options")
        raise EmbedbenchError("invalid mining options:\n" + "\n".join(lines)) from None


@user_errors
def mine_command(
    pairs: Annotated[Path, typer.Option("--pairs", help="(anchor, positive) pairs: Parquet, JSONL, CSV or TSV")],
    out: Annotated[Path, typer.Option("--out", help="output folder")],
    corpus: Annotated[
        Path | None,
        typer.Option(help="candidate texts: BEIR folder/corpus.jsonl, table with `text` (+ `title`), or .txt lines"),
    ] = None,
    model: Annotated[str | None, typer.Option(help=_help("model"))] = None,
    range_min: Annotated[int | None, typer.Option(help=_help("range_min"))] = None,
    range_max: Annotated[int | None, typer.Option(help=_help("range_max"))] = None,
    num_negatives: Annotated[int | None, typer.Option(help=_help("num_negatives"))] = None,
    relative_margin: Annotated[
        float | None, typer.Option(help=_help("relative_margin", "; a negative value turns it off"))
    ] = None,
    output: Annotated[str | None, typer.Option(help=_help("output"))] = None,
    shortfall: Annotated[str | None, typer.Option(help=_help("shortfall"))] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-o", help="any other mining key as key=value (repeatable), e.g. -o sampling=random"),
    ] = None,
    stem: Annotated[str, typer.Option(help="output file name stem")] = "negatives",
    engine: EngineOption = None,
) -> None:
    """Mine hard negatives for (anchor, positive) pairs and write Parquet + stats + a report section."""
    activate_engine(None, engine)  # [compute] of ./bench.toml, if there
    given = {
        "model": model, "range_min": range_min, "range_max": range_max, "num_negatives": num_negatives,
        "relative_margin": relative_margin, "output": output, "shortfall": shortfall,
    }
    options = {k: v for k, v in given.items() if v is not None}
    if relative_margin is not None and relative_margin < 0:
        options["relative_margin"] = None
    cfg = mining_config({**_options(option or []), **options})
    check_output_dir(out, "--out")
    clean_temps(out)
    mined = mine_files(pairs, out, cfg, corpus=corpus, stem=stem)
    s, paths = mined.result.stats, mined.paths
    console.print(
        f"mined {s.rows_out:,} rows ({cfg.output}) for {s.anchors:,} anchors from a corpus of {s.corpus_size:,} "
        f"({s.index}); encoded {s.encoded['misses']:,} new texts, {s.encoded['hits']:,} from the cache"
    )
    console.print("removed: " + ", ".join(f"{k}={v:,}" for k, v in s.removed.items()))
    console.print(
        f"shortfall: {s.short_anchors:,} anchors ({s.short_pairs:,} pairs) short, {s.missing_negatives:,} "
        f"negatives missing; padded {s.padded_negatives:,}, dropped {s.dropped_pairs:,} pairs"
    )
    for note in s.notes:
        console.print(f"note: {note}")
    console.print(f"wrote {paths['dataset']} and {paths['stats'].name}, {paths['report'].name} beside it")
