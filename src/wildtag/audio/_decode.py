"""The decoding core shared by ``load``, ``stream_blocks`` and ``DecodeCache``: blocks of checked samples."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf

from wildtag.audio.errors import AudioError
from wildtag.audio.info import check_complete, check_file, libsndfile_reason

Channel = int | Literal["mix"]

# Frames decoded per soundfile read: bounds the temporary (frames, channels) buffer to a few MB.
READ_BLOCK_FRAMES = 1 << 18

# libmpg123 does not seek sample-accurately: the first frames after a seek lack the bit reservoir and the
# MDCT overlap of the frames before them and decode as silence or garbage. Seeking this many frames early
# (16 MPEG frames of 1152 samples, several times the reservoir's reach) and dropping them gives exact samples.
MP3_PREROLL_FRAMES = 16 * 1152


def _read_into(f: sf.SoundFile, out: np.ndarray) -> int:
    """Fill ``out`` (C-contiguous float32, frames x channels) from the current position; frames read."""
    # python-soundfile's read() seeks to the position it has just reached after every call. For MP3 that
    # seek resets libmpg123, which loses its bit reservoir: every block after the first decodes to silence
    # or garbage. Where soundfile exposes libsndfile (it has for years), call it directly: no seek.
    lib, ffi, handle = getattr(sf, "_snd", None), getattr(sf, "_ffi", None), getattr(f, "_file", None)
    if lib is None or ffi is None or handle is None:
        return len(f.read(out=out))
    got = lib.sf_readf_float(handle, ffi.from_buffer("float[]", out), len(out))
    code = lib.sf_error(handle)
    if code:
        raise sf.LibsndfileError(code)
    return int(got)


@contextmanager
def open_audio(path: Path) -> Iterator[sf.SoundFile]:
    """Open ``path`` with soundfile, turning every failure into :class:`AudioError`."""
    check_file(path)
    try:
        f = sf.SoundFile(str(path))
    except (RuntimeError, OSError) as e:  # soundfile.LibsndfileError is a RuntimeError
        raise AudioError(path, f"unsupported or corrupt audio (libsndfile: {libsndfile_reason(e)})") from None
    with f:
        if f.frames <= 0:
            raise AudioError(path, "contains no audio frames")
        check_complete(path, f.format)
        yield f


def check_channel(path: str | os.PathLike[str], channel: Channel, num_channels: int) -> int | None:
    """The channel index to keep, or None to average all channels (``"mix"``)."""
    if isinstance(channel, str):
        if channel != "mix":
            raise ValueError(f"channel must be a channel index or 'mix', got {channel!r}")
        return None
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)):
        raise ValueError(f"channel must be a channel index or 'mix', got {channel!r}")
    if not 0 <= channel < num_channels:
        raise AudioError(path, f"channel {channel} is out of range: the file has {num_channels} channel(s)")
    return int(channel)


def _to_mono(data: np.ndarray, channel: int | None) -> np.ndarray:
    """A new 1-D array (``data`` is a reused buffer)."""
    if data.shape[1] == 1:
        return data[:, 0].copy()
    if channel is None:
        return data.mean(axis=1, dtype=np.float32)
    return np.ascontiguousarray(data[:, channel])


def _check_finite(path: Path, data: np.ndarray, first_frame: int, sample_rate: int) -> None:
    bad = ~np.isfinite(data)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        at = first_frame + int(rows[0])
        raise AudioError(
            path,
            f"{int(bad.sum())} non-finite sample(s) (NaN or inf) from {at / sample_rate:.3f} s (frame {at})",
        )


def iter_frames(
    f: sf.SoundFile,
    path: Path,
    start: int,
    num_frames: int,
    channel: int | None,
    block_frames: int = READ_BLOCK_FRAMES,
) -> Iterator[np.ndarray]:
    """Decode frames ``[start, start + num_frames)`` of the open file ``f`` as 1-D float32 blocks.

    Raises :class:`AudioError` on a decoder error, a NaN/inf sample, or fewer frames than the header
    promised (a truncated file).
    """
    sr = f.samplerate
    seek_to = max(0, start - MP3_PREROLL_FRAMES) if f.format == "MP3" else start
    try:
        f.seek(seek_to)
    except (RuntimeError, OSError) as e:
        raise AudioError(
            path, f"cannot seek to {start / sr:.3f} s (libsndfile: {libsndfile_reason(e)})"
        ) from None
    pos, end = seek_to, start + num_frames
    buffer = np.empty((min(block_frames, end - pos), f.channels), dtype=np.float32)
    while pos < end:
        want = min(block_frames, end - pos)
        try:
            got = _read_into(f, buffer[:want])
        except (RuntimeError, OSError) as e:
            raise AudioError(
                path,
                f"decoding failed near {pos / sr:.3f} s (libsndfile: {libsndfile_reason(e)}); "
                "the file is truncated or corrupt",
            ) from None
        data = buffer[:got]
        if pos < start:  # MP3 preroll: decoded only to prime the decoder
            data = data[start - pos :]
        if len(data):
            first = max(pos, start)
            _check_finite(path, data, first, sr)
            yield _to_mono(data, channel)
        pos += got
        if got < want:
            break
    if pos < end:
        raise AudioError(
            path,
            f"truncated: the header promises {f.frames} frames ({f.frames / sr:.3f} s) "
            f"but decoding stopped at frame {pos} ({pos / sr:.3f} s)",
        )
