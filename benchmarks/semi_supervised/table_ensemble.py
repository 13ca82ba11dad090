"""Table 3: an ensemble of two recipes vs each alone, on InsectSet32's published validation split.

    .venv/bin/python benchmarks/semi_supervised/table_ensemble.py

Members, both trained on the 205 train clips with the tiny settings of ``common.py`` (final-epoch weights,
recording scores of the 51 validation clips):
- ``insectset32``: log-mel, ``tiny_cnn``, softmax cross-entropy, mean of 3-s windows (run ``out/runs/clean``,
  shared with the metadata table);
- ``birdclef21``: per-bin normalised log-mel, ``tiny_cnn`` (for the recipe's ResNeSt-50), BCE with
  BirdCLEF's label smoothing, 7-s crops, max over 5-s windows. Twice: with the same tiny budget
  (``BIRDCLEF_TINY``, 10 epochs of 128 crops, run ``out/runs/birdclef21``), which stays at chance, and with
  the budget of benchmarks/recipes (``experiments.BIRDCLEF``: full-width ``tiny_cnn``, 20 epochs of 256
  crops, run ``out/runs/birdclef21_recipes_budget``).
Combined with ``wildtag.postprocess.ensemble.combine_arrays``: ``mean`` of the probabilities and ``rank``
(per-class rank average), plus ``weighted`` with weights from ``fit_weights`` (LWLRAP) cross-fitted on two
random halves of the validation clips (fit on one half, score the other).
"""

from __future__ import annotations

import numpy as np
from common import (
    HERE,
    INSECTS,
    OUT,
    TINY,
    clip_metrics,
    clip_scores,
    final_checkpoint,
    insect_labels,
    machine,
    one_hot,
    train_clip_run,
    write_clip_table,
    write_json,
)
from datasets import insect_clip_labels  # benchmarks/recipes/datasets.py (common puts it on the path)
from experiments import BIRDCLEF  # benchmarks/recipes/experiments.py

from wildtag.metrics import lwlrap
from wildtag.postprocess.ensemble import combine_arrays, fit_weights

SEED = 0
BIRDCLEF_TINY = (
    "model.backbone={name: tiny_cnn, widths: [8, 16, 32, 64]}",
    "model.frontend.n_mels=32",
    "model.frontend.hop_length=1024",
    "sampler.train.samples_per_epoch=128",
    "trainer.epochs=10",
    "trainer.batch_size=32",
    "trainer.num_workers=0",
)


def main() -> None:
    labels = insect_labels()
    classes = sorted(labels.species.unique())
    valid = labels[labels.split == "validation"]
    y = one_hot(valid.species, classes)

    run_a, rec_a = train_clip_run(write_clip_table(labels, OUT / "tables" / "clean.csv"), OUT / "runs" / "clean")
    birdclef_csv = insect_clip_labels(INSECTS, OUT / "tables")["birdclef"]
    members = {"insectset32": (run_a, {**rec_a, "overrides": list(TINY)})}
    scores = {"insectset32": clip_scores(final_checkpoint(run_a), valid.file.tolist(), classes)}
    rows = {"insectset32 alone": clip_metrics(y, scores["insectset32"])}
    weights: dict[str, list] = {}
    half = np.random.default_rng(SEED).permutation(len(valid)) % 2
    for partner, out, overrides in (("birdclef21 (tiny budget)", "birdclef21", BIRDCLEF_TINY),
                                    ("birdclef21 (recipe benchmark budget)", "birdclef21_recipes_budget",
                                     (*BIRDCLEF, "trainer.num_workers=0"))):
        run_b, rec_b = train_clip_run(birdclef_csv, OUT / "runs" / out, recipe="birdclef21", overrides=overrides)
        members[partner] = (run_b, rec_b)
        scores[partner] = clip_scores(final_checkpoint(run_b), valid.file.tolist(), classes)
        rows[f"{partner} alone"] = clip_metrics(y, scores[partner])
        stack = np.stack([scores["insectset32"], scores[partner]])
        weighted = np.zeros_like(stack[0])
        fitted = []
        for h in (0, 1):
            w, _ = fit_weights(stack[:, half == h], y[half == h], lwlrap, seed=SEED)
            fitted.append([round(float(v), 3) for v in w])
            weighted[half != h] = combine_arrays(stack[:, half != h], "weighted", w)
        pair = f"insectset32 + {partner}"
        weights[pair] = fitted
        rows[f"{pair}: mean"] = clip_metrics(y, combine_arrays(stack, "mean"))
        rows[f"{pair}: rank average"] = clip_metrics(y, combine_arrays(stack, "rank"))
        rows[f"{pair}: weighted, cross-fitted"] = clip_metrics(y, weighted)
        results = {  # written after each partner, so a stopped run keeps the finished pair
            "table": "ensemble of two recipes",
            "n_valid": len(valid),
            "members": {name: {"path": str(r.relative_to(HERE)), **rec} for name, (r, rec) in members.items()},
            "rows": rows,
            "fitted_weights_halves": weights,  # [insectset32, partner] fitted on half 0 / half 1
            "command": "python benchmarks/semi_supervised/table_ensemble.py",
            "machine": machine(),
        }
        write_json(HERE / "results_ensemble.json", results)
        for name, metrics in rows.items():
            print(f"{name:70s} {metrics}", flush=True)


if __name__ == "__main__":
    main()
