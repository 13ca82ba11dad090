"""The per-file work of an archive run: files in, each file's window scores (or why it failed) out.

    >>> work = ScoreFiles(scorer, WindowSettings.from_card(scorer.card, hop_s=2.5))
    >>> for result in work([FileTask("site_a/0600.wav", Path("survey/site_a/0600.wav"), stamp)]):
    ...     result.recording_id, result.t0_s, result.scores          # or result.error

Windows are decoded in DataLoader worker processes and batched across files, ``batch_size`` windows per
model call; each file's result is yielded when its last window is scored. An engine maps :class:`ScoreFiles` over subsets of the files
(the local engine over all of them in one process; a cluster engine over chunks on many machines) and
the archive runner writes what comes back, in any order, into the same shards and journal.

Every batch goes through the model padded to ``batch_size`` windows: a file's scores then never depend on
which other files shared its batches (CPU kernels are chosen by shape), so a resumed run, which batches
files differently, writes the same values as an uninterrupted one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wildtag.inference.journal import FileStamp


@dataclass(frozen=True)
class FileTask:
    """One file to score under its recording id; ``stamp`` is its size and mtime when it was listed."""

    recording_id: str
    path: Path
    stamp: FileStamp


@dataclass
class FileResult:
    """One file's window scores ``(n, K)`` at window starts ``t0_s`` (seconds), or ``error`` (a reason)."""

    task: FileTask
    t0_s: np.ndarray | None = None
    scores: np.ndarray | None = None
    duration_s: float = 0.0
    error: str | None = None

    @property
    def recording_id(self) -> str:
        return self.task.recording_id


@dataclass(frozen=True)
class WindowSettings:
    """How files become model inputs: rate, scored window, hop and the model's own (padded) input length."""

    sample_rate: int
    window_s: float
    hop_s: float
    model_window_s: float

    @classmethod
    def from_card(cls, card: Any, hop_s: float | None = None) -> WindowSettings:
        """The card's sample rate and windows; ``hop_s`` overrides the card's default hop."""
        return cls(card.sample_rate, card.inference.window_s, float(hop_s or card.inference.hop_s), card.window_s)


class ScoreFiles:
    """Callable: ``work(tasks) -> iterator of FileResult``, one per task, in the order files finish."""

    def __init__(self, scorer: Any, windows: WindowSettings, *, batch_size: int = 64, num_workers: int = 1):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.scorer, self.windows = scorer, windows
        self.batch_size, self.num_workers = batch_size, num_workers

    def __call__(self, tasks: Sequence[FileTask]) -> Iterator[FileResult]:
        from torch.utils.data import DataLoader

        from wildtag.inference.stream import WindowStream, collate_stream

        if not tasks:
            return
        w = self.windows
        # CPU scorers whose folds share a frontend get images computed in the decode workers, one STFT per block
        frontend = getattr(self.scorer, "stream_frontend", lambda: None)() if w.model_window_s == w.window_s else None
        stream = WindowStream([t.path for t in tasks], w.sample_rate, w.window_s, w.hop_s,
                              model_window_s=w.model_window_s, frontend=frontend)
        workers = min(self.num_workers, len(tasks))
        loader = DataLoader(stream, batch_size=self.batch_size, num_workers=workers, collate_fn=collate_stream,
                            persistent_workers=False)
        pending: dict[int, tuple[list[float], list[np.ndarray]]] = {}
        # The loader's batches count a file's done/error records as well as its windows: with short files
        # they hold far fewer than batch_size windows. Windows are gathered into full batches here (every
        # model call then scores batch_size real windows, not padding); a file's record waits until the
        # windows before it in the stream are scored.
        waves: list[torch.Tensor] = []
        where: list[tuple[int, float]] = []  # (file_index, t0_s) of each gathered window
        events: deque[tuple[int, dict]] = deque()  # (windows gathered before it, record)
        n_gathered = n_scored = 0

        def score(n: int) -> None:
            nonlocal waves, where, n_scored
            wave = torch.cat(waves) if len(waves) > 1 else waves[0]
            for (i, t0_s), row in zip(where[:n], self._scores(wave[:n]), strict=True):
                starts, rows = pending.setdefault(i, ([], []))
                starts.append(t0_s)
                rows.append(row)
            waves, where = ([wave[n:]] if n < len(wave) else []), where[n:]
            n_scored += n

        def finished() -> Iterator[FileResult]:
            while events and events[0][0] <= n_scored:
                event = events.popleft()[1]
                i = event["file_index"]
                starts, rows = pending.pop(i, ([], []))
                if "error" in event:
                    yield FileResult(tasks[i], error=event["error"])
                else:
                    yield FileResult(tasks[i], np.asarray(starts, dtype=np.float64), np.stack(rows),
                                     float(event["duration_s"]))

        for batch in loader:
            if batch["wave"] is not None:
                waves.append(batch["wave"])
                where.extend(zip(batch["file_index"], batch["t0_s"], strict=True))
                n_gathered += len(batch["wave"])
            events.extend((n_gathered, event) for event in batch["events"])
            while len(where) >= self.batch_size:
                score(self.batch_size)
            yield from finished()
        if where:
            score(len(where))
        yield from finished()

    def _scores(self, wave: torch.Tensor) -> np.ndarray:
        """Scores of a batch, run padded to ``batch_size`` rows so the kernels never change with its size."""
        n = len(wave)
        if n < self.batch_size:
            wave = torch.cat([wave, wave.new_zeros(self.batch_size - n, *wave.shape[1:])])
        return self.scorer.scores(wave)[:n].numpy().astype(np.float32, copy=False)
