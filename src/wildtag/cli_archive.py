"""``wildtag predict``: resumable archive scoring, detections and the tables Raven / Audacity / Kaleidoscope open;
``wildtag report``: a run's training curves, per-class table and model card as one HTML page.

    wildtag predict runs/birds survey/ --out preds                       # windows, recordings, errors
    wildtag predict runs/birds survey/ --out preds --detect --threshold 0.6 --format raven --format csv
    wildtag predict runs/birds site_a/ site_b/ --out preds --threshold thresholds.csv --timezone UTC

Rerun the same command after a crash: only what is not done is scored. Torch and pandas are imported
inside the command, so ``wildtag --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def _threshold(value: str | None) -> float | Path | None:
    """``--threshold``: a number, or the path of a ``class,threshold`` file."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return Path(value)


ENGINES = ("local", "ray")


def _engine(name: str, address: str | None) -> object | None:
    """``--engine``: None for the local engine, else a :class:`~wildtag.inference.ray_engine.RayEngine`."""
    if name == "local":
        return None
    from wildtag.inference.ray_engine import RayEngine

    return RayEngine(address)


def register(app: typer.Typer) -> None:
    """Add ``predict`` and ``report`` to the wildtag CLI."""

    @app.command()
    def report(
        run_dir: Annotated[Path, typer.Argument(help="A run directory written by `wildtag train`.")],
        out: Annotated[Path | None, typer.Option("--out", help="HTML file (default RUN_DIR/report.html).")] = None,
    ) -> None:
        """One HTML page of a run: out-of-fold metrics, each fold's training curves, per-class table, model card."""
        from wildtag.report import write_report

        typer.echo(f"wrote {write_report(run_dir, out)}")

    @app.command()
    def predict(
        run: Annotated[Path, typer.Argument(help="Run directory (all folds averaged), one checkpoint, or an "
                                                 "export folder with --backend onnx.")],
        paths: Annotated[list[Path], typer.Argument(help="Audio files and/or folders (searched recursively).")],
        out: Annotated[Path, typer.Option("--out", help="Output folder (rerun the same command to resume).")] = Path(
            "predictions"),
        hop_s: Annotated[float | None, typer.Option("--hop-s", help="Window hop; default from the model.")] = None,
        batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Windows per model call.")] = 64,
        aggregate: Annotated[str | None, typer.Option("--aggregate", help="max | mean | topk_mean")] = None,
        top_k: Annotated[int | None, typer.Option("--top-k", min=1,
                                                  help="k for --aggregate topk_mean (default 3)")] = None,
        workers: Annotated[int, typer.Option("--workers", min=0, help="Decoding processes.")] = 1,
        threads: Annotated[int | None, typer.Option(
            "--threads", min=1, help="Torch threads (default: every core; decode workers mostly wait).")] = None,
        device: Annotated[str | None, typer.Option("--device", help="cpu, cuda, cuda:1 (default: best)")] = None,
        precision: Annotated[str | None, typer.Option("--precision",
                                                      help="fp32 | bf16 (default: bf16 on CUDA)")] = None,
        backend: Annotated[str, typer.Option("--backend", help="torch | onnx (RUN from `wildtag export`)")] = "torch",
        fold: Annotated[list[int] | None, typer.Option("--fold", help="Only this fold's model (repeatable).")] = None,
        detect: Annotated[bool, typer.Option("--detect", help="Turn window scores into events (detections).")] = False,
        threshold: Annotated[str | None, typer.Option(
            "--threshold", help="Detection threshold: a number, or a class,threshold CSV ('*' row = default) "
                                "or JSON file; implies --detect.")] = None,
        max_gap_s: Annotated[float | None, typer.Option(
            "--max-gap-s", min=0.0, help="Merge windows of a class at most this far apart (default 0).")] = None,
        min_duration_s: Annotated[float | None, typer.Option(
            "--min-duration-s", min=0.0, help="Drop events shorter than this.")] = None,
        nms: Annotated[bool, typer.Option("--nms", help="Events by non-maximum suppression of windows, not "
                                                        "merging.")] = False,
        nms_iou: Annotated[float | None, typer.Option("--nms-iou", min=0.0, max=0.99,
                                                      help="With --nms: overlap (IoU) allowed (default 0).")] = None,
        format_: Annotated[list[str] | None, typer.Option(
            "--format", help="Detection outputs, repeatable: raven | audacity | kaleidoscope | csv | parquet "
                             "(default csv); implies --detect.")] = None,
        windows_top_k: Annotated[int | None, typer.Option(
            "--windows-top-k", min=1, help="windows.parquet in long form: each window's K best classes.")] = None,
        windows_min_score: Annotated[float | None, typer.Option(
            "--windows-min-score", min=0.0, max=1.0, help="windows.parquet in long form: scores >= X only.")] = None,
        metadata: Annotated[Path | None, typer.Option(
            "--metadata", help="CSV of recording and start_datetime (ISO 8601): absolute times.")] = None,
        timezone: Annotated[str | None, typer.Option(
            "--timezone", help="Zone of start times without an offset (e.g. UTC, Europe/Berlin).")] = None,
        with_datetime: Annotated[bool, typer.Option(
            "--datetime", help="Add absolute times to windows.parquet (implied by --metadata, --timezone).")] = False,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Start over in an existing --out.")] = False,
        fail_on_error: Annotated[bool, typer.Option(
            "--fail-on-error", help="Stop at the first file that cannot be read (exit 2).")] = False,
        engine: Annotated[str, typer.Option(
            "--engine", help="local (this machine) | ray (Ray tasks on a cluster; pip install 'wildtag[ray]')")
        ] = "local",
        address: Annotated[str | None, typer.Option(
            "--address", help="With --engine ray: the cluster (auto, ray://head:10001; default: running or "
                              "a new local one).")] = None,
        quiet: Annotated[bool, typer.Option("--quiet")] = False,
    ) -> None:
        """Score recordings window by window, resumably; write windows, recordings, detections, summary.

        \b
        Example: wildtag predict runs/insects field_recordings/ --out preds --detect --format raven
        """
        from wildtag.errors import CommandLineError

        if hop_s is not None and not hop_s > 0:
            raise CommandLineError(f"--hop-s must be a positive number of seconds, got {hop_s}")
        if top_k is not None and aggregate != "topk_mean":
            raise CommandLineError(f"--top-k {top_k} only applies to --aggregate topk_mean "
                                   f"(got --aggregate {aggregate or 'the model default'})")
        if nms_iou is not None and not nms:
            raise CommandLineError(f"--nms-iou {nms_iou} only applies with --nms")
        if max_gap_s is not None and nms:
            raise CommandLineError("--max-gap-s merges windows; --nms keeps windows apart: choose one")
        if engine not in ENGINES:
            from wildtag.suggest import did_you_mean

            raise CommandLineError(f"unknown --engine {engine!r}{did_you_mean(engine, ENGINES)}; "
                                   f"choose one of {', '.join(ENGINES)}")
        if address is not None and engine != "ray":
            raise CommandLineError(f"--address {address} only applies with --engine ray")
        missing = [str(p) for p in [run, *paths] if not p.exists()]
        if missing:
            raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
        from wildtag.runtime import configure_scoring

        configure_scoring(threads)  # before torch loads
        from wildtag.inference.predict import predict as run_predict

        options = {k: v for k, v in {"max_gap_s": max_gap_s, "min_duration_s": min_duration_s,
                                     "method": "nms" if nms else None, "nms_iou": nms_iou}.items() if v is not None}
        summary = run_predict(
            run, paths, out, hop_s=hop_s, batch_size=batch_size, aggregate=aggregate,
            top_k=3 if top_k is None else top_k, num_workers=workers, device=device, precision=precision,
            backend=backend, folds=fold, detect=True if detect else None, threshold=_threshold(threshold),
            detection_options=options or None, formats=format_ or (), windows_top_k=windows_top_k,
            windows_min_score=windows_min_score, metadata=metadata, timezone=timezone, datetime=with_datetime,
            overwrite=overwrite, fail_on_error=fail_on_error, show_progress=not quiet,
            engine=_engine(engine, address),
        )
        sys.stderr.write(summary.line() + "\n")
        if summary.n_errors:
            sys.stderr.write(f"{summary.n_errors} file(s) or path(s) could not be used: see "
                             f"{summary.out_dir / 'errors.csv'}\n")
        if summary.n_recordings == 0:
            sys.stderr.write(f"error: nothing could be scored: no readable audio file under "
                             f"{', '.join(map(str, paths))} (see {summary.out_dir / 'errors.csv'})\n")
            raise SystemExit(1)
