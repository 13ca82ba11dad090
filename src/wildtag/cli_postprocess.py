"""Post-training commands: ``thresholds`` (on OOF tables), ``ensemble`` (of prediction folders) and
``pseudo-label`` (new label tables from predictions), ``predict-oof`` (each training recording scored by
the fold model that did not see it).

    wildtag predict-oof runs/insects --out preds/oof            # windows.parquet, recordings.csv, errors.csv
    wildtag train-metadata labels.csv --features latitude,longitude,day_of_year --folds-from runs/cnn \
        --blend-with preds/cnn-oof --fit-blend --out runs/meta
    wildtag predict-metadata runs/meta survey.csv --blend-with preds/survey --out preds/survey-prior

    wildtag pseudo-label preds/noisy --strategy agreement-topk --labels noisy.csv --k 1000 --base curated.csv \
        --out labels/round1.csv --round 1
    wildtag pseudo-label preds/noisy --strategy relabel-all --floor 0.5 --base curated.csv --out labels/all.csv
    wildtag pseudo-label preds/oof --strategy oof-tp-mining --labels train_tp.csv --fp-labels train_fp.csv \
        --threshold 0.9 --cap 200 --fp-below 0.01 --out labels/mined.csv
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def register(app: typer.Typer) -> None:
    """Add the post-training commands to ``app``."""

    @app.command("thresholds")
    def thresholds_command(
        source: Path = typer.Argument(..., help="a run directory (all folds' oof.parquet), one oof.parquet, or "
                                                "predictions (a predict folder or its file) with LABELS"),
        labels: Path | None = typer.Argument(None, help="truth for predictions (clip labels or boxes), e.g. "
                                                        "labelled validation soundscapes"),
        out: Path = typer.Option(..., "--out", help="folder for thresholds.csv and thresholds.png"),
        metric: str = typer.Option("f1", "--metric", help="f1 | row_f1 (row-wise F1 with nocall)"),
        per_class: bool = typer.Option(False, "--per-class", help="also one threshold per class"),
        label_format: str = typer.Option("auto", "--format", help="format of LABELS"),
    ) -> None:
        """Thresholds maximising METRIC on out-of-fold or validation scores, written as a class,threshold CSV
        ('*' = global) that predict's --threshold reads, with the metric-vs-threshold plot."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from wildtag.errors import CommandLineError
        from wildtag.fileio import write_csv_atomic
        from wildtag.postprocess.thresholds import METRICS, search_threshold, threshold_table

        if metric not in METRICS:
            raise CommandLineError(f"--metric must be one of {sorted(METRICS)}, got {metric!r}")
        if labels is not None:
            y_true, y_score, classes = _scored_against_labels(source, labels, label_format)
        else:
            y_true, y_score, classes = _out_of_fold(source)
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
        weights: str = typer.Option("", "--weights", help="comma-separated weights for --method weighted (or "
                                                           "rank: a weighted average of ranks)"),
        fit_on: list[Path] | None = typer.Option(
            None, "--fit-weights", help="fit the weights on out-of-fold scores: one run directory or oof.parquet "
                                        "per input, in the same order (implies --method weighted); repeatable"),
        metric: str = typer.Option("lwlrap", "--metric", help="with --fit-weights: lwlrap | map | roc_auc"),
    ) -> None:
        """Combine prediction folders row by row (joined on recording and window times)."""
        import json

        import pandas as pd

        from wildtag.errors import CommandLineError
        from wildtag.fileio import write_csv_atomic, write_parquet_atomic, write_text_atomic
        from wildtag.postprocess.ensemble import METHODS, combine, fit_weights_on_oof, read_oof

        if method not in METHODS:
            raise CommandLineError(f"--method must be one of {list(METHODS)}, got {method!r}")
        try:
            given = [float(w) for w in weights.split(",") if w.strip()] if weights else None
        except ValueError:
            raise CommandLineError(f"--weights {weights!r}: comma-separated numbers, e.g. 0.97,0.03") from None
        fitted = None
        if fit_on:
            if given is not None:
                raise CommandLineError("--weights and --fit-weights: give the weights or fit them, not both")
            if method not in ("mean", "weighted"):
                raise CommandLineError(f"--fit-weights fits a weighted average; it cannot be --method {method}")
            if len(fit_on) != len(inputs):
                raise CommandLineError(f"--fit-weights needs one out-of-fold source per input ({len(inputs)}), "
                                       f"got {len(fit_on)}")
            fitted = fit_weights_on_oof([read_oof(p) for p in fit_on], metric, names=[str(p) for p in fit_on])
            method, given = "weighted", fitted["weights"]
            typer.echo(f"fitted weights {', '.join(f'{w:.3f}' for w in given)}: {metric} {fitted['fitted']:.4f} "
                       f"on {fitted['n_rows']} out-of-fold rows (mean of the models: {fitted['mean']:.4f})")
        if method == "weighted" and given is None:
            raise CommandLineError(f"--method weighted needs --weights with {len(inputs)} numbers")
        if given is not None and method == "mean":
            raise CommandLineError("--weights with --method mean: use --method weighted (or rank)")
        if given is not None and len(given) != len(inputs):
            raise CommandLineError(f"--weights needs {len(inputs)} numbers, one per input; got {len(given)}")
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
            combined = combine(tables, keys, classes, method, given, names=[str(f / name) for f in inputs])
            if name.endswith(".parquet"):
                write_parquet_atomic(combined, out / name)
            else:
                write_csv_atomic(combined, out / name)
            written.append(name)
        if not written:
            raise FileNotFoundError("no table (windows.parquet, recordings.csv) is present in every input folder")
        record = {"method": method, "inputs": [str(p) for p in inputs], "weights": given}
        if fitted is not None:
            record["fitted_on"] = {"oof": [str(p) for p in fit_on or []], **fitted}
        write_text_atomic(out / "ensemble.json", json.dumps(record, indent=2))
        typer.echo(f"{method} ensemble of {len(inputs)} -> {out} ({', '.join(written)})")

    @app.command("pseudo-label")
    def pseudo_label_command(
        pred: Path = typer.Argument(..., help="a prediction folder (recordings.csv; windows.parquet of "
                                              "`predict --oof` for oof-tp-mining)"),
        strategy: str = typer.Option(..., "--strategy", help="agreement-topk | relabel-all | oof-tp-mining"),
        out: Path = typer.Option(..., "--out", help="the label table to write (.csv or .parquet)"),
        labels: Path | None = typer.Option(None, "--labels", help="noisy clip labels (agreement-topk) or the "
                                                                   "training boxes (oof-tp-mining)"),
        label_format: str = typer.Option("auto", "--format", help="format of --labels (auto, clip_csv, table, "
                                                                  "raven, rfcx, folders)"),
        fp_labels: Path | None = typer.Option(None, "--fp-labels", help="RFCx train_fp.csv beside --labels"),
        base: list[Path] | None = typer.Option(None, "--base", help="label table(s) copied before the new rows "
                                                                    "(e.g. the curated labels); repeatable"),
        k: int | None = typer.Option(None, "--k", help="agreement-topk: noisy clips kept this round"),
        floor: float = typer.Option(0.5, "--floor", help="relabel-all: a class is a label at this probability"),
        threshold: str | None = typer.Option(None, "--threshold", help="oof-tp-mining: a number or a "
                                                                         "class,threshold CSV ('*' = default)"),
        cap: int | None = typer.Option(None, "--cap", help="oof-tp-mining: at most N mined boxes per class"),
        fp_below: float | None = typer.Option(None, "--fp-below", help="oof-tp-mining: windows scoring below "
                                                                       "this become FP boxes (also capped)"),
        new_only: bool = typer.Option(False, "--new-only", help="oof-tp-mining: only the mined boxes"),
        run: str | None = typer.Option(None, "--run", help="name in each row's source (default: PRED's name)"),
        round_index: int = typer.Option(1, "--round", help="round number, in each row's source"),
    ) -> None:
        """New label rows from a model's predictions, written as a label table `wildtag train` reads.

        Every new row carries source (pseudo:RUN:STRATEGY:roundR) and weight (a loss weight).
        """
        from wildtag.postprocess.pseudo_labels import pseudo_label_files

        cut: float | Path | None = None
        if threshold is not None:
            try:
                cut = float(threshold)
            except ValueError:
                cut = Path(threshold)
                if not cut.is_file():
                    raise FileNotFoundError(f"--threshold {threshold}: neither a number nor a file") from None
        result = pseudo_label_files(
            pred, strategy, out, labels=labels, label_format=label_format, fp_labels=fp_labels, base=base or (),
            k=k, floor=floor, threshold=cut, cap=cap, fp_below=fp_below, new_only=new_only, run=run,
            round_index=round_index,
        )
        typer.echo(result.line())

    @app.command("predict-oof")
    def predict_oof_command(
        run: Path = typer.Argument(..., help="a run directory written by `wildtag train` (its folds.csv)"),
        out: Path = typer.Option(..., "--out", help="output folder (rerun the same command to resume)"),
        audio_root: Path | None = typer.Option(None, "--audio-root", help="read the training audio from here "
                                                                         "(default: where training read it)"),
        hop_s: float | None = typer.Option(None, "--hop-s", help="window hop; default from the model"),
        batch_size: int = typer.Option(64, "--batch-size", min=1, help="windows per model call"),
        workers: int = typer.Option(1, "--workers", min=0, help="decoding processes"),
        threads: int | None = typer.Option(None, "--threads", min=1,
                                           help="torch threads (default: every core)"),
        device: str | None = typer.Option(None, "--device", help="cpu, cuda, cuda:1 (default: best)"),
        precision: str | None = typer.Option(None, "--precision", help="fp32 | bf16 (default: bf16 on CUDA)"),
        detect: bool = typer.Option(False, "--detect", help="also write detections"),
        threshold: str | None = typer.Option(None, "--threshold", help="detection threshold: a number or a "
                                                                         "class,threshold CSV; implies --detect"),
        format_: list[str] | None = typer.Option(None, "--format", help="detection formats (as predict); "
                                                                        "implies --detect"),
        overwrite: bool = typer.Option(False, "--overwrite", help="start over in an existing --out"),
        quiet: bool = typer.Option(False, "--quiet"),
    ) -> None:
        """Out-of-fold predict: the outputs of `wildtag predict` for the run's training recordings, each
        scored by the fold model that held it out (as `predict RUN --fold K` would score it)."""
        import sys

        from wildtag.cli_archive import _threshold
        from wildtag.errors import CommandLineError
        from wildtag.runtime import configure_scoring

        if hop_s is not None and not hop_s > 0:
            raise CommandLineError(f"--hop-s must be a positive number of seconds, got {hop_s}")
        if not run.exists():
            raise FileNotFoundError(f"{run}: no such run directory")
        configure_scoring(threads)  # before torch loads
        from wildtag.inference.oof import predict_oof

        summary = predict_oof(run, out, audio_root_override=audio_root, precision=precision, device=device,
                              hop_s=hop_s, batch_size=batch_size, num_workers=workers,
                              detect=True if detect else None, threshold=_threshold(threshold),
                              formats=format_ or (), overwrite=overwrite, show_progress=not quiet)
        sys.stderr.write(summary.line() + "\n")
        if summary.n_errors:
            sys.stderr.write(f"see {summary.out_dir / 'errors.csv'} for what could not be scored\n")
        if summary.n_recordings == 0:
            sys.stderr.write(f"error: no training recording of {run} could be scored "
                             f"(see {summary.out_dir / 'errors.csv'})\n")
            raise SystemExit(1)

    @app.command("train-metadata")
    def train_metadata_command(
        labels: Path = typer.Argument(..., help="clip labels with per-recording metadata columns"),
        features: str = typer.Option("", "--features", help="comma-separated numeric columns (z-scored); "
                                                            "day_of_year and hour may come from a date column"),
        out: Path = typer.Option(..., "--out", help="the metadata run directory to write"),
        categorical: str = typer.Option("", "--categorical", help="comma-separated categorical columns"),
        label_format: str = typer.Option("auto", "--format", help="format of LABELS"),
        folds_from: Path | None = typer.Option(None, "--folds-from", help="the audio run whose folds.csv (and "
                                                                          "classes) to use"),
        n_folds: int = typer.Option(5, "--n-folds", min=2, help="without --folds-from: how many folds"),
        fold_strategy: str = typer.Option("stratified", "--fold-strategy",
                                          help="without --folds-from: stratified | geo_time_block | random ..."),
        seed: int = typer.Option(0, "--seed"),
        blend_with: Path | None = typer.Option(None, "--blend-with", help="the audio model's out-of-fold "
                                                                          "prediction folder (recordings.csv)"),
        blend_weight: float | None = typer.Option(None, "--blend-weight", min=0.0, max=1.0,
                                                  help="metadata weight in the blend (default 0.14)"),
        fit_blend: bool = typer.Option(False, "--fit-blend", help="fit the blend weight on the OOF scores"),
        metric: str = typer.Option("lwlrap", "--metric", help="metric the fitted weight maximises: lwlrap | map "
                                                              "| roc_auc"),
        max_iter: int = typer.Option(100, "--max-iter", min=1, help="boosting iterations per class"),
        learning_rate: float = typer.Option(0.1, "--learning-rate", min=0.0),
        min_samples_leaf: int = typer.Option(20, "--min-samples-leaf", min=1, help="smaller for small sets"),
    ) -> None:
        """A metadata model (HistGradientBoosting, one per class) with out-of-fold scores and an optional blend
        with the audio model; saved without pickle (training table + parameters, refitted on load)."""
        from wildtag.postprocess.metadata_run import train_metadata

        if not labels.exists():
            raise FileNotFoundError(f"{labels}: no such label file")
        summary = train_metadata(
            labels, [f.strip() for f in features.split(",") if f.strip()], out,
            categorical=[c.strip() for c in categorical.split(",") if c.strip()], label_format=label_format,
            folds_from=folds_from, n_folds=n_folds, fold_strategy=fold_strategy, seed=seed, blend_with=blend_with,
            blend_weight=blend_weight, fit_blend=fit_blend, metric=metric,
            params={"max_iter": max_iter, "learning_rate": learning_rate, "min_samples_leaf": min_samples_leaf},
        )
        line = f"metadata model -> {out}: out-of-fold lwlrap {summary['oof']['lwlrap']:.4f} ({summary['folds']})"
        if "blend" in summary:
            b = summary["blend"]
            line += (f"; blend weight {b['weight']:.2f}: {metric} {b[f'audio_{metric}']:.4f} audio alone, "
                     f"{b[f'blend_{metric}']:.4f} blended -> {out / 'blend' / 'recordings.csv'}")
        typer.echo(line)

    @app.command("predict-metadata")
    def predict_metadata_command(
        run: Path = typer.Argument(..., help="a metadata run directory (`wildtag train-metadata`)"),
        table: Path = typer.Argument(..., help="CSV of recording and the model's metadata columns"),
        out: Path = typer.Option(..., "--out", help="folder for prior.csv (and the blended recordings.csv)"),
        blend_with: Path | None = typer.Option(None, "--blend-with", help="the audio model's prediction folder "
                                                                          "for these recordings"),
        blend_weight: float | None = typer.Option(None, "--blend-weight", min=0.0, max=1.0,
                                                  help="default: the run's blend.json weight, else 0.14"),
    ) -> None:
        """Occurrence prior ("is this species plausible here this week") for recordings with metadata, and its
        blend with the audio model's recording scores."""
        from wildtag.postprocess.metadata_run import predict_metadata

        folder = predict_metadata(run, table, out, blend_with=blend_with, blend_weight=blend_weight)
        typer.echo(f"prior -> {folder / 'prior.csv'}" + (f", blend -> {folder / 'recordings.csv'}"
                                                         if blend_with is not None else ""))


