"""The ``wildtag`` command: a thin typed layer over the library (typer).

    wildtag train recipes/insectset32.yaml --set trainer.epochs=20
    wildtag predict runs/insectset32 recordings/ --out predictions/
    wildtag evaluate predictions/recordings.csv labels.csv
    wildtag demo
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train and run sound taggers for wildlife and environmental audio.")
console = Console(stderr=True)
_state = {"debug": False}


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks.")] = False) -> None:
    _state["debug"] = debug
    logging.basicConfig(level=logging.INFO if debug else logging.WARNING, format="%(levelname)s %(message)s")
    if not debug:  # Lightning's banners (accelerator, tips) and known-harmless warnings only with --debug
        import warnings

        for name in ("lightning.pytorch", "lightning.pytorch.utilities.rank_zero", "lightning.fabric",
                     "lightning.fabric.utilities.rank_zero"):
            logging.getLogger(name).setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
        warnings.filterwarnings("ignore", message=".*exists and is not empty.*")


@app.command()
def train(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML (see recipes/).")],
    out: Annotated[Path | None, typer.Option("--out", help="Run directory (default runs/<name>).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a key: --set trainer.epochs=5")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the interrupted run in --out.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Train a tagger (all folds) and write a run directory.

    Example: wildtag train recipes/insectset32.yaml --out runs/insects --set trainer.epochs=30
    """
    from wildtag.config import load_config
    from wildtag.training.fit import fit

    cfg = None if resume else load_config(recipe, set_ or [])
    if resume and out is None:
        raise typer.BadParameter("--resume needs --out RUN_DIR")
    run_dir = fit(cfg, out, resume=resume, show_progress=not quiet, argv=sys.argv)  # type: ignore[arg-type]
    _print_summary(run_dir)


def _print_summary(run_dir: Path) -> None:
    import json

    summary = json.loads((run_dir / "metrics.json").read_text())
    overall = summary["overall"]
    table = Table(title=f"out-of-fold metrics ({run_dir})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("accuracy", "lwlrap", "map_macro", "roc_auc_macro", "f1_macro", "n_samples"):
        if overall.get(key) is not None:
            value = overall[key]
            table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    Console().print(table)
    console.print(f"run directory: {run_dir}")


@app.command()
def predict(
    run: Annotated[Path, typer.Argument(help="Run directory (all folds averaged) or one checkpoint.")],
    paths: Annotated[list[Path], typer.Argument(help="Audio files and/or folders (searched recursively).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("predictions"),
    hop_s: Annotated[float | None, typer.Option("--hop-s", help="Window hop; default from the model.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
    aggregate: Annotated[str | None, typer.Option("--aggregate", help="max | mean | topk_mean")] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="k for topk_mean")] = 3,
    workers: Annotated[int, typer.Option("--workers", help="Decoding processes.")] = 1,
    device: Annotated[str | None, typer.Option("--device", help="cpu, cuda, cuda:1 (default: best)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet")] = False,
) -> None:
    """Score recordings window by window; write windows.parquet, recordings.csv and errors.csv.

    Example: wildtag predict runs/insects field_recordings/ --out preds --hop-s 2.5
    """
    from wildtag.inference.predict import predict as run_predict
    from wildtag.runtime import configure_threads

    configure_threads(workers)
    summary = run_predict(run, paths, out, hop_s=hop_s, batch_size=batch_size, aggregate=aggregate, top_k=top_k,
                          num_workers=workers, device=device, show_progress=not quiet)
    console.print(
        f"scored {summary.n_recordings} recording(s), {summary.n_windows} windows, "
        f"{summary.audio_s:.0f} s of audio at {summary.times_real_time:.0f}x real time; "
        f"{summary.n_errors} file(s) skipped (see {summary.out_dir / 'errors.csv'})"
    )
    console.print(f"predictions: {summary.out_dir}")


@app.command()
def evaluate(
    predictions: Annotated[Path, typer.Argument(help="recordings.csv or windows.parquet from predict.")],
    labels: Annotated[Path, typer.Argument(help="Clip-label CSV, Raven table(s) folder, RFCx CSV, events table.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write metrics JSON here.")] = None,
    threshold: Annotated[float, typer.Option("--threshold", help="For F1, precision, recall.")] = 0.5,
) -> None:
    """Metrics of predictions against labels: LWLRAP, LRAP, mAP, ROC-AUC, F1, accuracy, per class.

    Example: wildtag evaluate preds/recordings.csv labels.csv --out metrics.json
    """
    from wildtag.evaluation import evaluate_files

    result = evaluate_files(predictions, labels, threshold=threshold)
    print_metrics(result.metrics)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(result.to_json() + "\n")
        console.print(f"metrics written to {out}")


def print_metrics(metrics: dict) -> None:
    table = Table(title="metrics")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if isinstance(value, float):
            table.add_row(key, f"{value:.4f}")
        elif isinstance(value, int):
            table.add_row(key, str(value))
    Console().print(table)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Where the demo writes its run and predictions.")] = Path(
        "wildtag-demo"),
    epochs: Annotated[int | None, typer.Option("--epochs", help="Override the demo's epochs.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet")] = False,
) -> None:
    """Train on bundled insect recordings, predict on held-out ones, evaluate. Offline, a few CPU minutes."""
    from wildtag.demo import run_demo

    result = run_demo(out, epochs=epochs, show_progress=not quiet)
    print_metrics(result.metrics)
    console.print(f"run directory: {result.run_dir}")
    console.print(f"predictions:   {result.predictions_dir}")


@app.command("list")
def list_parts(
    kind: Annotated[str, typer.Argument(help="frontend | backbone | head | loss | sampler | aggregator | "
                                             "waveform_augment | spectrogram_augment | mixer")],
    pattern: Annotated[str, typer.Argument(help="Shell pattern, e.g. 'efficientnet*'")] = "*",
) -> None:
    """List registered parts by kind (backbones also list timm's models)."""
    from wildtag.parts import list_parts as list_registered

    for name in list_registered(kind, pattern):
        typer.echo(name)


def main() -> None:
    """Entry point: map known errors to one line (tracebacks with --debug)."""
    from wildtag.errors import USER_ERRORS

    try:
        app()
    except USER_ERRORS as error:
        if _state["debug"]:
            raise
        console.print(f"[red]error:[/red] {error}")
        sys.exit(2)


if __name__ == "__main__":
    main()
