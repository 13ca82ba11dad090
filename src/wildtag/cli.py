"""The ``wildtag`` command: a thin typed layer over the library (typer).

    wildtag recipes                                   # the packaged recipes
    wildtag train insectset32 --set data.labels=insects/labels.csv --set trainer.epochs=20
    wildtag train --resume runs/insectset32           # continue an interrupted run
    wildtag predict runs/insectset32 recordings/ --out predictions/
    wildtag evaluate predictions/recordings.csv labels.csv
    wildtag demo

Only typer and rich are imported at start: torch, lightning and timm load inside the commands, so
``wildtag --help`` and argument errors are instant. Errors that are the user's (``wildtag.errors.USER_ERRORS``)
are one unwrapped line on stderr; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

# rich_markup_mode=None: usage errors print as plain lines, not in a box that wraps a long path.
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, help="Train and run sound taggers for wildlife and environmental audio.")
console = Console(stderr=True, soft_wrap=True)  # soft_wrap: a long path stays on one line in a log
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
    recipe: Annotated[str | None, typer.Argument(
        help="A packaged recipe's name (see `wildtag recipes`) or a recipe YAML file; not with --resume.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Run directory (default runs/<name>).")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a key: --set trainer.epochs=5", metavar="KEY=VALUE")] = None,
    resume: Annotated[Path | None, typer.Option(
        "--resume", help="Continue the interrupted run in RUN_DIR (its config.yaml is the recipe).",
        metavar="RUN_DIR")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing, non-empty --out.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Train a tagger (all folds) and write a run directory.

    \b
    Example: wildtag train insectset32 --out runs/insects --set data.labels=insects/labels.csv
    """
    from wildtag.errors import CommandLineError

    if resume is not None:
        if recipe is not None:
            raise CommandLineError(f"--resume {resume} reads its recipe from {resume / 'config.yaml'}; "
                                   f"drop the recipe argument {recipe!r}")
        if out is not None and out.resolve() != resume.resolve():
            raise CommandLineError(f"--resume {resume} continues that run in place; drop --out {out}")
        if overwrite:
            raise CommandLineError("--overwrite cannot be combined with --resume")
    elif recipe is None:
        raise CommandLineError("train needs a recipe (a name from `wildtag recipes`, or a YAML file) "
                               "or --resume RUN_DIR")
    from wildtag.config import load_config  # here, not at the top: it pulls in pydantic and the registries
    from wildtag.training.fit import fit

    extra = _fit_options(fit, overrides=set_ if resume is not None else None, overwrite=overwrite)
    if resume is not None:
        run_dir = fit(None, resume, resume=True, show_progress=not quiet, argv=sys.argv, **extra)  # type: ignore[arg-type]
    else:
        cfg = load_config(recipe, set_ or [])  # type: ignore[arg-type]
        run_dir = fit(cfg, out, show_progress=not quiet, argv=sys.argv, **extra)
    _print_summary(run_dir)


def _fit_options(fit: Any, **wanted: Any) -> dict[str, Any]:
    """The options given that ``fit`` accepts; one it lacks but that was asked for is an error."""
    import inspect

    from wildtag.errors import CommandLineError

    accepted = inspect.signature(fit).parameters
    options = {}
    for name, value in wanted.items():
        if not value:
            continue
        if name not in accepted:
            flag = {"overrides": "--set with --resume", "overwrite": "--overwrite"}[name]
            raise CommandLineError(f"{flag} is not supported by this version of wildtag's training")
        options[name] = value
    return options


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
def evaluate(
    predictions: Annotated[Path, typer.Argument(help="recordings.csv or windows.parquet from predict.")],
    labels: Annotated[Path, typer.Argument(help="Clip-label CSV, Raven table(s) folder, RFCx CSV, events table.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write metrics JSON here.")] = None,
    threshold: Annotated[float, typer.Option("--threshold", min=0.0, max=1.0, help="For F1, precision, recall.")] = 0.5,
    iou: Annotated[float, typer.Option("--iou", min=0.01, max=1.0, help="Detections: overlap (IoU) that counts "
                                                                           "as found.")] = 0.5,
    plots: Annotated[Path | None, typer.Option("--plots", help="Write PNG plots (PR curves, score histograms, "
                                                                "confusion matrix) into this folder.")] = None,
) -> None:
    """Metrics of predictions against labels: LWLRAP, LRAP, mAP, ROC-AUC, F1, accuracy, per class.

    detections.csv (predict --detect) against boxes: event-level precision, recall, F1 and AP per class.

    \b
    Example: wildtag evaluate preds/recordings.csv labels.csv --out metrics.json
    """
    from wildtag.evaluation import evaluate_files

    result = evaluate_files(predictions, labels, threshold=threshold, iou=iou)
    print_metrics(result.metrics)
    if plots is not None:
        from wildtag.evaluation_events import write_plots

        written = write_plots(result, plots)
        console.print(f"plots: {', '.join(str(p) for p in written) or 'none (nothing to draw)'}")
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