def _out_of_fold(source: Path) -> tuple[Any, Any, list[str]]:
    """(y_true, y_score, classes) of a run directory's fold-*/oof.parquet files, or of one oof.parquet."""
    import pandas as pd

    from wildtag.errors import CommandLineError

    files = sorted(source.glob("fold-*/oof.parquet")) if source.is_dir() else [source]
    if not files or not all(f.is_file() for f in files):
        raise FileNotFoundError(f"{source}: no oof.parquet (give a run directory, a fold-K/oof.parquet, or "
                                "predictions with their LABELS)")
    table = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    classes = [c[len("target:"):] for c in table.columns if c.startswith("target:")]
    if not classes or any(c not in table.columns for c in classes):
        raise CommandLineError(f"{source}: needs class columns and matching target:<class> columns "
                               "(an out-of-fold table); predictions need a LABELS argument")
    y_true = table[[f"target:{c}" for c in classes]].to_numpy() > 0.5
    return y_true, table[classes].to_numpy(), classes


def _scored_against_labels(source: Path, labels: Path, label_format: str) -> tuple[Any, Any, list[str]]:
    """(y_true, y_score, classes) of predictions matched to LABELS by recording id, as ``evaluate`` does:
    recording scores for clip labels, window scores for boxes."""
    from wildtag.evaluation import evaluate_files
    from wildtag.labels import read_labels

    predictions = source
    if source.is_dir():
        kind = read_labels(labels, label_format).kind
        order = ("recordings.csv", "windows.parquet") if kind == "clips" else ("windows.parquet",)
        found = [source / name for name in order if (source / name).is_file()]
        if not found:
            raise FileNotFoundError(f"{source}: no {' or '.join(order)} to compare with {labels}")
        predictions = found[0]
    elif not source.is_file():
        raise FileNotFoundError(f"{source}: no such file or folder")
    result = evaluate_files(predictions, labels, label_format=label_format)
    if result.targets is None or result.scores is None or result.class_names is None:
        from wildtag.errors import CommandLineError

        raise CommandLineError(f"{predictions}: detections have no score per window; give predict's "
                               "windows.parquet or recordings.csv")
    return result.targets > 0.5, result.scores, list(result.class_names)
