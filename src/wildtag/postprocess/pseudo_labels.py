"""Pseudo-label strategies over ordinary tables; every new row carries ``source`` and ``weight``.

- ``agreement_topk`` (FAT2019): agreement of a clip = mean predicted probability of its noisy labels;
  the ``k`` clips with the highest agreement are kept, with their noisy labels, weight 1.
- ``relabel_all``: model probabilities as soft labels, one row per (clip, class) at or above ``floor``
  with ``weight`` = the probability; clips with no class at or above the floor are dropped.
- ``mine_oof_windows`` (RFCx TP/FP): out-of-fold window scores; windows overlapping any existing box of
  their recording are never mined; a window whose class score passes that class's threshold becomes a TP
  box (``present`` 1), the most confident at most ``cap`` per class; optionally windows below ``fp_below``
  become FP boxes (``present`` 0), also capped.

``source`` reads ``pseudo:<run>:<strategy>:round<r>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def pseudo_source(run: str, strategy: str, round_index: int) -> str:
    """The ``source`` cell of a pseudo-labelled row."""
    return f"pseudo:{run}:{strategy}:round{round_index}"


def agreement(clips: pd.DataFrame, scores: pd.DataFrame, classes: Sequence[str]) -> pd.Series:
    """Mean predicted probability of each clip's noisy labels (NaN for a clip without labels or scores)."""
    by_id = scores.set_index("recording_id")[list(classes)]
    column = {name: i for i, name in enumerate(classes)}
    values = []
    for rid, labels in zip(clips["recording_id"], clips["labels"], strict=True):
        known = [column[label] for label in labels if label in column]
        if rid not in by_id.index or not known:
            values.append(np.nan)
            continue
        values.append(float(by_id.loc[rid].to_numpy()[known].mean()))
    return pd.Series(values, index=clips.index, name="agreement")


def agreement_topk(
    clips: pd.DataFrame, scores: pd.DataFrame, classes: Sequence[str], k: int, *, run: str, round_index: int = 1
) -> pd.DataFrame:
    """The ``k`` noisy clips whose labels the model agrees with most (ties broken by row order)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    scored = clips.assign(agreement=agreement(clips, scores, classes)).dropna(subset=["agreement"])
    kept = scored.sort_values("agreement", ascending=False, kind="stable").head(k)
    return kept.assign(weight=1.0, source=pseudo_source(run, "agreement-topk", round_index)).reset_index(drop=True)


def relabel_all(
    scores: pd.DataFrame, classes: Sequence[str], *, floor: float = 0.5, run: str, round_index: int = 1
) -> pd.DataFrame:
    """Soft clip labels: one row per (clip, class) with probability >= ``floor``; empty clips dropped."""
    probs = scores[list(classes)].to_numpy(dtype=np.float64)
    rows, cols = np.nonzero(probs >= floor)
    return pd.DataFrame(
        {
            "recording_id": scores["recording_id"].to_numpy()[rows],
            "t0_s": np.nan,
            "t1_s": np.nan,
            "label": np.asarray(classes, dtype=object)[cols],
            "present": 1,
            "weight": probs[rows, cols],
            "source": pseudo_source(run, "relabel-all", round_index),
        }
    )


def _overlaps_a_box(windows: pd.DataFrame, boxes: pd.DataFrame) -> np.ndarray:
    hit = np.zeros(len(windows), dtype=bool)
    spans = boxes.groupby("recording_id")[["t0_s", "t1_s"]]
    for rid, group in spans:
        mask = (windows["recording"] == rid).to_numpy()
        if not mask.any():
            continue
        t0 = windows.loc[mask, "t0_s"].to_numpy()[:, None]
        t1 = windows.loc[mask, "t1_s"].to_numpy()[:, None]
        inside = (t0 < group["t1_s"].to_numpy()[None, :]) & (t1 > group["t0_s"].to_numpy()[None, :])
        hit[np.flatnonzero(mask)] = inside.any(axis=1)
    return hit


def mine_oof_windows(
    windows: pd.DataFrame,
    boxes: pd.DataFrame,
    thresholds: Mapping[str, float],
    *,
    cap: int,
    run: str,
    round_index: int = 1,
    fp_below: float | None = None,
) -> pd.DataFrame:
    """New TP (and optionally FP) boxes from out-of-fold window scores, never overlapping an existing box."""
    free = windows.loc[~_overlaps_a_box(windows, boxes)]
    mined = []
    for name, cut in thresholds.items():
        passing = free.loc[free[name] >= cut].nlargest(cap, name)
        mined.append(passing.assign(label=name, present=1, weight=1.0))
        if fp_below is not None:
            low = free.loc[free[name] < fp_below].nsmallest(cap, name)
            mined.append(low.assign(label=name, present=0, weight=1.0))
    if not mined:
        return pd.DataFrame(columns=["recording_id", "t0_s", "t1_s", "label", "present", "weight", "source"])
    out = pd.concat(mined, ignore_index=True).rename(columns={"recording": "recording_id"})
    out["source"] = pseudo_source(run, "oof-tp-mining", round_index)
    return out[["recording_id", "t0_s", "t1_s", "label", "present", "weight", "source"]]
