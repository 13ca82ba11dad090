"""Find audio files in files and folders: :func:`scan_audio` -> :class:`ScanResult` (files and problems).

    >>> result = scan_audio(["survey/", "extra/one.WAV"])
    >>> result.files
    [PosixPath('extra/one.WAV'), PosixPath('survey/a.flac'), PosixPath('survey/night/b.flac')]
    >>> result.problems
    [ScanProblem(path='survey/locked', reason='cannot list folder (permission denied)')]

A scan never stops at a bad entry: a path that does not exist, a folder that cannot be listed, a symlink
that loops or dangles, each becomes a :class:`ScanProblem` and every other file is still found.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


def is_audio_file(path: str | os.PathLike[str]) -> bool:
    """True if the name ends with one of :data:`AUDIO_EXTENSIONS` (any case) and is not hidden."""
    name = Path(path).name
    # Hidden names include macOS "._x.wav" AppleDouble files, which are metadata, not audio.
    return name.lower().endswith(AUDIO_EXTENSIONS) and not name.startswith(".")


@dataclass(frozen=True)
class ScanProblem:
    """A path the scan could not use, and why (one row of ``errors.csv``)."""

    path: str
    reason: str


@dataclass(frozen=True)
class ScanResult(Sequence[Path]):
    """The audio files found (sorted, each once) and the problems met; iterates over the files."""

    files: list[Path] = field(default_factory=list)
    problems: list[ScanProblem] = field(default_factory=list)

    @overload
    def __getitem__(self, index: int) -> Path: ...
    @overload
    def __getitem__(self, index: slice) -> list[Path]: ...
    def __getitem__(self, index):
        return self.files[index]

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[Path]:
        return iter(self.files)


def _reason(error: OSError, what: str) -> str:
    if error.errno == errno.ELOOP:
        return "symlink loop: the link points (through other links) back to itself"
    if isinstance(error, PermissionError):
        return f"cannot {what} (permission denied)"
    return f"cannot {what} ({error.strerror or error})"


def scan_audio(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], recursive: bool = True
) -> ScanResult:
    """Audio files among ``paths`` (files are kept, folders searched), with every problem met on the way.

    Symlinked folders are followed; one that leads back into a folder already being searched is a
    "symlink loop" problem. A folder that cannot be listed, a dangling link, a path that does not exist
    and a file named explicitly that is not audio are problems too. Hidden files and folders are skipped.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: dict[Path, Path] = {}  # resolved -> as found, so one file reached twice is listed once
    problems: list[ScanProblem] = []
    for given in map(Path, paths):
        try:
            is_dir = given.is_dir()
            exists = is_dir or given.exists()
        except OSError as error:  # Python < 3.12 raises on a symlink loop instead of answering False
            problems.append(ScanProblem(str(given), _reason(error, "follow the path")))
            continue
        if is_dir:
            candidates = _walk(given, recursive, problems)
        elif not exists:
            is_loop = given.is_symlink()
            reason = _loop_or_dangling(given) if is_loop else "no such file or folder"
            problems.append(ScanProblem(str(given), reason))
            continue
        elif not given.name.lower().endswith(AUDIO_EXTENSIONS):
            problems.append(ScanProblem(
                str(given), f"not an audio file (expected one of {', '.join(AUDIO_EXTENSIONS)})"))
            continue
        else:
            candidates = iter([given])
        for path in candidates:
            try:
                found.setdefault(path.resolve(strict=True), path)
            except (OSError, RuntimeError):  # RuntimeError: Python < 3.13 reports a loop that way
                problems.append(ScanProblem(str(path), _loop_or_dangling(path)))
    return ScanResult(sorted(found.values()), problems)


def _loop_or_dangling(path: Path) -> str:
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symlink loop: the link points (through other links) back to itself"
        if error.errno == errno.ENOENT:
            return f"dangling symlink: its target {os.readlink(path)} does not exist"
        return _reason(error, "read the file")
    return "cannot resolve the path"


def _walk(root: Path, recursive: bool, problems: list[ScanProblem]) -> Iterator[Path]:
    """Audio files under ``root``, folders in name order; problems are appended, never raised."""
    try:
        ancestors = {_identity(root)}
    except OSError as error:
        problems.append(ScanProblem(str(root), _reason(error, "open folder")))
        return
    yield from _walk_folder(root, recursive, problems, ancestors, set(ancestors))


def _identity(folder: Path) -> tuple[int, int]:
    st = os.stat(folder)
    return st.st_dev, st.st_ino


def _walk_folder(folder: Path, recursive: bool, problems: list[ScanProblem],
                 ancestors: set[tuple[int, int]], searched: set[tuple[int, int]]) -> Iterator[Path]:
    """``ancestors``: the folders above this one (a link back to one is a loop); ``searched``: every folder
    searched so far (a second link to one is skipped quietly: its files are already found)."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as error:
        problems.append(ScanProblem(str(folder), _reason(error, "list folder")))
        return
    subfolders = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(folder) / entry.name
        try:
            is_dir = entry.is_dir()  # follows symlinks
        except OSError as error:
            if is_audio_file(path) or entry.is_symlink():
                problems.append(ScanProblem(str(path), _reason(error, "follow the link")))
            continue
        if not is_dir:
            if is_audio_file(path):
                if entry.is_symlink() and not os.path.exists(path):
                    problems.append(ScanProblem(str(path), _loop_or_dangling(path)))
                else:
                    yield path
        elif recursive:
            subfolders.append(path)
    for sub in subfolders:
        try:
            identity = _identity(sub)
        except OSError as error:
            problems.append(ScanProblem(str(sub), _reason(error, "open folder")))
            continue
        if identity in ancestors:
            problems.append(ScanProblem(str(sub), f"symlink loop: leads back to {_target(sub)}, "
                                                  "a folder already being searched; skipped"))
            continue
        if identity in searched:
            continue
        searched.add(identity)
        yield from _walk_folder(sub, recursive, problems, ancestors | {identity}, searched)


def _target(link: Path) -> str:
    try:
        return str(link.resolve())
    except (OSError, RuntimeError):
        return "a folder above it"
