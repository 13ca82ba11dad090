"""Audio in: probe headers, decode (soundfile), resample (soxr), stream, and cache decoded files.

    >>> from wildtag.audio import load, probe
    >>> probe("dawn.flac").duration_s
    3600.0
    >>> x = load("dawn.flac", sample_rate=32000, offset_s=60.0, duration_s=5.0)  # mono float32

Every failure caused by a file raises :class:`AudioError`, whose message starts with the file's path.
This package knows nothing of labels or models.
"""

from wildtag.audio.cache import DecodeCache
from wildtag.audio.errors import AudioError
from wildtag.audio.info import AudioInfo, probe
from wildtag.audio.io import load
from wildtag.audio.resample import resample
from wildtag.audio.scan import AUDIO_EXTENSIONS, ScanProblem, ScanResult, is_audio_file, scan_audio
from wildtag.audio.stream import stream_blocks
from wildtag.lazy import lazy_exports

# The recording manifest reads and writes tables: pandas loads when it is first used, not with every decode.
_RECORDING_NAMES = ("Recording", "RecordingSet", "read_recordings", "recordings_from_frame",
                    "recordings_to_frame", "write_recordings")
__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(_RECORDING_NAMES, "recording"))

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioError",
    "AudioInfo",
    "DecodeCache",
    "Recording",
    "RecordingSet",
    "ScanProblem",
    "ScanResult",
    "is_audio_file",
    "load",
    "probe",
    "read_recordings",
    "recordings_from_frame",
    "recordings_to_frame",
    "resample",
    "scan_audio",
    "stream_blocks",
    "write_recordings",
]
