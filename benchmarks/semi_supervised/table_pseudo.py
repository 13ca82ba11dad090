"""Table 1: iterative pseudo-labelling (FAT2019) of a noisy half of InsectSet32's train split.

    .venv/bin/python benchmarks/semi_supervised/table_pseudo.py

Data (seed 0): the 205 train clips are split per species into a curated half (the even positions of each
species' clips in a seeded shuffle, 110 clips) and a noisy half (95 clips); 40 % of the noisy half (seeded)
get a species drawn uniformly from the 31 other species. Validation: the published 51 validation clips with
their true labels, never used for anything but the metric (the final-epoch weights score everything here;
the best-epoch value, chosen on the validation clips themselves, is recorded in the JSON too).

Runs (each the tiny insectset32 recipe of ``common.TINY``):
- ``curated``: the curated half alone (round 0 of the loop; its model scores the noisy half first);
- ``curated+noisy``: curated + every noisy clip with its noisy label (no pseudo-labelling);
- rounds 1..3: ``agreement_topk`` keeps the k noisy clips whose noisy label the previous round's model gives
  the highest probability (k = 25 %, 50 %, 75 % of the noisy half); train on curated + kept; its model scores
  the noisy half for the next round. Round 4 (k = 100 %) would keep every noisy clip, which is exactly the
  ``curated+noisy`` table, so that run stands for it;
- ``relabel-all``: ``relabel_all`` with the round-3 model on the noisy half (floor 0.25: a clip with no class
  at or above it is dropped); the recipe is single-label (softmax cross-entropy), so each kept clip takes
  its most probable class, and its ``weight`` (the probability) becomes the row's loss weight (the clip
  table's ``weight`` column; curated rows weigh 1);
- ``clean``: curated + noisy half with the true labels (the shared run of the other tables), for reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from common import (
    HERE,
    OUT,
    TINY,
    clip_scores,
    final_checkpoint,
    insect_labels,
    machine,
    train_clip_run,
    write_clip_table,
    write_json,
)

from wildtag.postprocess.pseudo_labels import agreement_topk, relabel_all

SEED, NOISE, ROUNDS, FLOOR = 0, 0.40, (0.25, 0.50, 0.75), 0.25


def noisy_split(labels: pd.DataFrame, seed: int = SEED) -> pd.DataFrame:
    """Train clips with ``half`` (curated / noisy), ``true_species`` and the (possibly wrong) ``species``."""
    rng = np.random.default_rng(seed)
    train = labels[labels.split == "train"].copy()
    shuffled = train.sample(frac=1.0, random_state=seed)
    position = shuffled.groupby("species").cumcount()
    train["half"] = np.where(position.reindex(train.index) % 2 == 0, "curated", "noisy")
    train["true_species"] = train.species
    species = sorted(labels.species.unique())
    noisy = np.flatnonzero(train.half == "noisy")
    flip = rng.choice(noisy, size=int(round(NOISE * len(noisy))), replace=False)
    for i in flip:
        others = [s for s in species if s != train.true_species.iloc[i]]
        train.iloc[i, train.columns.get_loc("species")] = str(rng.choice(others))
    return train


def score_noisy(run_dir, noisy: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """Recording scores of the noisy clips by a run's final-epoch weights, keyed by ``recording_id``."""
    scores = clip_scores(final_checkpoint(run_dir), noisy.file.tolist(), classes)
    return pd.concat([pd.DataFrame({"recording_id": noisy.file.to_numpy()}),
                      pd.DataFrame(scores, columns=classes)], axis=1)


def label_precision(kept: pd.DataFrame, truth: pd.Series) -> float:
    """Share of kept noisy clips whose label is the true species."""
    return round(float((kept.species.to_numpy() == truth.loc[kept.file].to_numpy()).mean()), 4) if len(kept) else 0.0


