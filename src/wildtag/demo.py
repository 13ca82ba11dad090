"""``wildtag demo``: train on the bundled insect clips, predict on held-out ones, evaluate — offline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from wildtag.config import load_config
from wildtag.evaluation import evaluate_files
from wildtag.inference.predict import predict
from wildtag.recipebook import recipe_path
from wildtag.training.fit import fit

PACKAGE_DIR = Path(__file__).resolve().parent
EXAMPLE_DIR = PACKAGE_DIR / "example_data" / "insects"


@dataclass
class DemoResult:
    run_dir: Path
    predictions_dir: Path
    metrics: dict[str, Any]


def run_demo(out: str | Path = "wildtag-demo", *, epochs: int | None = None, show_progress: bool = True) -> DemoResult:
    """Train the demo recipe, predict the held-out clips, and evaluate them; everything under ``out``."""
    out = Path(out)
    overrides = [f"data.labels={EXAMPLE_DIR / 'labels.csv'}", f"data.cache_dir={out / '.cache'}"]
    if epochs is not None:
        overrides.append(f"trainer.epochs={epochs}")
    cfg = load_config(recipe_path("demo"), overrides)  # the packaged recipe, whatever the cwd holds
    run_dir = fit(cfg, out / "runs" / cfg.name, overwrite=True, show_progress=show_progress)  # the demo owns out

    labels = pd.read_csv(EXAMPLE_DIR / "labels.csv")
    held_out = labels[labels["split"] == "test"]
    test_dir = out / "held_out"
    test_dir.mkdir(parents=True, exist_ok=True)
    # predict names a file given on its own by its file name (the recording id rule): the truth says the same
    held_out.assign(file=[Path(f).name for f in held_out["file"]]).to_csv(test_dir / "labels.csv", index=False)
    predictions_dir = out / "predictions"
    predict(run_dir, [EXAMPLE_DIR / f for f in held_out["file"]], predictions_dir, show_progress=show_progress,
            overwrite=True)  # a new model each time: its earlier predictions are not resumed
    result = evaluate_files(predictions_dir / "recordings.csv", test_dir / "labels.csv")
    (predictions_dir / "metrics.json").write_text(result.to_json() + "\n")
    return DemoResult(run_dir, predictions_dir, result.metrics)
