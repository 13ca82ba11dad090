"""Pseudo-label strategies over ordinary tables; every new row carries ``source`` and ``weight``.

- ``agreement_topk`` (FAT2019): agreement of a clip = mean predicted probability of its noisy labels;
  the ``k`` clips with the highest agreement are kept, with their noisy labels, weight 1.
- ``relabel_all`` (FAT2019's "relabel all, replace NaN"): the model's classes at or above ``floor`` become
  the clip's labels, one clip-label row per clip with ``weight`` = the mean probability of those classes;
  clips with no class at or above the floor are dropped.
- ``mine_oof_windows`` (RFCx TP/FP): out-of-fold window scores; windows overlapping any existing box of
  their recording are never mined; a window whose class score passes that class's threshold becomes a TP
  box (``present`` 1), the most confident at most ``cap`` per class; optionally windows below ``fp_below``
  become FP boxes (``present`` 0), also capped.

``source`` reads ``pseudo:<run>:<strategy>:round<r>``. :func:`pseudo_label_files` is the file-level step
behind ``wildtag pseudo-label``: it reads a prediction folder and label files and writes one label table
(clip labels or events, the ``table`` format) that ``wildtag train`` reads, with the ``--base`` rows first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from wildtag.config import ConfigError
from wildtag.labels import LabelError, RecordingIds, read_labels
from wildtag.labels.clips import CLIP_COLUMNS, make_clip_labels
from wildtag.labels.events import EVENT_COLUMNS, make_events
from wildtag.labels.tables import write_table

STRATEGIES = ("agreement-topk", "relabel-all", "oof-tp-mining")
MINED_COLUMNS = ["recording_id", "t0_s", "t1_s", "label", "present", "weight", "source"]


def pseudo_source(run: str, strategy: str, round_index: int) -> str:
    """The ``source`` cell of a pseudo-labelled row."""
    return f"pseudo:{run}:{strategy}:round{round_index}"


def _require(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise LabelError(None, None, f"{what} lacks column(s) {missing}; it has {list(table.columns)}")


def agreement(clips: pd.DataFrame, scores: pd.DataFrame, classes: Sequence[str]) -> pd.Series:
    """Mean predicted probability of each clip's noisy labels (NaN for a clip without labels or scores)."""
    _require(scores, ["recording_id", *classes], "the score table")
    _require(clips, ["recording_id", "labels"], "the noisy clip-label table")
    by_id = scores.set_index("recording_id")[list(classes)]
    if by_id.index.has_duplicates:
        raise LabelError(None, None, f"the score table names recording {by_id.index[by_id.index.duplicated()][0]!r} "
                                     "more than once; give recording-level scores (recordings.csv)")
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
        raise ConfigError(f"agreement-topk needs k >= 1, got {k}")
    scored = clips.assign(agreement=agreement(clips, scores, classes)).dropna(subset=["agreement"])
    kept = scored.sort_values("agreement", ascending=False, kind="stable").head(k)
    return kept.assign(weight=1.0, source=pseudo_source(run, "agreement-topk", round_index)).reset_index(drop=True)


def relabel_all(
    scores: pd.DataFrame, classes: Sequence[str], *, floor: float = 0.5, run: str, round_index: int = 1
) -> pd.DataFrame:
    """Clip labels from the model: classes with probability >= ``floor`` (most probable first), one row per
    clip, ``weight`` = their mean probability; clips with no class at the floor are dropped."""
    if not 0.0 <= floor <= 1.0:
        raise ConfigError(f"relabel-all needs a floor in [0, 1], got {floor}")
    _require(scores, ["recording_id", *classes], "the score table")
    probs = scores[list(classes)].to_numpy(dtype=np.float64)
    names = np.asarray(classes, dtype=object)
    rows = []
    for rid, row in zip(scores["recording_id"], probs, strict=True):
        passing = np.flatnonzero(row >= floor)
        if passing.size == 0:
            continue
        order = passing[np.argsort(-row[passing], kind="stable")]
        rows.append({"recording_id": rid, "labels": list(names[order]), "secondary_labels": [],
                     "weight": float(row[order].mean())})
    out = pd.DataFrame(rows, columns=["recording_id", "labels", "secondary_labels", "weight"])
    return out.assign(source=pseudo_source(run, "relabel-all", round_index))