def row(name: str, record: dict, n_train: int, extra: dict | None = None) -> dict:
    return {"run": name, "n_train_clips": n_train,
            "valid_acc_last_epoch": record["valid_last_epoch"].get("accuracy"),
            "valid_lwlrap_last_epoch": record["valid_last_epoch"].get("lwlrap"),
            "valid_acc_best_epoch": record["valid_best_epoch"].get("accuracy"),
            "train_wall_s": record["train_wall_s"], "load_avg_1min": record["load_avg_1min"], **(extra or {})}


def main() -> None:
    labels = insect_labels()
    classes = sorted(labels.species.unique())
    valid = labels[labels.split == "validation"]
    train = noisy_split(labels)
    curated, noisy = train[train.half == "curated"], train[train.half == "noisy"]
    truth = train.set_index("file").true_species
    tables = OUT / "tables" / "pseudo"

    def fit(name: str, rows: pd.DataFrame) -> tuple:
        return train_clip_run(write_clip_table(pd.concat([rows, valid]), tables / f"{name}.csv"),
                              OUT / "runs" / "pseudo" / name)

    results_rows = []
    run0, rec0 = fit("curated", curated)
    results_rows.append(row("curated only (round 0)", rec0, len(curated)))
    _, rec_all = fit("curated+noisy", pd.concat([curated, noisy]))
    results_rows.append(row("curated + all noisy (no pseudo-labelling; = round 4, k = 100 %)", rec_all,
                            len(train), {"k": len(noisy), "kept_label_precision": label_precision(noisy, truth)}))

    previous = run0
    clips = pd.DataFrame({"recording_id": noisy.file.to_numpy(), "labels": [[s] for s in noisy.species]})
    for r, share in enumerate(ROUNDS, start=1):
        k = int(round(share * len(noisy)))
        kept_ids = agreement_topk(clips, score_noisy(previous, noisy, classes), classes, k,
                                  run=previous.name, round_index=r).recording_id
        kept = noisy.set_index("file").loc[kept_ids].reset_index()
        run_r, rec_r = fit(f"round{r}_k{k}", pd.concat([curated, kept]))
        results_rows.append(row(f"agreement-topk round {r}, k = {k} ({share:.0%}), scored by {previous.name}",
                                rec_r, len(curated) + k, {"k": k, "kept_label_precision": label_precision(kept, truth)}))
        previous = run_r

    soft = relabel_all(score_noisy(previous, noisy, classes), classes, floor=FLOOR, run=previous.name, round_index=1)
    relabelled = noisy.set_index("file").loc[soft.recording_id].reset_index().assign(
        species=[labels_[0] for labels_ in soft["labels"]], weight=soft.weight.to_numpy())
    _, rec_re = fit("relabel-all", pd.concat([curated, relabelled]))
    results_rows.append(row(f"relabel-all (floor {FLOOR}) by {previous.name}", rec_re,
                            len(curated) + len(relabelled),
                            {"k": len(relabelled), "kept_label_precision": label_precision(relabelled, truth)}))

    _, rec_clean = train_clip_run(write_clip_table(labels, OUT / "tables" / "clean.csv"), OUT / "runs" / "clean")
    results_rows.append(row("clean reference: curated + noisy half with true labels", rec_clean, len(train),
                            {"k": len(noisy), "kept_label_precision": 1.0}))

    results = {
        "table": "iterative pseudo-labelling of a noisy half",
        "data": {"curated": len(curated), "noisy": len(noisy), "noise_rate": NOISE, "seed": SEED,
                 "noisy_label_precision": label_precision(noisy, truth), "n_valid": len(valid)},
        "tiny_overrides": list(TINY),
        "rows": results_rows,
        "command": "python benchmarks/semi_supervised/table_pseudo.py",
        "machine": machine(),
    }
    write_json(HERE / "results_pseudo.json", results)
    print(pd.DataFrame(results_rows).to_string())


if __name__ == "__main__":
    main()
