"""Recipe benchmark: every packaged recipe trained on real data within a fixed CPU budget.

    python benchmarks/recipes/run.py                         # everything (about 40 minutes on 2 cores)
    python benchmarks/recipes/run.py --only rfcx_dl_pipeline-bats --only 'fat2019*'
    python benchmarks/recipes/run.py --quick                 # seconds-long smoke run of every experiment
    python benchmarks/recipes/run.py --report                # rewrite the README table from results.json

Clip recipes train on InsectSet32 (published train/validation split); box recipes on the Whombat bat boxes
(a time split) and on soundscapes built from InsectSet32 clips (see datasets.py). Each experiment is
recorded in results.json with: the in-run validation metrics of the best epoch (``metrics.json``; the epoch
is chosen on that same validation set, so they lean optimistic), the last epoch's validation metrics (no
selection), and the metrics of ``predict`` with the final epoch's weights on the held-out recordings,
scored by ``evaluate_files`` (clip labels for InsectSet32, boxes for the bats and soundscapes).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from datasets import bat_time_split, insect_clip_labels, insect_soundscapes  # noqa: E402
from experiments import EXPERIMENTS, QUICK, Experiment  # noqa: E402
from report import write_readme  # noqa: E402

METRICS = ("lwlrap", "map_macro", "accuracy", "roc_auc_macro", "n_samples", "n_classes_scored")


def build_data(shared: Path, out: Path) -> dict:
    """Labels tables and recordings for the three data sets (built once, deterministic)."""
    insects = shared / "insectset32"
    clip_csvs = insect_clip_labels(insects, out / "insects")
    labels = pd.read_csv(insects / "labels.csv")
    bats = bat_time_split(shared / "bats_whombat", out / "bats")
    scapes = insect_soundscapes(insects, out / "soundscapes")
    return {
        "insects": {"root": insects, "csv": clip_csvs,
                    "valid_audio": [insects / f for f in labels[labels.split == "validation"].file],
                    "summary": {s: int(n) for s, n in labels.split.value_counts().items()}},
        "bats": {"events": bats.events, "audio_dir": bats.audio_dir, "valid_audio": bats.valid_audio,
                 "summary": bats.summary},
        "soundscapes": {"events": scapes.events, "audio_dir": scapes.audio_dir,
                        "valid_audio": scapes.valid_audio, "summary": scapes.summary},
    }


def data_overrides(exp: Experiment, data: dict) -> list[str]:
    if exp.data == "insects":
        csv = data["insects"]["csv"]["birdclef" if exp.recipe == "birdclef21" else "fat"]
        return [f"data.labels={csv}", f"data.audio_root={data['insects']['root']}", "data.split_column=split"]
    part = data[exp.data]
    return [f"data.labels={part['events']}", "data.format=table", "data.fp_labels=null",
            f"data.audio_root={part['audio_dir']}", "data.split_column=split"]


def last_epoch_metrics(run: Path) -> dict:
    """The validation metrics of the last training epoch (no checkpoint selection).

    ``fit`` validates once more after training, with the best weights, and logs that row under the next
    epoch number; only epochs that also logged a training loss count here.
    """
    log = pd.concat([pd.read_csv(p) for p in sorted((run / "fold-0" / "logs").glob("version_*/metrics.csv"))])
    trained = log.dropna(subset=["train/loss_epoch"])["epoch"]
    valid = log.dropna(subset=["valid/loss"])
    row = valid[valid["epoch"] == trained.max()].iloc[-1]
    return {k.removeprefix("valid/"): float(row[k]) for k in valid.columns
            if k.startswith("valid/") and pd.notna(row[k]) and k.removeprefix("valid/") in (*METRICS, "loss")}


def pick(metrics: dict) -> dict:
    return {k: metrics[k] for k in METRICS if metrics.get(k) is not None}


def with_tiles(checkpoint: Path, widths: list[int] | None, out_dir: Path) -> Path:
    """A copy of a checkpoint whose stored model card scores tiles of ``widths`` (None: whole windows)."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state["wildtag"]["card"]["inference"]["tiles"] = None if widths is None else {"widths_frames": widths,
                                                                              "half_shift": False}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.ckpt"
    torch.save(state, path)
    return path


def held_out(checkpoint: Path, audio: list[Path], labels: Path, out_dir: Path, level: str) -> dict:
    """``predict`` on held-out recordings, then ``evaluate_files`` of its ``level`` ("recording": the
    pooled ``recordings.csv`` against clip labels; "window": ``windows.parquet`` against boxes)."""
    from wildtag.evaluation import evaluate_files
    from wildtag.inference.predict import predict

    summary = predict(checkpoint, audio, out_dir, num_workers=0, show_progress=False)
    predictions = out_dir / ("windows.parquet" if level == "window" else "recordings.csv")
    result = evaluate_files(predictions, labels)
    return {**pick(result.metrics), "level": level,
            "predict_wall_s": round(summary.wall_s, 1), "audio_s": round(summary.audio_s, 1),
            "n_errors": summary.n_errors}


