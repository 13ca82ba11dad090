"""Post-training commands: ``thresholds`` (on OOF tables) and ``ensemble`` (of prediction folders)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the post-training commands to ``app``."""

    @app.command("thresholds")
    def thresholds_command(
        oof: Path = typer.Argument(..., help="an oof.parquet (class columns and target:<class> columns)"),
        out: Path = typer.Option(..., "--out", help="folder for thresholds.csv and thresholds.png"),
        metric: str = typer.Option("f1", "--metric", help="f1 | row_f1 (row-wise F1 with nocall)"),
        per_class: bool = typer.Option(False, "--per-class", help="also one threshold per class"),
    ) -> None:
        """Thresholds maximising METRIC on out-of-fold scores, written as a class,threshold CSV ('*' = global)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import pandas as pd

        from wildtag.errors import CommandLineError
        from wildtag.fileio import write_csv_atomic
        from wildtag.postprocess.thresholds import METRICS, search_threshold, threshold_table

        if not oof.is_file():
            raise FileNotFoundError(f"{oof}: no such file")
        if metric not in METRICS:
            raise CommandLineError(f"--metric must be one of {sorted(METRICS)}, got {metric!r}")
        table = pd.read_parquet(oof)
        classes = [c[len("target:"):] for c in table.columns if c.startswith("target:")]
        if not classes or any(c not in table.columns for c in classes):
            raise CommandLineError(f"{oof}: needs class columns and matching target:<class> columns")
        y_true = table[[f"target:{c}" for c in classes]].to_numpy() > 0.5
        y_score = table[classes].to_numpy()
        out.mkdir(parents=True, exist_ok=True)
        write_csv_atomic(threshold_table(y_true, y_score, classes, per_class=per_class, metric=metric), out / "thresholds.csv")
        best, grid, values = search_threshold(y_true, y_score, metric)
        figure, axis = plt.subplots(figsize=(5, 3.5))
        axis.plot(grid, values)
        axis.axvline(best, linestyle="--")
        axis.set(xlabel="threshold", ylabel=metric, title=f"best {best:.3f}: {values.max():.3f}")
        figure.tight_layout()
        figure.savefig(out / "thresholds.png", dpi=100)
        plt.close(figure)
        typer.echo(f"global threshold {best:.4f} ({metric} {values.max():.4f}) -> {out / 'thresholds.csv'}")
