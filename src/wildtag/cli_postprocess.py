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

    @app.command("ensemble")
    def ensemble_command(
        inputs: list[Path] = typer.Argument(..., help="prediction folders (windows.parquet and/or recordings.csv)"),
        out: Path = typer.Option(..., "--out", help="folder for the combined tables"),
        method: str = typer.Option("mean", "--method", help="mean | rank | weighted"),
        weights: str = typer.Option("", "--weights", help="comma-separated weights for --method weighted"),
    ) -> None:
        """Combine prediction folders row by row (joined on recording and window times)."""
        import json

        import pandas as pd

        from wildtag.errors import CommandLineError
        from wildtag.fileio import write_csv_atomic, write_parquet_atomic, write_text_atomic
        from wildtag.postprocess.ensemble import METHODS, combine

        if method not in METHODS:
            raise CommandLineError(f"--method must be one of {list(METHODS)}, got {method!r}")
        given = [float(w) for w in weights.split(",") if w.strip()] if weights else None
        if method == "weighted" and (given is None or len(given) != len(inputs)):
            raise CommandLineError(f"--method weighted needs --weights with {len(inputs)} numbers")
        for folder in inputs:
            if not folder.is_dir():
                raise FileNotFoundError(f"{folder}: no such prediction folder")
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, keys, read in (
            ("windows.parquet", ["recording", "t0_s", "t1_s"], pd.read_parquet),
            ("recordings.csv", ["recording"], pd.read_csv),
        ):
            if not all((folder / name).is_file() for folder in inputs):
                continue
            # predict --datetime adds absolute times to windows: not a score to combine
            tables = [read(folder / name).drop(columns=["datetime"], errors="ignore") for folder in inputs]
            classes = [c for c in tables[0].columns if c not in keys]
            combined = combine(tables, keys, classes, method, given)
            if name.endswith(".parquet"):
                write_parquet_atomic(combined, out / name)
            else:
                write_csv_atomic(combined, out / name)
            written.append(name)
        if not written:
            raise FileNotFoundError("no table (windows.parquet, recordings.csv) is present in every input folder")
        record = {"method": method, "inputs": [str(p) for p in inputs], "weights": given}
        write_text_atomic(out / "ensemble.json", json.dumps(record, indent=2))
        typer.echo(f"{method} ensemble of {len(inputs)} -> {out} ({', '.join(written)})")
