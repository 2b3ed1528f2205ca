"""The ``embedbench mine`` command: parse options, call :func:`prep.negatives.mine_for_set`, write, summarise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer


def register_mine(app: typer.Typer, user_errors: Callable) -> None:
    """Add ``mine`` to ``app`` (called from ``prep.cli.register``)."""

    @app.command("mine")
    @user_errors
    def mine_command(
        pairs: Path = typer.Option(..., "--pairs", help="(anchor, positive) pairs: Parquet, JSONL, CSV or TSV"),
        out: Path = typer.Option(..., "--out", help="output folder"),
        model: str = typer.Option("all-MiniLM-L6-v2", "--model", help="registry name or model folder"),
        corpus: Path | None = typer.Option(
            None, "--corpus", help="candidate texts: BEIR folder/corpus.jsonl, table with `text`, or .txt lines"
        ),
        range_min: int = typer.Option(0, help="skip this many best candidates"),
        range_max: int = typer.Option(50, help="consider candidates ranked below this"),
        num_negatives: int = typer.Option(3, help="negatives per anchor"),
        absolute_margin: float | None = typer.Option(None, help="drop a candidate if neg + m > positive score"),
        relative_margin: float | None = typer.Option(0.05, help="drop if neg > pos - |pos| * r; negative = off"),
        max_score: float | None = typer.Option(None, help="drop candidates scoring above"),
        min_score: float | None = typer.Option(None, help="drop candidates scoring below"),
        sampling: str = typer.Option("top", help="top | random"),
        seed: int = typer.Option(12345, help="seed for random sampling, padding and the example sample"),
        output: str = typer.Option("triplet", help="triplet | n-tuple | labeled-pair"),
        output_scores: bool = typer.Option(False, "--output-scores", help="add similarity scores"),
        shortfall: str = typer.Option("drop", help="anchors short of negatives: keep | drop | pad-random"),
        index: str = typer.Option("auto", help="auto | flat | ivf"),
        nlist: int | None = typer.Option(None, help="IVF lists (default sqrt(corpus size))"),
        nprobe: int = typer.Option(32, help="IVF lists searched per query"),
        batch_size: int = typer.Option(1024, help="anchors per search batch"),
        query_prompt: str | None = typer.Option(None, help="prompt prepended to anchors"),
        corpus_prompt: str | None = typer.Option(None, help="prompt prepended to corpus texts"),
        stem: str = typer.Option("negatives", help="output file name stem"),
    ) -> None:
        """Mine hard negatives for (anchor, positive) pairs and write Parquet + stats + a report section."""
        from rich.console import Console

        from embedbench.prep.negatives import make_config, mine_for_set
        from embedbench.prep.negatives.io import read_corpus_texts, read_pairs, write_mining

        cfg = make_config(
            model=model, range_min=range_min, range_max=range_max, num_negatives=num_negatives,
            absolute_margin=absolute_margin,
            relative_margin=None if relative_margin is not None and relative_margin < 0 else relative_margin,
            max_score=max_score, min_score=min_score, sampling=sampling, seed=seed, output=output,
            output_scores=output_scores, shortfall=shortfall, index=index, nlist=nlist, nprobe=nprobe,
            batch_size=batch_size, query_prompt=query_prompt, corpus_prompt=corpus_prompt,
        )
        result = mine_for_set(read_pairs(pairs), read_corpus_texts(corpus) if corpus else None, cfg)
        paths = write_mining(result, out, stem=stem)
        s = result.stats
        console = Console()
        console.print(
            f"mined {s.rows_out:,} {cfg.output} rows for {s.anchors:,} anchors from a corpus of {s.corpus_size:,} "
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
