"""Table 2: out-of-fold true-positive mining (RFCx TP/FP) on the insect soundscapes of benchmarks/recipes.

    .venv/bin/python benchmarks/semi_supervised/table_oof.py

Data: the 16 training soundscapes of ``benchmarks/recipes/datasets.insect_soundscapes`` (30 s each, real
InsectSet32 clips inserted at known times; built under ``out/soundscapes`` with the same seed, 0). A random
30 % of their TP boxes (seed 0) are removed, and with each the FP box made at that insertion's moment (an
absent species at exactly the insertion's time span), so that a removed call is an unlabelled stretch, as in
RFCx, and not a window the miner must skip because another box covers it. The removed TP boxes are the truth.

Models: ``rfcx_tp_fp_mixover`` with the recipe benchmark's soundscape overrides, made tiny (widths
8/16/32/64, 10 epochs), 4 folds over recordings (4 recordings each, fold = position in name order mod 4).
Each recording is scored (3-s windows, hop 1 s, the recipe's inference) by the one fold model that did not
train on it. ``mine_oof_windows`` then keeps windows overlapping no remaining box (TP or FP) whose class score
passes a threshold, the most confident ``cap`` per class.

A mined window is correct when it overlaps a removed TP box of the same species and recording by at least
half of the shorter of the two (the rule of benchmarks/recipes' window evaluation). Precision: correct mined
windows / mined windows. Recall: removed boxes found by at least one correct mined window / removed boxes.
Ceiling: removed boxes that at least one minable window (overlapping no remaining box) could find at all.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import HERE, INSECTS, OUT, machine, thread_override, write_json
from datasets import insect_soundscapes  # benchmarks/recipes/datasets.py
from experiments import SC_MIXOVER  # benchmarks/recipes/experiments.py

from wildtag.labels import write_table
from wildtag.postprocess.pseudo_labels import mine_oof_windows

SEED, REMOVE, N_FOLDS = 0, 0.30, 4
THRESHOLDS = (0.3, 0.5, 0.7, 0.9)
CAPS = (1000, 5)
TINY_BOX = ("model.backbone={name: tiny_cnn, widths: [8, 16, 32, 64]}", "trainer.epochs=10",
            "trainer.num_workers=0", "folds.strategy=predefined", "folds.column=fold")


def remove_boxes(events: pd.DataFrame, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(kept boxes, removed TP boxes): a share of TP boxes dropped with the FP boxes of their moment."""
    rng = np.random.default_rng(seed)
    tp = events[events.present]
    removed = tp.loc[rng.choice(tp.index, size=int(round(REMOVE * len(tp))), replace=False)]
    moments = set(zip(removed.recording_id, removed.t0_s.round(6), removed.t1_s.round(6), strict=True))
    same_moment = [(r, round(a, 6), round(b, 6)) in moments
                   for r, a, b in zip(events.recording_id, events.t0_s, events.t1_s, strict=True)]
    return events[~np.asarray(same_moment)].reset_index(drop=True), removed.reset_index(drop=True)


def overlap_hit(w0: np.ndarray, w1: np.ndarray, b0: float, b1: float) -> np.ndarray:
    """Windows overlapping a box by at least half of the shorter of the two."""
    inter = np.clip(np.minimum(w1, b1) - np.maximum(w0, b0), 0.0, None)
    return inter >= 0.5 * np.minimum(w1 - w0, b1 - b0) - 1e-9


def score(mined: pd.DataFrame, removed: pd.DataFrame) -> dict:
    """Precision of mined windows and recall of removed boxes (same recording and species, half overlap)."""
    correct = np.zeros(len(mined), dtype=bool)
    found = 0
    for box in removed.itertuples():
        mine = ((mined.recording_id == box.recording_id) & (mined.label == box.label)).to_numpy()
        hit = np.zeros(len(mined), dtype=bool)
        hit[mine] = overlap_hit(mined.t0_s.to_numpy()[mine], mined.t1_s.to_numpy()[mine], box.t0_s, box.t1_s)
        correct |= hit
        found += bool(hit.any())
    return {"mined_windows": len(mined), "correct_windows": int(correct.sum()),
            "precision": round(float(correct.mean()), 4) if len(mined) else None,
            "removed_found": found, "recall": round(found / len(removed), 4)}


