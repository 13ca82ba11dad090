"""Find audio files in files and folders: :func:`scan_audio`."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


def is_audio_file(path: str | os.PathLike[str]) -> bool:
    """True if the name ends with one of :data:`AUDIO_EXTENSIONS` (any case) and is not hidden."""
    name = Path(path).name
    # Hidden names include macOS "._x.wav" AppleDouble files, which are metadata, not audio.
    return name.lower().endswith(AUDIO_EXTENSIONS) and not name.startswith(".")


def scan_audio(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], recursive: bool = True
) -> list[Path]:
    """Audio files among ``paths`` (files are kept, folders searched), sorted and without duplicates.

        >>> scan_audio(["survey/", "extra/one.WAV"])
        [PosixPath('extra/one.WAV'), PosixPath('survey/a.flac'), PosixPath('survey/night/b.flac')]

    Raises ``FileNotFoundError`` for a path that does not exist and ``ValueError`` for a file named
    explicitly that is not audio. Hidden files and folders are skipped.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: dict[Path, Path] = {}  # resolved -> as found, so one file reached twice is listed once
    for given in map(Path, paths):
        if given.is_dir():
            candidates = _walk(given) if recursive else (p for p in given.iterdir() if p.is_file())
            for p in candidates:
                if is_audio_file(p):
                    found.setdefault(p.resolve(), p)
        elif given.is_file():
            if not given.name.lower().endswith(AUDIO_EXTENSIONS):
                raise ValueError(
                    f"{given}: not an audio file (expected one of {', '.join(AUDIO_EXTENSIONS)})"
                )
            found.setdefault(given.resolve(), given)
        else:
            raise FileNotFoundError(f"{given}: no such file or folder")
    return sorted(found.values())


def _walk(root: Path) -> Iterable[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            yield Path(folder) / name