recipes_app = typer.Typer(help="The recipes that ship with wildtag: list, show, copy.", rich_markup_mode=None)
app.add_typer(recipes_app, name="recipes")


@recipes_app.callback(invoke_without_command=True)
def recipes(ctx: typer.Context) -> None:
    """List the packaged recipes with a one-line description (show NAME prints one, copy NAME DEST copies it)."""
    if ctx.invoked_subcommand is not None:
        return
    from wildtag.recipebook import list_recipes

    found = list_recipes()
    width = max(len(r.name) for r in found)
    for r in found:
        typer.echo(f"{r.name:<{width}}  {r.description}")


@recipes_app.command("show")
def recipes_show(name: Annotated[str, typer.Argument(help="Recipe name, e.g. birdclef21.")]) -> None:
    """Print a packaged recipe."""
    from wildtag.recipebook import recipe_path

    typer.echo(recipe_path(name).read_text(encoding="utf-8"), nl=False)


@recipes_app.command("copy")
def recipes_copy(
    name: Annotated[str, typer.Argument(help="Recipe name, e.g. birdclef21.")],
    dest: Annotated[Path, typer.Argument(help="File to write, or a folder to write NAME.yaml into.")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace DEST if it exists.")] = False,
) -> None:
    """Write an editable copy of a packaged recipe; train it with `wildtag train DEST`."""
    from wildtag.recipebook import copy_recipe

    written = copy_recipe(name, dest, overwrite=overwrite)
    console.print(f"wrote {written}; train it with: wildtag train {written}")


@app.command("list")
def list_parts(
    kind: Annotated[str, typer.Argument(help="frontend | backbone | head | loss | sampler | aggregator | "
                                             "waveform_augment | spectrogram_augment | mixer | fold_strategy")],
    pattern: Annotated[str, typer.Argument(help="Shell pattern, e.g. 'efficientnet*'")] = "*",
) -> None:
    """List registered parts by kind (backbones also list timm's models)."""
    from wildtag.parts import list_parts as list_registered

    for name in list_registered(kind, pattern):
        typer.echo(name)


from wildtag.cli_embeddings import register as _register_embeddings  # noqa: E402

_register_embeddings(app)

from wildtag.cli_perf import register as _register_perf  # noqa: E402

_register_perf(app)

from wildtag.cli_postprocess import register as _register_postprocess  # noqa: E402

_register_postprocess(app)

from wildtag.cli_archive import register as _register_archive  # noqa: E402

_register_archive(app)

from wildtag.cli_pipeline import register as _register_pipeline  # noqa: E402

_register_pipeline(app)


def _fail(message: str, code: int = 2) -> None:
    """One line on stderr, never wrapped or styled (a path in it must survive in a log), then exit."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def main() -> None:
    """Entry point: the user's errors are one line (exit 2); anything else is a bug, with its traceback."""
    try:
        app()
    except Exception as error:
        from wildtag.errors import USER_ERRORS, report_bug  # here: importing it at start would slow --help

        if not isinstance(error, USER_ERRORS):
            report_bug()
            raise
        if _state["debug"]:
            raise
        _fail(str(error))


if __name__ == "__main__":
    main()
