"""Out-of-fold prediction: every training recording of a run scored by the fold model that never saw it.

    >>> summary = predict_oof("runs/insects", "preds/oof")     # windows.parquet, recordings.csv, ...
    >>> summary = predict_oof("runs/insects", "preds/oof", detect=True, threshold=0.6)

It is :func:`wildtag.inference.predict.predict` over the run's audio root, limited to the training
recordings (``only``), with an engine that hands each recording to its held-out fold's model: the same
outputs, resume journal and options as ``wildtag predict``, and for each recording exactly the scores
``wildtag predict RUN --fold K`` gives it (every batch is padded to the same size, so a file's scores never
depend on the files batched with it). Which recording each fold held out comes from the run's
``folds.csv`` (:mod:`wildtag.training.fold_file`). Recordings held out by more than one fold, whose rows
were split across folds, have no model that never saw them: they are listed in ``errors.csv`` and skipped,
as are recordings of a fold that has no checkpoint (``folds.run`` trained only some folds). With a published
split (``data.split_column``) only the validation split has a model that never saw it: the training split's
recordings are in no fold of ``folds.csv`` and are not scored.

``OUT/oof_folds.csv`` lists the recording ids scored and the fold that scored each.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from wildtag.errors import ModelLoadError
from wildtag.fileio import write_csv_atomic, write_text_atomic
from wildtag.inference.predict import PredictionSummary, predict
from wildtag.inference.scoring import FileResult, FileTask, ScoreFiles
from wildtag.training.fold_file import read_folds

OOF_FOLDS = "oof_folds.csv"


class _Checkpoints:
    """What :func:`~wildtag.inference.predict.model_fingerprint` reads: every fold's checkpoint."""

    def __init__(self, checkpoints: list[Path]):
        self.checkpoints = checkpoints


class FoldScorers:
    """One scorer per fold; ``card`` and the fingerprint cover them all. Its windows are scored by
    :class:`OofEngine`, per file, never through ``scores`` (which has no file to route by)."""

    def __init__(self, scorers: dict[int, Any], checkpoints: list[Path]):
        self.scorers = scorers
        first = scorers[min(scorers)]
        self.card, self.precision = first.card, getattr(first, "precision", None)
        self.ensemble = _Checkpoints(checkpoints)

    def scores(self, wave: Any) -> Any:
        raise RuntimeError("out-of-fold scores depend on the recording; they are computed by OofEngine")


class OofEngine:
    """An engine for :func:`~wildtag.inference.predict.predict`: each file scored by its fold's model."""

    def __init__(self, fold_of: dict[str, int], scorers: FoldScorers):
        self.fold_of, self.scorers = fold_of, scorers

    def __call__(self, work: ScoreFiles, tasks: Sequence[FileTask]) -> Iterator[FileResult]:
        for fold, scorer in sorted(self.scorers.scorers.items()):
            mine = [t for t in tasks if self.fold_of[t.recording_id] == fold]
            if mine:
                yield from ScoreFiles(scorer, work.windows, batch_size=work.batch_size,
                                      num_workers=work.num_workers)(mine)


def audio_root(folds: pd.DataFrame, run_dir: Path) -> Path:
    """The folder the recording ids are relative to (``path`` ends with ``recording_id``), one for all."""
    roots = set()
    for rid, path in zip(folds["recording_id"], folds["path"], strict=True):
        if not path or not Path(path).as_posix().endswith(rid):
            raise ModelLoadError(f"{run_dir / 'folds.csv'}: recording {rid!r} has path {path!r}, which does not "
                                 "end with its id; cannot find the training audio")
        roots.add(Path(Path(path).as_posix()[: len(Path(path).as_posix()) - len(rid)] or "."))
    if len(roots) != 1:
        raise ModelLoadError(f"{run_dir / 'folds.csv'}: the recordings lie under several roots "
                             f"({', '.join(sorted(map(str, roots))[:3])}); expected one audio root")
    return roots.pop()


def predict_oof(
    run: str | Path,
    out_dir: str | Path,
    *,
    audio_root_override: str | Path | None = None,
    backend: str = "torch",
    precision: str | None = None,
    device: str | None = None,
    **options: Any,
) -> PredictionSummary:
    """Score each training recording of ``run`` with its held-out fold's model; outputs as ``predict``.

    ``options`` are :func:`~wildtag.inference.predict.predict`'s (``hop_s``, ``detect``, ``threshold``,
    ``formats``, ``overwrite`` ...). ``audio_root_override`` reads the audio from another folder than the
    one training read (the run moved to another machine; the ids stay the same).
    """
    from wildtag.inference.backends import create_scorer
    from wildtag.inference.loading import find_checkpoints, load_ensemble

    run_dir = Path(run)
    if not run_dir.is_dir():
        raise ModelLoadError(f"{run_dir}: out-of-fold prediction needs a run directory (its folds), not a file")
    if backend != "torch":
        raise ModelLoadError(f"out-of-fold prediction runs the run's fold checkpoints (backend torch), not {backend}")
    for name in ("folds", "scorer", "engine", "only"):
        if name in options:
            raise TypeError(f"predict_oof chooses {name!r} itself")
    folds = read_folds(run_dir)
    counts = folds.groupby("recording_id")["fold"].nunique()
    shared = sorted(counts.index[counts > 1])
    checkpoints = {int(p.parents[1].name.split("-")[1]): p for p in find_checkpoints(run_dir)}
    trained = [k for k in sorted(folds["fold"].unique()) if k in checkpoints]
    if not trained:
        raise ModelLoadError(f"{run_dir}: none of the folds in folds.csv ({sorted(folds['fold'].unique())}) has a "
                             "checkpoint")
    usable = folds[~folds["recording_id"].isin(shared) & folds["fold"].isin(trained)]
    fold_of = dict(zip(usable["recording_id"], usable["fold"].astype(int), strict=True))
    scorers = FoldScorers({k: create_scorer(load_ensemble(run_dir, [k]), backend, precision=precision, device=device)
                           for k in trained}, [checkpoints[k] for k in trained])
    root = Path(audio_root_override) if audio_root_override is not None else audio_root(folds, run_dir)
    out_dir = Path(out_dir)
    summary = predict(None, [root], out_dir, scorer=scorers, engine=OofEngine(fold_of, scorers), only=set(fold_of),
                      **options)
    skipped = [{"path": rid, "reason": "held out by several folds (its rows were split across folds): no model "
                                      "never saw it"} for rid in shared]
    skipped += [{"path": rid, "reason": f"its fold {k} has no checkpoint"}
                for rid, k in zip(folds["recording_id"], folds["fold"], strict=True)
                if rid not in shared and k not in trained]
    if skipped:  # counted with the paths that could not be used, in the summary too
        errors = pd.read_csv(out_dir / "errors.csv", dtype=str, keep_default_na=False)
        write_csv_atomic(pd.concat([errors, pd.DataFrame(skipped)], ignore_index=True), out_dir / "errors.csv")
        summary.n_problems += len(skipped)
        write_text_atomic(out_dir / "summary.json", json.dumps(summary.to_dict(), indent=2) + "\n")
    write_csv_atomic(pd.DataFrame({"recording_id": list(fold_of), "fold": list(fold_of.values())}),
                     out_dir / OOF_FOLDS)
    return summary
