"""Folder-per-class trees: ``root/<class>/<file>`` gives each file the label ``<class>``.

root/
  wren/a.wav        -> recording_id "wren/a.wav", labels ["wren"]
  robin/x/b.flac    -> recording_id "robin/x/b.flac", labels ["robin"]

>>> clips = read_class_folders("dataset/")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from wildtag.audio.scan import AUDIO_EXTENSIONS
from wildtag.labels.clips import make_clip_labels
from wildtag.labels.errors import LabelError


def read_class_folders(
    root: str | os.PathLike[str], extensions: Iterable[str] = AUDIO_EXTENSIONS
) -> pd.DataFrame:
    """A ClipLabels table with one row per audio file under ``root``, labelled by its top-level folder.

    ``recording_id`` is the file's path relative to ``root`` (``/``-separated), so ``root / recording_id``
    is the file. Hidden files and folders and files with other extensions are not audio and are ignored;
    an audio file directly in ``root`` (no class folder) raises :class:`LabelError`, as does a tree
    with no audio at all.
    """
    root = Path(root)
    if not root.is_dir():
        raise LabelError(str(root), None, "not a folder: expected one sub-folder per class")
    suffixes = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    rows = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or path.suffix.lower() not in suffixes:
            continue
        if not path.is_file():
            continue
        if len(rel.parts) == 1:
            raise LabelError(
                str(path), None, f"audio file outside any class folder of {root}; move it into one"
            )
        rows.append({"recording_id": rel.as_posix(), "labels": [rel.parts[0]], "source": str(path)})
    if not rows:
        raise LabelError(
            str(root), None, f"no audio files with extensions {sorted(suffixes)} in its class folders"
        )
    return make_clip_labels(rows)
