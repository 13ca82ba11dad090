"""``wildtag predict``: score an archive of recordings, resumably, into window scores, recording scores,
detections and the tables people open in Raven, Audacity or Kaleidoscope.

    >>> summary = predict("runs/demo", ["survey/"], "predictions/", detect=True, formats=["raven", "csv"])
    >>> summary.n_scored, summary.n_skipped, summary.n_failed, summary.times_real_time

Run it again with the same arguments after a crash (or ``kill -9``): the journal in ``OUT/.wildtag``
(:mod:`wildtag.inference.journal`) names the recordings already committed, keyed by recording id, file
size and modification time, under the model's fingerprint and the settings; only the rest is scored, and
the outputs equal those of an uninterrupted run. Another model or other settings in the same OUT are
refused (or ``overwrite=True``); a second run on an OUT in use is refused.

Outputs in OUT, each written whole or not at all, assembled from the shards at the end in the order the
files were found (sorted paths):

``windows.parquet``, ``recordings.csv``, ``detections.*`` and formats (:mod:`wildtag.inference.outputs`,
:mod:`wildtag.inference.writers`), ``errors.csv`` (path, reason: every file or folder that could not be
used) and ``summary.json`` (scored, skipped as already done, failed by reason, audio hours, wall time,
x real time).

Recording ids: :mod:`wildtag.inference.inputs`. Absolute times: :mod:`wildtag.inference.timestamps`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wildtag.audio import scan_audio
from wildtag.config import ConfigError
from wildtag.fileio import write_csv_atomic, write_text_atomic
from wildtag.inference.aggregate import create_aggregator
from wildtag.inference.detections import DetectionSettings
from wildtag.inference.inputs import input_roots, recording_ids
from wildtag.inference.journal import STATE_DIR, ArchiveJournal, FileStamp
from wildtag.inference.outputs import ArchiveOutputs, RecordingTables, WindowLayout
from wildtag.inference.scoring import FileResult, FileTask, ScoreFiles, WindowSettings
from wildtag.inference.timestamps import StartTimes
from wildtag.inference.writers import RecordingInfo, check_formats
from wildtag.progress import make_progress

OUTPUT_NAMES = ("windows.parquet", "recordings.csv", "errors.csv", "summary.json", "detections.csv",
                "detections.parquet", "kaleidoscope.csv", "raven", "audacity")
Engine = Callable[[ScoreFiles, Sequence[FileTask]], Iterable[FileResult]]


def local_engine(work: ScoreFiles, tasks: Sequence[FileTask]) -> Iterable[FileResult]:
    """Score every task in this process (decoding in ``work.num_workers`` worker processes)."""
    return work(tasks)


@dataclass
class PredictionSummary:
    """What a predict run wrote, scored, skipped and could not use (``summary.json``)."""

    out_dir: Path
    n_recordings: int  # in the outputs
    n_scored: int  # by this run
    n_skipped: int  # already done by an earlier run
    n_failed: int  # files that could not be decoded
    n_problems: int  # paths that could not be used at all (missing, unlistable, symlink loops)
    n_missing: int  # of those, paths given that do not exist
    failed_by_reason: dict[str, int]
    n_windows: int  # in the outputs
    audio_s: float  # scored by this run
    wall_s: float
    n_detections: int | None = None
    outputs: list[str] = field(default_factory=list)

    @property
    def n_errors(self) -> int:
        return self.n_failed + self.n_problems

    @property
    def audio_hours(self) -> float:
        return self.audio_s / 3600

    @property
    def times_real_time(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        data = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
        data.update(audio_hours=round(self.audio_hours, 6), times_real_time=round(self.times_real_time, 3),
                    wall_s=round(self.wall_s, 3), n_errors=self.n_errors)
        return data

    def line(self) -> str:
        """The one summary line the CLI prints."""
        failed = ", ".join(f"{n} {reason}" for reason, n in self.failed_by_reason.items())
        detections = f", {self.n_detections} detections" if self.n_detections is not None else ""
        return (f"scored {self.n_scored} recording(s) ({self.audio_hours:.2f} h of audio in {self.wall_s:.0f} s, "
                f"{self.times_real_time:.0f}x real time), skipped {self.n_skipped} already done, "
                f"{self.n_failed} failed{f' ({failed})' if failed else ''}, {self.n_problems} path problem(s); "
                f"{self.n_recordings} recording(s), {self.n_windows} windows{detections} in {self.out_dir}")


def recording_names(inputs: list[Path], files: list[Path]) -> list[str]:
    """Recording ids of ``files`` found under ``inputs`` (see :mod:`wildtag.inference.inputs`)."""
    return recording_ids(inputs, files)


def predict(
    run: str | Path | None,
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    scorer: Any = None,
    hop_s: float | None = None,
    batch_size: int = 64,
    aggregate: str | None = None,
    top_k: int = 3,
    num_workers: int = 1,
    device: str | None = None,
    precision: str | None = None,
    backend: str = "torch",
    folds: list[int] | None = None,
    detect: bool | None = None,
    threshold: float | str | Path | None = None,
    detection_options: dict[str, Any] | None = None,
    formats: Sequence[str] = (),
    windows_top_k: int | None = None,
    windows_min_score: float | None = None,
    metadata: str | Path | None = None,
    timezone: str | None = None,
    datetime: bool = False,
    overwrite: bool = False,
    journal: bool = True,
    shard_recordings: int = 500,
    shard_audio_s: float = 36000.0,
    fail_on_error: bool = False,
    engine: Engine | None = None,
    show_progress: bool = True,
    only: Collection[str] | None = None,
) -> PredictionSummary:
    """Score every audio file under ``inputs`` with ``scorer`` (or the fold-averaged models of ``run``).

    ``scorer`` is anything with ``.card`` and ``.scores(wave (B, N)) -> (B, K)``
    (:func:`wildtag.inference.backends.create_scorer`); without it one is built from ``run`` with
    ``backend``, ``precision``, ``device`` and ``folds``. Detections are on with ``detect=True``, a
    ``threshold`` (a number or a ``class,threshold`` file), ``formats``, or the card's
    ``inference.detections``; ``detection_options`` override single settings (``max_gap_s``,
    ``min_duration_s``, ``method``, ``nms_iou``). ``datetime`` (implied by ``metadata`` and ``timezone``)
    adds absolute times to the windows. ``journal=False`` writes the outputs straight from scoring: no
    resume, no lock (the baseline of the journal's overhead). ``fail_on_error`` stops at the first file
    that cannot be read. ``engine`` maps the per-file work over the files (default: this process).
    ``only`` scores just these recording ids of the files found (out-of-fold predict: the training
    recordings under the audio root); an id in it that no file has is an ``errors.csv`` row.
    """
    started = time.perf_counter()
    scorer = scorer if scorer is not None else _build_scorer(run, backend, precision, device, folds)
    card = scorer.card
    windows = WindowSettings.from_card(card, hop_s)
    detection = _detection_settings(card, detect, threshold, detection_options, formats)
    chosen_formats = check_formats(formats) if detection is not None else ()
    layout = WindowLayout(windows_top_k, windows_min_score)
    agg_spec = dict(card.inference.aggregate)
    if aggregate:
        agg_spec = {"name": aggregate, **({"k": top_k} if aggregate == "topk_mean" else {})}
    agg_key = dict(agg_spec)
    aggregator = create_aggregator(agg_spec.pop("name"), **agg_spec)
    classes = list(card.class_names)
    tables = RecordingTables(classes, windows.window_s, aggregator, layout, detection,
                             detection.thresholds(classes) if detection else None, card.inference.class_boxes)

    input_paths = [Path(p) for p in inputs]
    scan = scan_audio(input_paths)  # missing paths, unlistable folders, symlink loops: scan.problems
    ids, files = recording_ids(input_paths, scan.files), list(scan.files)
    _check_unique(ids, files)
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, overwrite, journal)
    errors = [{"path": p.path, "reason": p.reason} for p in scan.problems]
    if only is not None:
        wanted = set(only)
        ids, files = [rid for rid in ids if rid in wanted], [f for rid, f in zip(ids, files, strict=True)
                                                              if rid in wanted]
        errors += [{"path": rid, "reason": f"no such file: recording {rid!r} is not under "
                    f"{', '.join(map(str, input_paths))}", "kind": "file"} for rid in sorted(wanted - set(ids))]
    starts = StartTimes(metadata, timezone, ids)
    roots = dict(zip([resolved for _, resolved in input_roots(input_paths)], input_paths, strict=True))
    work = ScoreFiles(scorer, windows, batch_size=batch_size, num_workers=num_workers)
    key = {"model": model_fingerprint(scorer), "windows": asdict(windows), "aggregate": agg_key,
           "precision": getattr(scorer, "precision", None), "backend": type(scorer).__name__,
           "window_layout": asdict(layout), "detections": detection.key(classes) if detection else None}

    tasks, stamps = [], {}
    for rid, path in zip(ids, files, strict=True):
        try:
            stamps[rid] = FileStamp.of(path)
        except OSError as error:
            errors.append({"path": str(path), "reason": f"cannot read the file ({error.strerror or error})",
                           "kind": "file"})
            continue
        tasks.append(FileTask(rid, path, stamps[rid]))
    infos = {t.recording_id: _info(t, roots, starts) for t in tasks}
    outputs_options = {"datetime": datetime or metadata is not None or timezone is not None,
                       "detections": detection is not None, "formats": chosen_formats,
                       "nyquist_hz": card.sample_rate / 2}
    if overwrite:
        _remove_outputs(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_work = engine or local_engine
    if journal:
        with ArchiveJournal(out_dir, key, overwrite=overwrite) as archive:
            todo = [t for t in tasks if not archive.done(t.recording_id, t.stamp.size, t.stamp.mtime_ns)]
            with archive.shard_writer(max_recordings=shard_recordings, max_audio_s=shard_audio_s) as shards:
                scored = _score(run_work(work, todo), tables, errors, fail_on_error, show_progress, len(todo),
                                lambda r, t: shards.add(r.recording_id, r.task.stamp, t, audio_s=r.duration_s,
                                                        extra={"duration_s": r.duration_s}))
            done = [t for t in tasks if archive.done(t.recording_id, t.stamp.size, t.stamp.mtime_ns)]
            for t in done:
                infos[t.recording_id] = _with_duration(infos[t.recording_id],
                                                       archive.entries[t.recording_id].extra["duration_s"])
            outputs = ArchiveOutputs(out_dir, {t.recording_id: infos[t.recording_id] for t in done},
                                     **outputs_options)
            try:
                names = [t.recording_id for t in done]
                streams = {name: archive.rows(name, names) for name in tables.schemas
                           if name != "detections" or detection is not None}
                for rid in names:
                    outputs.add(rid, {name: next(stream) for name, stream in streams.items()})
                written = outputs.close(tables.schemas)
            except BaseException:
                outputs.abort()
                raise
        n_skipped = len(tasks) - len(todo)
    else:  # no journal: rows go straight into the outputs, in the order files finish
        direct: dict[str, RecordingInfo] = {}
        outputs = ArchiveOutputs(out_dir, direct, **outputs_options)

        def store(result: FileResult, recording_tables: dict) -> None:
            direct[result.recording_id] = _with_duration(infos[result.recording_id], result.duration_s)
            outputs.add(result.recording_id, recording_tables)

        try:
            scored = _score(run_work(work, tasks), tables, errors, fail_on_error, show_progress, len(tasks), store)
            written = outputs.close(tables.schemas)
        except BaseException:
            outputs.abort()
            raise
        n_skipped = 0
    write_csv_atomic(_errors_frame(errors), out_dir / "errors.csv")
    failed = [e for e in errors if e.get("kind") == "file"]
    summary = PredictionSummary(
        out_dir=out_dir, n_recordings=outputs.n_recordings, n_scored=scored["n"], n_skipped=n_skipped,
        n_failed=len(failed), n_problems=len(scan.problems),
        n_missing=sum(p.reason == "no such file or folder" for p in scan.problems),
        failed_by_reason=dict(Counter(_reason_kind(e["reason"]) for e in failed).most_common()),
        n_windows=outputs.n_windows, audio_s=scored["audio_s"], wall_s=time.perf_counter() - started,
        n_detections=outputs.n_detections if detection is not None else None,
        outputs=_top_level(written, out_dir) + ["errors.csv", "summary.json"],
    )
    write_text_atomic(out_dir / "summary.json", json.dumps(summary.to_dict(), indent=2) + "\n")
    return summary


def _score(results: Iterable[FileResult], tables: RecordingTables, errors: list[dict], fail_on_error: bool,
           show_progress: bool, total: int, store: Callable[[FileResult, dict], Any]) -> dict[str, float]:
    """Consume the engine's results with a progress bar: files, audio hours, x real time and time left."""
    from wildtag.audio import AudioError

    scored = {"n": 0, "audio_s": 0.0}
    began = time.perf_counter()
    with make_progress() as bar:
        task = bar.add_task("predict", total=total, rate="", visible=show_progress)
        for result in results:
            if result.error is not None:
                errors.append({"path": str(result.task.path), "reason": result.error, "kind": "file"})
                if fail_on_error:
                    raise AudioError(str(result.task.path), f"{result.error} (--fail-on-error)")
            else:
                store(result, tables(result))
                scored["n"] += 1
                scored["audio_s"] += result.duration_s
            elapsed = max(time.perf_counter() - began, 1e-9)
            files_done = bar.tasks[task].completed + 1
            bar.update(task, advance=1, rate=f"{scored['audio_s'] / 3600:.2f} h audio, "
                                             f"{files_done / elapsed:.1f} files/s, "
                                             f"{scored['audio_s'] / elapsed:.0f}x real time")
    return scored


def _build_scorer(run: str | Path | None, backend: str, precision: str | None, device: str | None,
                  folds: list[int] | None) -> Any:
    from wildtag.inference.backends import create_scorer
    from wildtag.inference.loading import load_ensemble

    if run is None:
        raise ConfigError("predict needs a run directory, a checkpoint, or a scorer")
    if backend == "onnx":  # RUN is a folder written by `wildtag export`; its card stands in for the folds
        return create_scorer(run, backend="onnx")
    return create_scorer(load_ensemble(run, folds), backend, precision=precision, device=device)


def model_fingerprint(scorer: Any) -> str:
    """sha256 over the model card and the checkpoint files behind ``scorer`` (a retrained fold changes it)."""
    digest = hashlib.sha256(scorer.card.fingerprint().encode())
    for path in getattr(getattr(scorer, "ensemble", None), "checkpoints", None) or []:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _detection_settings(card: Any, detect: bool | None, threshold: Any, options: dict[str, Any] | None,
                        formats: Sequence[str]) -> DetectionSettings | None:
    """The detection settings asked for (card defaults, then options), or None when detections are off."""
    defaults = card.inference.detections
    wanted = detect if detect is not None else bool(threshold is not None or formats or options or defaults)
    if not wanted:
        return None
    data = dict(DetectionSettings.from_dict(defaults, "model card inference.detections").__dict__) if defaults \
        else {}
    data.update(options or {})
    if threshold is not None:
        data["threshold"] = str(threshold) if isinstance(threshold, Path) else threshold
    return DetectionSettings.from_dict(data)


def _check_unique(ids: list[str], files: list[Path]) -> None:
    seen: dict[str, Path] = {}
    for rid, path in zip(ids, files, strict=True):
        if rid in seen:
            raise ConfigError(f"{seen[rid]} and {path} would both be recording {rid!r}; give their folders "
                              "as inputs, or their common parent folder")
        seen[rid] = path


def _check_out_dir(out_dir: Path, overwrite: bool, journal: bool) -> None:
    """An existing OUT must be a predict run's (to resume) or empty, unless ``overwrite``."""
    if overwrite or not out_dir.is_dir() or (journal and (out_dir / STATE_DIR).is_dir()):
        return
    others = sorted(p.name for p in out_dir.iterdir())
    if others:
        raise FileExistsError(f"{out_dir} already holds files ({', '.join(others[:4])}"
                              f"{' ...' if len(others) > 4 else ''}) and is not a predict run to resume; "
                              "give an empty or new --out, or --overwrite to replace its predictions")


def _remove_outputs(out_dir: Path) -> None:
    import shutil

    for name in OUTPUT_NAMES:
        path = out_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _info(task: FileTask, roots: dict[Path, Path], starts: StartTimes) -> RecordingInfo:
    resolved = task.path.resolve()
    root = next((given for r, given in roots.items() if resolved.is_relative_to(r)), task.path.parent)
    return RecordingInfo(task.path, root, 0.0, starts.start(task.recording_id, task.path))


def _with_duration(info: RecordingInfo, duration_s: float) -> RecordingInfo:
    return RecordingInfo(info.path, info.root, float(duration_s), info.start)


def _top_level(written: list[Path], out_dir: Path) -> list[str]:
    """``windows.parquet``, ``raven/`` ...: the files and folders written (not every table in a folder)."""
    names = [p.relative_to(out_dir).parts for p in written]
    return list(dict.fromkeys(parts[0] + ("/" if len(parts) > 1 else "") for parts in names))


def _reason_kind(reason: str) -> str:
    """A short kind of failure for counting: ``truncated``, ``no audio samples``, ``cannot decode`` ..."""
    return reason.split(":")[0].split("(")[0].strip()[:60] or "unknown"


def _errors_frame(errors: list[dict]):
    import pandas as pd

    return pd.DataFrame([{"path": e["path"], "reason": e["reason"]} for e in errors], columns=["path", "reason"])
