"""The README's main job: `wildtag demo` trains, predicts the held-out clips and evaluates every one of them."""

import json

import pandas as pd

from wildtag.demo import EXAMPLE_DIR, run_demo


def test_the_demo_evaluates_every_held_out_clip(tmp_path):
    result = run_demo(tmp_path / "demo", epochs=1, show_progress=False)
    held_out = pd.read_csv(EXAMPLE_DIR / "labels.csv").query("split == 'test'")
    assert result.metrics["n_samples"] == len(held_out) > 0
    assert 0.0 <= result.metrics["accuracy"] <= 1.0
    written = json.loads((result.predictions_dir / "metrics.json").read_text())
    assert written["n_unmatched_predictions"] == 0