def ceiling(windows: pd.DataFrame, kept: pd.DataFrame, removed: pd.DataFrame, classes: list[str]) -> int:
    """Removed boxes that some window overlapping no kept box could find (any threshold, no cap)."""
    everything = mine_oof_windows(windows, kept, {c: -1.0 for c in classes}, cap=10**9, run="ceiling")
    return score(everything, removed)["removed_found"]


def main() -> None:
    import wildtag

    data = insect_soundscapes(INSECTS, OUT / "soundscapes")
    events = pd.read_csv(data.events)
    events = events[events.split == "train"].drop(columns=["split"]).reset_index(drop=True)
    events["present"] = events.present.astype(str).str.lower().isin(["true", "1"])
    kept, removed = remove_boxes(events)
    recordings = sorted(events.recording_id.unique())
    fold_of = {r: i % N_FOLDS for i, r in enumerate(recordings)}
    kept = kept.assign(fold=kept.recording_id.map(fold_of))
    table = write_table(kept, OUT / "tables" / "oof" / "kept_events.csv")

    run = OUT / "runs" / "oof_mixover"
    overrides = [f"data.labels={table}", "data.format=table", "data.fp_labels=null",
                 f"data.audio_root={data.audio_dir}", f"data.cache_dir={OUT / 'cache'}", "name=oof_mixover",
                 *SC_MIXOVER, *TINY_BOX, *thread_override()]
    record_path = run / "bench_record.json"
    if not (run / "metrics.json").exists():
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        wildtag.train("rfcx_tp_fp_mixover", overrides, out=run, overwrite=True, progress=False)
        record_path.write_text(json.dumps({"train_wall_s": round(time.perf_counter() - started, 1),
                                           "load_avg_1min": [round(load_before, 2),
                                                             round(os.getloadavg()[0], 2)]}))
    record = json.loads(record_path.read_text())

    cached = run / "oof_windows.parquet"  # every recording scored by the fold model that did not train on it
    if cached.exists():
        windows = pd.read_parquet(cached)
    else:
        parts = []
        for k in range(N_FOLDS):
            held = [data.audio_dir / f"{r}.flac" for r in recordings if fold_of[r] == k]
            scored = wildtag.load_model(run, folds=[k]).predict(held)
            parts.append(scored.assign(recording=scored.recording.map(lambda r: Path(str(r)).stem)))  # "x.flac"
        windows = pd.concat(parts, ignore_index=True)
        windows.to_parquet(cached, index=False)
    classes = sorted(events.label.unique())
    reachable = ceiling(windows, kept, removed, classes)
    everything = mine_oof_windows(windows, kept, {c: -1.0 for c in classes}, cap=10**9, run="base-rate")

    rows = []
    for cap in CAPS:
        for cut in THRESHOLDS:
            mined = mine_oof_windows(windows, kept, {c: cut for c in classes}, cap=cap, run=run.name)
            rows.append({"threshold": cut, "cap_per_class": cap, **score(mined, removed)})
    results = {
        "table": "OOF TP mining on the insect soundscapes",
        "data": {"recordings": len(recordings), "tp_boxes": int(events.present.sum()),
                 "fp_boxes": int((~events.present).sum()), "removed_tp_boxes": len(removed),
                 "removed_fp_boxes_same_moment": int(len(events) - len(kept) - len(removed)),
                 "windows_scored": len(windows), "removed_reachable_by_a_free_window": reachable,
                 # precision of mining every free (window, class) pair: what a threshold must beat
                 "free_window_class_pairs": len(everything),
                 "base_rate_precision": score(everything, removed)["precision"],
                 "seed": SEED, "remove_share": REMOVE},
        "model": {"recipe": "rfcx_tp_fp_mixover", "overrides": [*SC_MIXOVER, *TINY_BOX], "folds": N_FOLDS,
                  **record, "oof_box_metrics": json.loads((run / "metrics.json").read_text())["overall"]},
        "rows": rows,
        "command": "python benchmarks/semi_supervised/table_oof.py",
        "machine": machine(),
    }
    write_json(HERE / "results_oof.json", results)
    print(pd.DataFrame(rows).to_string())
    print(json.dumps(results["data"]))


if __name__ == "__main__":
    main()
