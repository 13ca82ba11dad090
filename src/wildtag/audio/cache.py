"""Decode each file once, resampled, into a memory-mapped file on disk: :class:`DecodeCache`."""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from wildtag.audio._decode import Channel
from wildtag.audio.errors import AudioError
from wildtag.audio.resample import check_rate
from wildtag.audio.stream import stream_blocks
from wildtag.fileio import atomic_path

# How values are stored: float16 halves the disk of float32 and keeps ~3 significant digits at any level;
# int16 keeps a fixed 1/32767 step (clipped to [-1, 1]).
_DTYPES = {"float16": np.float16, "float32": np.float32, "int16": np.int16}
_DECODE_BLOCK = 1 << 18  # output samples per block written while decoding


def _digest(*parts: object, size: int) -> str:
    return hashlib.sha1("\0".join(map(str, parts)).encode()).hexdigest()[:size]


class DecodeCache:
    """Whole files decoded once to ``sample_rate`` and kept on disk as memory-mapped 1-D arrays.

        >>> cache = DecodeCache("cache/32k", sample_rate=32000)
        >>> x = cache.read("dawn.flac", 10.0, 15.0)  # float32, 160000 samples; decodes dawn.flac once

    An entry's name hashes the file's absolute path, size and mtime with the rate, channel and dtype, so a
    changed file gets a new entry (the stale one is removed). Entries are written to a temporary file and
    renamed into place, so concurrent workers never see half an entry. The object pickles without open
    files: each DataLoader worker maps entries lazily and keeps at most ``max_open`` of them open.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        sample_rate: int,
        dtype: str = "float16",
        channel: Channel = "mix",
        max_open: int = 16,
    ):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
        if not (
            channel == "mix" or (isinstance(channel, int) and not isinstance(channel, bool) and channel >= 0)
        ):
            raise ValueError(f"channel must be a channel index >= 0 or 'mix', got {channel!r}")
        if max_open < 1:
            raise ValueError(f"max_open must be >= 1, got {max_open!r}")
        self.root = Path(root)
        self.sample_rate = check_rate("sample_rate", sample_rate)
        self.dtype = dtype
        self.channel = channel
        self.max_open = max_open
        self._maps: OrderedDict[Path, np.memmap] = OrderedDict()
        self._pid = os.getpid()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_maps"] = OrderedDict()  # maps are reopened lazily in the receiving process
        return state

    def __repr__(self) -> str:
        return (
            f"DecodeCache(root={str(self.root)!r}, sample_rate={self.sample_rate}, "
            f"dtype={self.dtype!r}, channel={self.channel!r})"
        )

    def entry_path(self, path: str | os.PathLike[str]) -> Path:
        """Where the decoded samples of ``path``, as the file is now, are (or would be) stored."""
        source = Path(path).resolve()
        try:
            st = source.stat()
        except FileNotFoundError:
            raise AudioError(path, "file not found") from None
        return (
            self.root / f"{self._prefix(source)}-{_digest(st.st_size, st.st_mtime_ns, size=12)}.{self.dtype}"
        )

    def _prefix(self, source: Path) -> str:
        return _digest(source, self.sample_rate, self.channel, self.dtype, size=20)

    def get(self, path: str | os.PathLike[str]) -> np.memmap:
        """The whole file at ``sample_rate`` as a read-only 1-D memmap of ``dtype``, decoding it if needed."""
        if self._pid != os.getpid():  # forked: the parent's maps are not ours to manage
            self._maps, self._pid = OrderedDict(), os.getpid()
        entry = self.entry_path(path)
        if entry in self._maps:
            self._maps.move_to_end(entry)
            return self._maps[entry]
        if not entry.exists():
            self._decode(Path(path), entry)
        samples = np.memmap(entry, dtype=_DTYPES[self.dtype], mode="r")
        self._maps[entry] = samples
        while len(self._maps) > self.max_open:
            self._maps.popitem(last=False)
        return samples

    def read(self, path: str | os.PathLike[str], t0_s: float, t1_s: float) -> np.ndarray:
        """Samples from ``t0_s`` to ``t1_s`` as float32, zero-padded where the span leaves the recording.

        ::

            recording          |==========|
            span         [----------]              t0_s < 0: zeros, then samples
            span                     [------)      past the end: samples, then zeros

        Always returns exactly ``round((t1_s - t0_s) * sample_rate)`` samples.
        """
        if not (np.isfinite(t0_s) and np.isfinite(t1_s)):
            raise ValueError(f"{path}: t0_s and t1_s must be finite, got {t0_s!r}, {t1_s!r}")
        n = round((t1_s - t0_s) * self.sample_rate)
        if n < 0:
            raise ValueError(f"{path}: t1_s ({t1_s}) is before t0_s ({t0_s})")
        samples = self.get(path)
        i0 = round(t0_s * self.sample_rate)
        out = np.zeros(n, dtype=np.float32)
        lo, hi = max(i0, 0), min(i0 + n, len(samples))
        if hi > lo:
            out[lo - i0 : hi - i0] = samples[lo:hi]
            if self.dtype == "int16":
                out *= np.float32(1 / 32767)
        return out

    def duration_s(self, path: str | os.PathLike[str]) -> float:
        """Length of the cached signal in seconds (decoding it if needed)."""
        return len(self.get(path)) / self.sample_rate

    def _encode(self, block: np.ndarray) -> np.ndarray:
        if self.dtype == "int16":
            return np.clip(np.round(block * 32767), -32767, 32767).astype(np.int16)
        if self.dtype == "float16":
            limit = np.finfo(np.float16).max
            return np.clip(block, -limit, limit).astype(np.float16)
        return block

    def _decode(self, path: Path, entry: Path) -> None:
        before = path.stat()
        written = 0
        with atomic_path(entry) as tmp:
            with open(tmp, "wb") as out:
                for block in stream_blocks(path, self.sample_rate, _DECODE_BLOCK, self.channel):
                    out.write(self._encode(block).tobytes())
                    written += len(block)
            after = path.stat()
            if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                raise AudioError(path, "the file changed while it was being decoded")
            if written == 0:
                raise AudioError(path, f"too short: no samples at {self.sample_rate} Hz")
        self._remove_stale(path, entry)

    def _remove_stale(self, path: Path, keep: Path) -> None:
        """Delete entries of earlier versions of ``path`` (same settings, other size/mtime)."""
        for old in self.root.glob(f"{self._prefix(path.resolve())}-*.{self.dtype}"):
            if old != keep:
                try:
                    old.unlink()
                except OSError:  # in use elsewhere (Windows) or already gone; harmless
                    pass
