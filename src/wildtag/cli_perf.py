"""``wildtag export``: a trained run as one ONNX graph for onnxruntime (``wildtag predict --backend onnx``).

    wildtag export runs/demo --format onnx --out exports/demo

Torch and onnx are imported inside the command, so ``wildtag --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

FORMATS = ("onnx",)


def register(app: typer.Typer) -> None:
    """Add ``export`` to the wildtag CLI."""

    @app.command()
    def export(
        run: Annotated[Path, typer.Argument(help="Run directory (all folds) or one checkpoint.")],
        out: Annotated[Path, typer.Option("--out", help="Folder for model.onnx, preprocessing.json, model.json.")],
        format: Annotated[str, typer.Option("--format", help="Export format (onnx).")] = "onnx",
        folds: Annotated[list[int] | None, typer.Option("--fold", help="Export only these folds.")] = None,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing export.")] = False,
    ) -> None:
        """Export a run's fold-averaged models, frontend included, to ONNX."""
        from wildtag.errors import CommandLineError

        if format not in FORMATS:
            raise CommandLineError(f"--format {format!r}: choose one of {', '.join(FORMATS)}")
        from wildtag.export import export_onnx

        written = export_onnx(run, out, folds=folds, overwrite=overwrite)
        typer.echo(f"wrote {written / 'model.onnx'}; score it with: wildtag predict {written} ... --backend onnx")