def checkpoint_epoch(path: Path) -> int:
    """The (1-based) epoch whose weights a checkpoint holds."""
    return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"]) + 1


def run_experiment(exp: Experiment, data: dict, out: Path, extra: list[str],
                   max_held_out: int | None = None) -> dict:
    """Train one experiment, then score its held-out recordings (the first ``max_held_out`` of them)."""
    from wildtag.config import load_config
    from wildtag.training.fit import fit

    overrides = [*data_overrides(exp, data), f"data.cache_dir={out / 'cache'}", "trainer.num_workers=0",
                 f"name={exp.name}", *exp.overrides, *extra]
    cfg = load_config(exp.recipe, overrides)
    run = out / "runs" / exp.name
    shutil.rmtree(run, ignore_errors=True)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    fit(cfg, run, show_progress=False, argv=["benchmarks/recipes/run.py", "--only", exp.name])
    train_wall_s = time.perf_counter() - started
    summary = json.loads((run / "metrics.json").read_text())["overall"]
    labels = data["insects"]["csv"]["birdclef" if exp.recipe == "birdclef21" else "fat"] \
        if exp.data == "insects" else data[exp.data]["events"]
    checkpoints = run / "fold-0" / "checkpoints"
    final = checkpoints / "last.ckpt"  # the final epoch's weights (best.ckpt is chosen on validation)
    if checkpoint_epoch(final) != cfg.trainer.epochs:
        raise RuntimeError(f"{final} holds epoch {checkpoint_epoch(final)} of {cfg.trainer.epochs}: "
                           "fit's last.ckpt is expected to be the final epoch")
    level = "recording" if exp.data == "insects" else "window"
    audio = data[exp.data]["valid_audio"][:max_held_out]
    result = {
        "recipe": exp.recipe, "data": exp.data, "ablation": exp.ablation, "commit": _commit(),
        "epochs": cfg.trainer.epochs, "train_wall_s": round(train_wall_s, 1), "monitor": cfg.trainer.monitor,
        "best_epoch": checkpoint_epoch(checkpoints / "best.ckpt"), "final_epoch": checkpoint_epoch(final),
        # 1-minute load average before and after training: well above 1-1.5 means other jobs shared the cores
        "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "valid_best_epoch": pick(summary), "valid_last_epoch": last_epoch_metrics(run),
        "held_out_final_epoch": held_out(final, audio, labels, run / "heldout", level),
        "overrides": [o for o in overrides if not o.startswith(("data.", "name="))],
        "command": f"python benchmarks/recipes/run.py --only {exp.name}",
    }
    if exp.tile_variants:
        result["tiles"] = {
            label: held_out(with_tiles(final, widths, run / "tiles" / str(i)), audio, labels,
                            run / "tiles" / str(i) / "pred", level)
            for i, (label, widths) in enumerate(exp.tile_variants.items())
        }
    result["total_wall_s"] = round(time.perf_counter() - started, 1)
    return result


def _commit() -> str:
    """The checkout's commit, with "+changes" when tracked files differ from it (read-only git calls)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def select(patterns: list[str]) -> list[Experiment]:
    if not patterns:
        return list(EXPERIMENTS)
    chosen = [e for e in EXPERIMENTS if any(fnmatch.fnmatch(e.name, p) for p in patterns)]
    if not chosen:
        names = ", ".join(e.name for e in EXPERIMENTS)
        raise SystemExit(f"--only {patterns}: no experiment matches; experiments: {names}")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--only", action="append", default=[], help="experiment name or shell pattern")
    parser.add_argument("--quick", action="store_true", help="one tiny epoch each; results go to OUT/quick")
    parser.add_argument("--set", dest="extra", action="append", default=[],
                        help="extra override for every selected experiment; results go to OUT/custom")
    parser.add_argument("--report", action="store_true", help="only rewrite README.md from results.json")
    args = parser.parse_args()
    results_path = HERE / "results.json"
    if args.report:
        write_readme(json.loads(results_path.read_text()), HERE / "README.md")
        return
    out = args.out / "quick" if args.quick else args.out / "custom" if args.extra else args.out
    if out != args.out:  # smoke and custom runs never touch the recorded results
        results_path = out / "results.json"
    out.mkdir(parents=True, exist_ok=True)
    data = build_data(args.shared, out / "data")
    results = json.loads(results_path.read_text()) if results_path.exists() else {"experiments": {}}
    results["data"] = {name: part["summary"] for name, part in data.items()}
    results["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version(), "torch": torch.__version__}
    for exp in select(args.only):
        print(f"== {exp.name}", flush=True)
        extra = [*(QUICK if args.quick else ()), *args.extra]
        results["experiments"][exp.name] = run_experiment(exp, data, out, extra, 2 if args.quick else None)
        print(json.dumps(results["experiments"][exp.name], indent=1), flush=True)
        results_path.write_text(json.dumps(results, indent=2) + "\n")  # after each, so a crash keeps the rest
    if out == args.out:
        write_readme(results, HERE / "README.md")


if __name__ == "__main__":
    main()
