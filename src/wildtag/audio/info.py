"""Read an audio file's header without decoding it: :func:`probe` -> :class:`AudioInfo`."""

from __future__ import annotations

import os
import struct
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
    try:  # libsndfile calls an unreadable file a "System error", which reads like corruption
        with open(path, "rb"):
            pass
    except PermissionError:
        raise AudioError(path, "unreadable: permission denied (the audio itself may be fine)") from None
    except OSError as e:
        raise AudioError(path, f"unreadable ({e.strerror or e})") from None


# A RIFF data size that recorders write before they know the length; libsndfile reads such a file to its end.
_UNFINISHED_SIZES = (0, 0xFFFFFFFF)


def wav_shortfall(path: str | os.PathLike[str]) -> tuple[float, float] | None:
    """``(seconds the header promises, seconds the file holds)`` for a WAV whose data chunk runs past the
    end of the file (an interrupted copy or recording); None for a complete file or another container."""
    with open(path, "rb") as f:
        riff = f.read(12)
        if len(riff) < 12 or riff[:4] not in (b"RIFF", b"RIFX") or riff[8:12] != b"WAVE":
            return None
        order = "<" if riff[:4] == b"RIFF" else ">"
        file_size = os.fstat(f.fileno()).st_size
        byte_rate = None
        while True:
            header = f.read(8)
            if len(header) < 8:
                return None
            chunk_id, size = header[:4], struct.unpack(f"{order}I", header[4:])[0]
            start = f.tell()
            if chunk_id == b"fmt " and size >= 12:
                fmt = f.read(12)
                if len(fmt) < 12:
                    return None
                byte_rate = struct.unpack(f"{order}I", fmt[8:12])[0]
            elif chunk_id == b"data":
                present = file_size - start
                if size in _UNFINISHED_SIZES or size <= present or not byte_rate:
                    return None
                return size / byte_rate, present / byte_rate
            f.seek(start + size + (size & 1))


def check_complete(path: str | os.PathLike[str], container: str) -> None:
    """Raise :class:`AudioError` for a truncated WAV: its header promises more audio than the file holds.

    libsndfile would quietly read the part that is there, as if the recording were shorter. wildtag reports
    the file instead of scoring the part (see the README): a truncated file is most often an interrupted copy,
    whose complete version exists elsewhere, and a silently shortened recording skews its clip scores.
    """
    if container not in ("WAV", "WAVEX"):
        return
    shortfall = wav_shortfall(path)
    if shortfall is not None:
        promised_s, present_s = shortfall
        raise AudioError(
            path,
            f"truncated: the WAV header promises {promised_s:.3f} s of audio but the file holds {present_s:.3f} s "
            "(an interrupted copy or recording?); copy it again, or rewrite its header to keep what is there",
        )


def libsndfile_reason(e: Exception) -> str:
    """The useful part of a soundfile exception (its own message repeats the path)."""
    return getattr(e, "error_string", None) or str(e)


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Read the header of ``path``; raise :class:`AudioError` if it is missing, empty, unreadable or has no frames.

    Only the header is read (a WAV whose header promises more data than the file holds is reported as
    truncated), so a file whose data is corrupt may still probe fine; :func:`~wildtag.audio.load` finds that out.
    """
    check_file(path)
    try:
        raw = sf.info(str(path))
    except (RuntimeError, OSError) as e:  # soundfile.LibsndfileError is a RuntimeError
        raise AudioError(path, f"unsupported or corrupt audio (libsndfile: {libsndfile_reason(e)})") from None
    if raw.frames <= 0:
        raise AudioError(path, "contains no audio frames")
    check_complete(path, raw.format)
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
