"""Shared settings and helpers of the semi-supervised benchmark (tables in README.md).

Every model here is the ``insectset32`` recipe (or another packaged recipe) shrunk to a CPU budget that
fits a machine shared by several people: the overrides in ``TINY`` are the only changes, and each table's
script writes them into its results JSON. Runs are resumable per step: a run directory whose
``metrics.json`` exists is reused, so an interrupted table continues where it stopped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED = REPO.parent / "shared" / "data"
INSECTS = SHARED / "insectset32"
OUT = HERE / "out"

sys.path.insert(0, str(REPO / "benchmarks" / "recipes"))
from run import last_epoch_metrics  # noqa: E402  (benchmarks/recipes/run.py)

# The insectset32 recipe made tiny: half the mel bins and frames, a quarter of the channels, 128 crops
# per epoch, 10 epochs. At this size a run takes 2-4 minutes on the shared 2 cores.
TINY = (
    "model.backbone.widths=[8, 16, 32, 64]",
    "model.frontend.n_mels=32",
    "model.frontend.hop_length=1024",
    "sampler.train.samples_per_epoch=128",
    "trainer.epochs=10",
    "trainer.num_workers=0",
)


def thread_override() -> list[str]:
    """``trainer.threads`` from the environment variable ``BENCH_THREADS`` (unset: the trainer's default, all
    cores); two tables run side by side with one thread each on the 2 shared cores."""
    threads = os.environ.get("BENCH_THREADS")
    return [f"trainer.threads={int(threads)}"] if threads else []


def commit() -> str:
    """HEAD of the checkout (read-only git call)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def insect_labels() -> pd.DataFrame:
    """InsectSet32's ``labels.csv`` (file, species, class_id, split)."""
    return pd.read_csv(INSECTS / "labels.csv")


def write_clip_table(table: pd.DataFrame, path: Path) -> Path:
    """A ``file,species,split`` CSV the insectset32 recipe reads (audio resolved under InsectSet32), with
    a ``weight`` column (loss weight per row, empty = 1) when ``table`` has one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ["file", "species", "split", *(["weight"] if "weight" in table.columns else [])]
    out = table[columns].copy()
    if "weight" in out.columns:
        out["weight"] = out["weight"].fillna(1.0)
    out.to_csv(path, index=False)
    return path


def train_clip_run(labels_csv: Path, out: Path, *, recipe: str = "insectset32",
                   overrides: Sequence[str] = TINY) -> tuple[Path, dict]:
    """Train (or reuse) one run on a clip table with the published validation split; its record."""
    import wildtag

    record_path = out / "bench_record.json"
    if (out / "metrics.json").exists() and record_path.exists():
        return out, json.loads(record_path.read_text())
    all_overrides = [f"data.labels={labels_csv}", f"data.audio_root={INSECTS}", "data.split_column=split",
                     f"data.cache_dir={OUT / 'cache'}", *overrides, *thread_override()]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    run = wildtag.train(recipe, all_overrides, out=out, overwrite=True, progress=False)
    record = {
        "recipe": recipe,
        "overrides": list(overrides),
        "threads": thread_override(),
        "train_wall_s": round(time.perf_counter() - started, 1),
        "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "valid_best_epoch": {k: run.metrics["overall"].get(k) for k in ("accuracy", "lwlrap", "map_macro")},
        "valid_last_epoch": {k: v for k, v in last_epoch_metrics(run.path).items()
                             if k in ("accuracy", "lwlrap", "map_macro")},
    }
    record_path.write_text(json.dumps(record, indent=1))
    return run.path, record


def final_checkpoint(run: Path) -> Path:
    """The final epoch's weights of a one-fold run (``best.ckpt`` is chosen on validation)."""
    return run / "fold-0" / "checkpoints" / "last.ckpt"


def clip_scores(model_path: Path, files: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Recording scores (the recipe's pooling) of InsectSet32 ``files``, rows in the order given."""
    import wildtag

    scored = wildtag.load_model(model_path).predict_recordings([INSECTS / f for f in files])
    by_stem = scored.set_index(scored["recording"].map(lambda r: Path(str(r)).name))
    keys = [Path(f).name for f in files]
    missing = [k for k in keys if k not in by_stem.index]
    if missing:
        raise KeyError(f"predict gave no scores for {missing[:3]} ({len(missing)} clips)")
    return by_stem.loc[keys, list(classes)].to_numpy(dtype=np.float64)


def one_hot(species: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """(N, K) 0/1 targets of single-label clips."""
    column = {c: i for i, c in enumerate(classes)}
    y = np.zeros((len(species), len(classes)))
    y[np.arange(len(species)), [column[s] for s in species]] = 1.0
    return y


def clip_metrics(y: np.ndarray, scores: np.ndarray) -> dict:
    """Accuracy (top-1), LWLRAP and macro mAP of clip scores."""
    from wildtag.metrics import accuracy, average_precision, lwlrap

    return {"accuracy": round(float(accuracy(y, scores)), 4), "lwlrap": round(float(lwlrap(y, scores)), 4),
            "map_macro": round(float(average_precision(y, scores, average="macro")), 4)}


def machine() -> dict:
    """Load average and core count at the moment of writing results."""
    return {"cpus": os.cpu_count(), "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "commit": commit()}


def write_json(path: Path, data: dict) -> None:
    """Results JSON next to the README (small)."""
    path.write_text(json.dumps(data, indent=1, default=float) + "\n")
