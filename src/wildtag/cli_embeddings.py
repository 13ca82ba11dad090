"""``wildtag embed`` and ``wildtag search``: embed an archive once, then find windows like an example.

    wildtag embed birdnet recordings/ --out emb/ --accept-license cc-by-nc-sa-4.0 --hop-s 1.5
    wildtag embed perch.onnx recordings/ --out emb/ --sample-rate 32000 --window-s 5 --output-name embedding
    wildtag embed runs/site_a recordings/ --out emb/          # a wildtag run's penultimate layer
    wildtag search emb/ call.wav --t0 1.2 --t1 2.0 -k 50 --out hits   # hits.csv + hits.selections.txt

Torch, pandas and the runtimes are imported inside the commands, so ``wildtag --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer


def model_spec_from_argument(model: str, *, accept_license: str | None, sample_rate: int | None,
                             window_s: float | None, output_name: str | None, settings: list[str]) -> dict[str, Any]:
    """The embedding model MODEL names: a .onnx file, a wildtag run or checkpoint, or a registered name."""
    import yaml

    from wildtag.errors import CommandLineError

    path = Path(model)
    if path.suffix.lower() == ".onnx":
        if sample_rate is None or window_s is None:
            raise CommandLineError(f"{model}: an ONNX embedding model needs --sample-rate and --window-s")
        spec: dict[str, Any] = {"name": "onnx_embedding", "path": str(path), "sample_rate": sample_rate,
                                "window_s": window_s}
        if output_name:
            spec["output_name"] = output_name
    elif path.is_dir() or path.suffix == ".ckpt":
        spec = {"name": "wildtag_embedding", "run": str(path)}
    else:
        spec = {"name": model}
        if sample_rate is not None:
            spec["sample_rate"] = sample_rate
    if accept_license:
        spec["accept_license"] = accept_license
    for item in settings:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise CommandLineError(f"--set {item!r}: expected key=value, e.g. --set batch_size=16")
        spec[key.strip()] = yaml.safe_load(raw)
    return spec


def register(app: typer.Typer) -> None:
    """Add ``embed`` and ``search`` to the ``wildtag`` command."""

    @app.command()
    def embed(
        model: Annotated[str, typer.Argument(
            help="birdnet | onnx_embedding | a .onnx file | a wildtag run directory or checkpoint.")],
        paths: Annotated[list[Path], typer.Argument(help="Audio files and/or folders (searched recursively).")],
        out: Annotated[Path, typer.Option("--out", help="Embedding store folder (created, or resumed).")],
        hop_s: Annotated[float | None, typer.Option("--hop-s", help="Window hop; default: the model's window.")] = None,
        accept_license: Annotated[str | None, typer.Option(
            "--accept-license", help="Accept the model's licence, e.g. cc-by-nc-sa-4.0 for birdnet.")] = None,
        sample_rate: Annotated[int | None, typer.Option("--sample-rate", min=1, help="For a .onnx model.")] = None,
        window_s: Annotated[float | None, typer.Option("--window-s", help="For a .onnx model: its input span.")] = None,
        output_name: Annotated[str | None, typer.Option("--output-name", help="For a .onnx model.")] = None,
        set_: Annotated[list[str] | None, typer.Option(
            "--set", help="A model setting: --set batch_size=16", metavar="KEY=VALUE")] = None,
        workers: Annotated[int, typer.Option("--workers", min=0, help="Decoding processes.")] = 1,
        threads: Annotated[int | None, typer.Option(
            "--threads", min=1, help="Torch threads (default: every core; decode workers mostly wait).")] = None,
        overwrite: Annotated[bool, typer.Option(
            "--overwrite", help="Forget what --out holds (another model or hop) and embed everything.")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    ) -> None:
        """Embed every window of every recording into a store (sharded Parquet); rerun to resume.

        Resumes like predict (same journal in OUT/.wildtag): a rerun embeds only the recordings not
        committed yet, or changed since; errors.csv lists the files skipped, summary.json the run.

        \b
        Example: wildtag embed birdnet field/ --out emb/ --accept-license cc-by-nc-sa-4.0 --hop-s 1.5
        """
        from wildtag.cli import _fail, console
        from wildtag.errors import CommandLineError
        from wildtag.runtime import configure_scoring

        if hop_s is not None and not hop_s > 0:
            raise CommandLineError(f"--hop-s must be a positive number of seconds, got {hop_s}")
        spec = model_spec_from_argument(model, accept_license=accept_license, sample_rate=sample_rate,
                                        window_s=window_s, output_name=output_name, settings=set_ or [])
        configure_scoring(threads)  # before torch loads
        from wildtag.embeddings.embed import embed_paths

        summary = embed_paths(spec, paths, out, hop_s=hop_s, num_workers=workers, show_progress=not quiet,
                              overwrite=overwrite)
        from wildtag.embeddings.store import EmbeddingStore

        manifest = EmbeddingStore.open(out).manifest
        console.print(
            f"embedded {summary.n_recordings} recording(s) ({summary.n_already} already in the store), "
            f"{summary.n_windows} windows of {manifest.dim} dimensions, {summary.audio_s:.0f} s of audio at "
            f"{summary.times_real_time:.1f}x real time; {summary.n_errors} file(s) skipped "
            f"(see {summary.out_dir / 'errors.csv'})"
        )
        if manifest.licence:
            console.print(f"model licence: {manifest.licence} ({manifest.source})")
        console.print(f"embeddings: {summary.out_dir}")
        if summary.n_recordings + summary.n_already == 0:
            _fail(f"nothing could be embedded (see {summary.out_dir / 'errors.csv'})", code=1)

    @app.command()
    def search(
        store: Annotated[Path, typer.Argument(help="Embedding store made by `wildtag embed`.")],
        query: Annotated[Path, typer.Argument(help="Audio file holding the example.")],
        t0: Annotated[float | None, typer.Option("--t0", help="Example starts here (s).")] = None,
        t1: Annotated[float | None, typer.Option("--t1", help="Example ends here (s).")] = None,
        k: Annotated[int, typer.Option("-k", "--top", min=1, help="How many windows.")] = 50,
        out: Annotated[Path, typer.Option("--out", help="Writes OUT.csv and OUT.selections.txt (Raven).")] = Path("hits"),
    ) -> None:
        """The k stored windows most like the example (cosine), as a table and a Raven selection table.

        \b
        Example: wildtag search emb/ call.wav --t0 1.2 --t1 2.0 -k 50 --out hits
        """
        from rich.console import Console
        from rich.table import Table

        from wildtag.cli import console
        from wildtag.embeddings.search import embed_query, write_raven_hits
        from wildtag.embeddings.search import search as find
        from wildtag.embeddings.store import EmbeddingStore
        from wildtag.fileio import write_csv_atomic

        if not query.is_file():
            raise FileNotFoundError(f"no such query file: {query}")
        opened = EmbeddingStore.open(store)
        hits = find(opened, embed_query(opened, query, t0, t1), k=k)
        table = Table(title=f"{len(hits)} windows most like {query.name}")
        for column in ("rank", "recording", "t0_s", "t1_s", "similarity"):
            table.add_column(column, justify="left" if column == "recording" else "right")
        for row in hits.itertuples(index=False):
            table.add_row(str(row.rank), row.recording, f"{row.t0_s:.2f}", f"{row.t1_s:.2f}", f"{row.similarity:.4f}")
        Console().print(table)
        csv_path = write_csv_atomic(hits, out.with_name(out.name + ".csv"))
        raven_path = write_raven_hits(hits, out.with_name(out.name + ".selections.txt"))
        console.print(f"hits: {csv_path} and {raven_path} (Raven)")