def _overlaps_a_box(windows: pd.DataFrame, boxes: pd.DataFrame) -> np.ndarray:
    """Which windows touch a box. Boxes name recordings as their label table does (``x`` or ``x.flac``);
    each name is resolved to the windows' recording ids by the one id rule (:mod:`wildtag.labels.ids`)."""
    from wildtag.labels.ids import RecordingIds

    hit = np.zeros(len(windows), dtype=bool)
    recordings = windows["recording"].astype(str)
    ids = RecordingIds(recordings.unique())
    spans = boxes.groupby(boxes["recording_id"].astype(str))[["t0_s", "t1_s"]]
    for name, group in spans:
        rid = ids.resolve(name, source="the boxes")
        if rid is None:  # a labelled recording that was not scored: nothing to exclude
            continue
        mask = (recordings == rid).to_numpy()
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
    if cap < 1:
        raise ConfigError(f"oof-tp-mining needs a cap >= 1 per class, got {cap}")
    _require(windows, ["recording", "t0_s", "t1_s", *thresholds], "the window score table")
    free = windows.loc[~_overlaps_a_box(windows, boxes)]
    mined = []
    for name, cut in thresholds.items():
        passing = free.loc[free[name] >= cut].nlargest(cap, name)
        mined.append(passing.assign(label=name, present=1, weight=1.0))
        if fp_below is not None:
            low = free.loc[free[name] < fp_below].nsmallest(cap, name)
            mined.append(low.assign(label=name, present=0, weight=1.0))
    if not mined:
        return pd.DataFrame(columns=MINED_COLUMNS)
    out = pd.concat(mined, ignore_index=True).rename(columns={"recording": "recording_id"})
    out["source"] = pseudo_source(run, "oof-tp-mining", round_index)
    return out[MINED_COLUMNS]


@dataclass
class PseudoLabelResult:
    """What :func:`pseudo_label_files` wrote: the table, its kind, and row counts."""

    path: Path
    kind: str
    n_base: int
    n_new: int
    per_class: dict[str, int]

    def line(self) -> str:
        """The summary line the CLI prints."""
        counts = ", ".join(f"{name} {n}" for name, n in self.per_class.items() if n)
        return (f"{self.n_new} new {self.kind} row(s) ({counts or 'none'}) after {self.n_base} base row(s) "
                f"-> {self.path}")


def read_scores(pred: Path, table: str) -> pd.DataFrame:
    """``recordings.csv`` or ``windows.parquet`` of a prediction folder, with ``recording_id`` for the id."""
    path = pred / table if pred.is_dir() else pred
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (a prediction folder written by `wildtag predict` "
                                f"or `wildtag predict --oof` holds {table})")
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if "recording" not in frame.columns:
        raise LabelError(str(path), None, f"no 'recording' column; columns are {list(frame.columns)}")
    frame = frame.drop(columns=["datetime"], errors="ignore")
    if "class" in frame.columns or "score" in frame.columns:
        raise LabelError(str(path), None, "window scores in long form (--windows-top-k / --windows-min-score) "
                                          "cannot be mined; predict without them")
    return frame.rename(columns={"recording": "recording_id"}) if table == "recordings.csv" else frame


def score_classes(frame: pd.DataFrame) -> list[str]:
    """The class columns of a prediction table (everything but the keys)."""
    keys = {"recording", "recording_id", "t0_s", "t1_s", "datetime", "fold"}
    return [c for c in frame.columns if c not in keys]


def label_names_for(pred_ids: Sequence[str], label_names: Sequence[str]) -> dict[str, str]:
    """``{prediction id: label name}`` for the recordings both name, by the recording-id rule in either
    direction (``site/x.wav`` in the labels and ``x.wav`` from a predict over ``site/``, or ``x`` in an
    RFCx table and ``x.flac``); a name that fits several recordings is an error naming them."""
    pred_index, label_index = RecordingIds(pred_ids), RecordingIds(label_names)
    found: dict[str, str] = {}
    for name in label_index.ids:
        rid = pred_index.resolve(name)
        if rid is not None:
            found[rid] = name
    for rid in pred_index.ids:
        if rid not in found:
            name = label_index.resolve(rid)
            if name is not None:
                found[rid] = name
    return found


def _base_rows(paths: Sequence[Path], kind: str) -> pd.DataFrame | None:
    if not paths:
        return None
    base = read_labels(list(paths))
    if base.kind != kind:
        raise LabelError(str(paths[0]), None, f"--base holds {base.kind}, but this strategy writes {kind}; "
                                              "give a base table of the same kind")
    return base.table


