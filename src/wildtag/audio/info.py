"""Read an audio file's header without decoding it: :func:`probe` -> :class:`AudioInfo`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from wildtag.audio.errors import AudioError


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says: rate, channels, length, container and encoding.

    >>> info = probe("song.flac")
    >>> info.sample_rate, info.num_channels, info.duration_s
    (44100, 1, 7.5)
    """

    path: str
    sample_rate: int
    num_channels: int
    num_frames: int
    duration_s: float
    format: str  # container as libsndfile names it: "WAV", "FLAC", "OGG", "MP3", ...
    subtype: str  # encoding: "PCM_16", "FLOAT", "VORBIS", "OPUS", "MPEG_LAYER_III", ...


def check_file(path: str | os.PathLike[str]) -> None:
    """Raise :class:`AudioError` unless ``path`` is an existing, non-empty regular file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise AudioError(path, "file not found") from None
    except OSError as e:
        raise AudioError(path, f"cannot access file ({e.strerror})") from None
    if os.path.isdir(path):
        raise AudioError(path, "is a directory, not an audio file")
    if st.st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)")


def libsndfile_reason(e: Exception) -> str:
    """The useful part of a soundfile exception (its own message repeats the path)."""
    return getattr(e, "error_string", None) or str(e)


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Read the header of ``path``; raise :class:`AudioError` if it is missing, empty, unreadable or has no frames.

    Only the header is read, so a file whose data is truncated or corrupt may still probe fine;
    :func:`~wildtag.audio.load` finds that out.
    """
    check_file(path)
    try:
        raw = sf.info(str(path))
    except (RuntimeError, OSError) as e:  # soundfile.LibsndfileError is a RuntimeError
        raise AudioError(path, f"unsupported or corrupt audio (libsndfile: {libsndfile_reason(e)})") from None
    if raw.frames <= 0:
        raise AudioError(path, "contains no audio frames")
    if raw.samplerate <= 0 or raw.channels <= 0:
        raise AudioError(path, f"invalid header: {raw.samplerate} Hz, {raw.channels} channel(s)")
    return AudioInfo(
        path=str(Path(path)),
        sample_rate=int(raw.samplerate),
        num_channels=int(raw.channels),
        num_frames=int(raw.frames),
        duration_s=raw.frames / raw.samplerate,
        format=raw.format,
        subtype=raw.subtype,
    )
