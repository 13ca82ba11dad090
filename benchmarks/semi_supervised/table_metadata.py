"""Table 4: the metadata model (BirdCLEF 2021) on InsectSet32 clips given synthetic sites that carry signal.

    .venv/bin/python benchmarks/semi_supervised/table_metadata.py

Sites are made up, honestly and reproducibly (seed 0), in two constructions that differ in how much the
site says. Sites lie on a latitude/longitude grid 1 degree apart (4 columns); every species gets ``homes``
"home" sites drawn without replacement; every clip (train and validation alike) is placed at one of its
species' home sites (equally likely) with probability ``p_home``, and at a site drawn uniformly from all
sites otherwise. ``day_of_year`` is drawn uniformly for every clip and carries no signal.
- ``weak``: 8 sites, 2 home sites per species, p_home 0.75 (about 8 species share each site as home);
- ``strong``: 16 sites, 1 home site per species, p_home 0.85 (about 2 species per site).
``site_only_expected_accuracy`` is what knowing the true generating rule gives from the site alone (Bayes
rule, uniform species prior, ties broken at random, expected value) on the same validation clips.

Metadata model: ``wildtag.postprocess.metadata.fit_predict`` (one-vs-rest HistGradientBoosting, z-scored
latitude, longitude, day_of_year) fitted on the 205 train clips, scoring the 51 validation clips. Audio
model: the tiny insectset32 run (``common.TINY``) trained on the same 205 clips, final-epoch weights,
recording scores on the validation clips. Blend: ``metadata.blend`` at 0.14 (the write-up's weight) and at
a weight fitted with ``ensemble.fit_weights`` (maximising LWLRAP) cross-fitted on the validation set: the
weight fitted on one random half scores the other half, and the two halves' blended scores are pooled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from common import (
    HERE,
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

from wildtag.metrics import lwlrap
from wildtag.postprocess.ensemble import fit_weights
from wildtag.postprocess.metadata import DEFAULT_BLEND_WEIGHT, blend, fit_predict

SEED = 0
CONSTRUCTIONS = {"weak": {"n_sites": 8, "homes": 2, "p_home": 0.75},
                 "strong": {"n_sites": 16, "homes": 1, "p_home": 0.85}}
FEATURES = ("latitude", "longitude", "day_of_year")


def synthetic_sites(labels: pd.DataFrame, n_sites: int, homes: int, p_home: float,
                    seed: int = SEED) -> tuple[pd.DataFrame, np.ndarray]:
    """``labels`` with site, latitude, longitude and day_of_year; P(site | species) as (K, n_sites)."""
    rng = np.random.default_rng(seed)
    species = sorted(labels.species.unique())
    home = {s: rng.choice(n_sites, size=homes, replace=False) for s in species}
    site = np.array([rng.choice(home[s]) if rng.random() < p_home else rng.integers(n_sites)
                     for s in labels.species])
    p_site = np.full((len(species), n_sites), (1 - p_home) / n_sites)
    for k, s in enumerate(species):
        p_site[k, home[s]] += p_home / homes
    return labels.assign(site=site, latitude=50.0 + site // 4, longitude=10.0 + site % 4,
                         day_of_year=rng.integers(1, 366, size=len(labels))), p_site


def expected_site_accuracy(p_site: np.ndarray, sites: np.ndarray, truth: np.ndarray) -> float:
    """Expected accuracy of the Bayes decision from the site alone, ties broken uniformly at random."""
    total = 0.0
    for site, k in zip(sites, truth, strict=True):
        column = p_site[:, site]
        best = np.flatnonzero(np.isclose(column, column.max()))
        total += (k in best) / len(best)
    return round(total / len(sites), 4)


def one_construction(labels: pd.DataFrame, audio: np.ndarray, settings: dict) -> dict:
    """Metadata-only, audio-only and blended metrics on the validation clips for one site construction."""
    labels, p_site = synthetic_sites(labels, **settings)
    classes = sorted(labels.species.unique())
    train, valid = labels[labels.split == "train"], labels[labels.split == "validation"]
    y_train, y_valid = one_hot(train.species, classes), one_hot(valid.species, classes)
    meta = fit_predict(train, y_train, valid, FEATURES)

    # cross-fitted blend weight: fit on one random half of the validation clips, apply to the other
    half = np.random.default_rng(SEED).permutation(len(valid)) % 2
    fitted = np.zeros_like(audio)
    weights = []
    for h in (0, 1):
        fit_rows, apply_rows = half == h, half != h
        w, _ = fit_weights(np.stack([audio[fit_rows], meta[fit_rows]]), y_valid[fit_rows], lwlrap, seed=SEED)
        weights.append(round(float(w[1]), 3))
        fitted[apply_rows] = blend(audio[apply_rows], meta[apply_rows], float(w[1]))
    w_all, _ = fit_weights(np.stack([audio, meta]), y_valid, lwlrap, seed=SEED)
    truth = np.array([classes.index(s) for s in valid.species])
    return {
        "settings": settings,
        "rows": {
            "metadata only": clip_metrics(y_valid, meta),
            "audio only (final epoch)": clip_metrics(y_valid, audio),
            f"blend, weight {DEFAULT_BLEND_WEIGHT}": clip_metrics(y_valid, blend(audio, meta)),
            "blend, weight cross-fitted on the other half": clip_metrics(y_valid, fitted),
        },
        "fitted_weight_halves": weights,
        "fitted_weight_all_51_in_sample": round(float(w_all[1]), 3),
        "site_only_expected_accuracy": expected_site_accuracy(p_site, valid.site.to_numpy(), truth),
    }


def main() -> None:
    labels = insect_labels()
    classes = sorted(labels.species.unique())
    valid = labels[labels.split == "validation"]
    run, record = train_clip_run(write_clip_table(labels, OUT / "tables" / "clean.csv"), OUT / "runs" / "clean")
    audio = clip_scores(final_checkpoint(run), valid.file.tolist(), classes)
    results = {
        "table": "metadata model on synthetic sites",
        "features": list(FEATURES), "seed": SEED, "n_train": int((labels.split == "train").sum()),
        "n_valid": len(valid),
        "audio_run": {"path": str(run.relative_to(HERE)), **record},
        "tiny_overrides": list(TINY),
        "metadata_params": "HistGradientBoostingClassifier defaults, random_state=0, one per class",
        "constructions": {name: one_construction(labels, audio, s) for name, s in CONSTRUCTIONS.items()},
        "command": "python benchmarks/semi_supervised/table_metadata.py",
        "machine": machine(),
    }
    write_json(HERE / "results_metadata.json", results)
    for name, part in results["constructions"].items():
        print(name, part["site_only_expected_accuracy"], part["fitted_weight_halves"])
        print(pd.DataFrame(part["rows"]).T.to_string())


if __name__ == "__main__":
    main()