def pseudo_label_files(
    pred: str | Path,
    strategy: str,
    out: str | Path,
    *,
    labels: str | Path | None = None,
    label_format: str = "auto",
    fp_labels: str | Path | None = None,
    base: Sequence[str | Path] = (),
    k: int | None = None,
    floor: float = 0.5,
    threshold: float | str | Path | None = None,
    cap: int | None = None,
    fp_below: float | None = None,
    new_only: bool = False,
    run: str | None = None,
    round_index: int = 1,
) -> PseudoLabelResult:
    """Pseudo-label with ``strategy`` from the prediction folder ``pred``; write one label table to ``out``.

    ``agreement-topk`` needs ``labels`` (the noisy clip labels) and ``k``; ``relabel-all`` takes ``floor``;
    ``oof-tp-mining`` needs the out-of-fold window scores (``wildtag predict RUN --oof``), ``labels`` (the
    training boxes, with ``label_format`` and ``fp_labels`` as the recipe reads them), a ``threshold`` (a
    number or a ``class,threshold`` file) and ``cap``; its output holds the training boxes followed by the
    mined ones unless ``new_only``. ``base`` tables (e.g. the curated labels) are copied in front of the
    new rows. New rows name their recordings as ``labels`` (else ``base``) do where a prediction id fits
    one of those names (:func:`label_names_for`), so each recording has one name in the table. ``run`` (default: the prediction folder's name) goes into ``source``.
    """
    from wildtag.postprocess.thresholds import thresholds_for

    pred, out = Path(pred), Path(out)
    if strategy not in STRATEGIES:
        from wildtag.suggest import did_you_mean

        raise ConfigError(f"unknown pseudo-label strategy {strategy!r}{did_you_mean(strategy, STRATEGIES)}; "
                          f"choose one of {', '.join(STRATEGIES)}")
    if out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise ConfigError(f"--out {out}: write a label table ending in .csv or .parquet")
    if round_index < 1:
        raise ConfigError(f"--round must be >= 1, got {round_index}")
    run = run or (pred.name if pred.is_dir() else pred.parent.name)
    given = read_labels(labels, label_format, fp_labels=fp_labels) if labels is not None else None
    extra = _base_rows([Path(p) for p in base], "events" if strategy == "oof-tp-mining" else "clips")
    known = given.table if given is not None else extra  # rows are written with these recording names
    if strategy == "oof-tp-mining":
        windows = read_scores(pred, "windows.parquet")
        classes = score_classes(windows)
        if given is None or given.kind != "events":
            raise ConfigError("oof-tp-mining needs --labels: the training boxes (an event table: Raven, RFCx, "
                              "or a table with t0_s, t1_s, label)")
        if threshold is None or cap is None:
            raise ConfigError("oof-tp-mining needs --threshold (a number or a class,threshold file) and --cap N")
        names = label_names_for(windows["recording"].astype(str).unique(), given.table["recording_id"].astype(str))
        windows = windows.assign(recording=windows["recording"].astype(str).map(lambda r: names.get(r, r)))
        if isinstance(threshold, (int, float)):
            cuts = dict.fromkeys(classes, float(threshold))
        else:
            table = pd.read_csv(threshold)
            _require(table, ["class", "threshold"], f"threshold file {threshold}")
            cuts = dict(zip(classes, thresholds_for(table, classes, str(threshold)), strict=True))
        new = make_events(mine_oof_windows(windows, given.table, cuts, cap=cap, run=run, round_index=round_index,
                                           fp_below=fp_below))
        kind, first = "events", None if new_only else given.table
        per_class = new[new["present"]].groupby("label").size().reindex(classes, fill_value=0)
    else:
        scores = read_scores(pred, "recordings.csv")
        classes = score_classes(scores)
        if known is not None:
            names = label_names_for(scores["recording_id"].astype(str), known["recording_id"].astype(str))
            scores = scores.assign(recording_id=scores["recording_id"].astype(str).map(lambda r: names.get(r, r)))
        if strategy == "agreement-topk":
            if given is None or given.kind != "clips":
                raise ConfigError("agreement-topk needs --labels: the noisy clip labels (a clip-label table)")
            if k is None:
                raise ConfigError("agreement-topk needs --k N (how many noisy clips to keep this round)")
            new = agreement_topk(given.table, scores, classes, k, run=run, round_index=round_index)
        else:
            new = relabel_all(scores, classes, floor=floor, run=run, round_index=round_index)
        new = make_clip_labels(new)
        kind, first = "clips", None
        per_class = pd.Series([label for cell in new["labels"] for label in cell], dtype=object
                              ).value_counts().reindex(classes, fill_value=0)
    parts = [t for t in (extra, first) if t is not None]
    n_base = sum(len(t) for t in parts)
    parts = [t.assign(weight=t["weight"] if "weight" in t.columns else 1.0) for t in parts] + [new]
    table = pd.concat(parts, ignore_index=True)
    fixed = list(EVENT_COLUMNS if kind == "events" else (*CLIP_COLUMNS, "weight"))
    table = table[fixed + [c for c in table.columns if c not in fixed]]
    table = make_events(table) if kind == "events" else make_clip_labels(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_table(table, out)
    return PseudoLabelResult(out, kind, n_base, len(new), {str(c): int(n) for c, n in per_class.items()})
