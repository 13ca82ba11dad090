"""The one exception the audio layer raises for a bad file: :class:`AudioError`."""

from __future__ import annotations

import os


class AudioError(Exception):
    """A file that cannot be read as the audio asked for; names the file and says what is wrong.

        >>> str(AudioError("a.wav", "file is empty (0 bytes)"))
        'a.wav: file is empty (0 bytes)'

    Batch work catches it, records ``path`` and ``reason``, and goes on with the next file.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[type[AudioError], tuple[str, str]]:
        # Exceptions pickle their ``args``; ours take (path, reason), so DataLoader workers need this.
        return (type(self), (self.path, self.reason))
