"""``wildtag run PIPELINE``: a seed system end to end, one wildtag command per stage, resumable.

    wildtag run --list                                          # the packaged pipelines
    wildtag run birdclef21 --out work/bc21 --set labels=train.csv --set audio_root=audio --dry-run
    wildtag run birdclef21 --out work/bc21 --set labels=train.csv --set audio_root=audio
    wildtag run my_pipeline.yaml --set 'train_set+=trainer.batch_size=16' --force thresholds

Rerun the same command after a crash or an edit: finished stages whose inputs did not change are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``run`` to the wildtag CLI."""

    @app.command("run")
    def run_command(
        pipeline: Annotated[str | None, typer.Argument(
            help="A packaged pipeline's name (see --list) or a pipeline YAML file.")] = None,
        out: Annotated[Path | None, typer.Option(
            "--out", help="Folder for every stage's output (default runs/<pipeline name>).")] = None,
        set_: Annotated[list[str] | None, typer.Option(
            "--set", metavar="KEY=VALUE", help="Set a pipeline parameter (KEY+=TEXT appends to a list one).")] = None,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="Print the stages, their commands and whether each would run; touch nothing.")] = False,
        force: Annotated[list[str] | None, typer.Option(
            "--force", metavar="STAGE", help="Rerun this stage (and so what depends on it) even if up to date.")] = None,
        list_: Annotated[bool, typer.Option("--list", help="List the packaged pipelines.")] = False,
        show: Annotated[bool, typer.Option("--show", help="Print the pipeline file.")] = False,
    ) -> None:
        """Run a pipeline: train, predict, pseudo-label, ensemble, thresholds... each stage skipped when done.

        \b
        Example: wildtag run birdclef21 --out work/bc21 --set labels=train.csv --set audio_root=audio/
        """
        from wildtag.errors import CommandLineError
        from wildtag.pipeline import find_pipeline, list_pipelines, load_pipeline
        from wildtag.pipeline_run import plan, run_pipeline

        if list_:
            found = list_pipelines()
            width = max(len(name) for name, _ in found)
            for name, description in found:
                typer.echo(f"{name:<{width}}  {description}")
            return
        if pipeline is None:
            raise CommandLineError("run needs a pipeline (a name from `wildtag run --list`, or a YAML file)")
        if show:
            typer.echo(find_pipeline(pipeline).read_text(encoding="utf-8"), nl=False)
            return
        pipe = load_pipeline(pipeline, set_ or [])
        folder = out if out is not None else Path("runs") / pipe.name
        if dry_run:
            steps = plan(pipe, folder, force or [])
            typer.echo(f"pipeline {pipe.name} ({pipe.path}) in {folder}: {len(steps)} stages")
            for index, step in enumerate(steps, 1):
                typer.echo(f"[{index}/{len(steps)}] {step.action:<7} {step.stage.name}  ({step.reason})")
                typer.echo(f"      wildtag {' '.join(step.stage.argv)}")
            return
        from wildtag.cli import _state

        steps = run_pipeline(pipe, folder, force=force or [], debug=_state["debug"], echo=typer.echo)
        ran = sum(step.action != "skip" for step in steps)
        typer.echo(f"pipeline {pipe.name}: {ran} stage(s) run, {len(steps) - ran} up to date -> {folder}")
