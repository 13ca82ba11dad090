"""Recording ids for the files found under the inputs of ``predict`` (and ``embed``): one id per file, unique.

The id is the file's path relative to the input it was found under (a folder; for a file given by
itself, its folder), ``/``-separated, with its suffix: the rule of :mod:`wildtag.labels.ids`.

    wildtag predict RUN survey/                    ->  site_a/0600.wav, site_b/0600.wav
    wildtag predict RUN survey/site_a survey/site_b  ->  site_a/0600.wav, site_b/0600.wav
    wildtag predict RUN 2024/site_a 2025/site_a      ->  2024/site_a/0600.wav, 2025/site_a/0600.wav

With several input folders each id starts with its folder's name, or with as many of its parent folders'
names as tell it apart from the other inputs, so two folders holding ``0600.wav`` never collide. The
prefixes come from the paths as given on the command line (resolved), never from what the scan found,
so a rerun of the same command gives the same ids. Files given one by one from one folder need no prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def input_roots(inputs: Sequence[str | Path]) -> list[tuple[Path, Path]]:
    """``(as given, resolved)`` folder of each input: the folder itself, or a file's folder.

    Files are named relative to the folder as given first (so a symlinked file keeps its name), else to
    the resolved folder (so a folder reached through a symlink still names its files).
    """
    roots = []
    for given in map(Path, inputs):
        try:
            is_file = given.is_file()
        except OSError:  # a symlink loop: the scan reports it, and no file comes from it
            is_file = False
        folder = given.parent if is_file else given
        roots.append((folder.absolute(), folder.resolve()))
    return roots


def root_prefixes(roots: Sequence[Path]) -> dict[Path, str]:
    """``{root: prefix}``: ``""`` for a single root, else the shortest tail of folder names unique among them."""
    distinct = list(dict.fromkeys(roots))
    if len(distinct) <= 1:
        return {root: "" for root in distinct}
    parts = {root: [p for p in root.parts if p != root.anchor] for root in distinct}
    prefixes = {}
    for index, root in enumerate(distinct):
        mine = parts[root]
        for length in range(1, len(mine) + 1):
            tail = mine[-length:]
            if all(other[-length:] != tail for r, other in parts.items() if r != root):
                prefixes[root] = "/".join(tail)
                break
        else:  # the file-system root, or one path is the tail of another all the way up
            prefixes[root] = f"input-{index + 1}"
    return prefixes


def recording_ids(inputs: Sequence[str | Path], files: Sequence[Path]) -> list[str]:
    """The id of each of ``files`` (as found by :func:`wildtag.audio.scan_audio` under ``inputs``).

    A file under several inputs (``survey/`` and ``survey/night/``) is named under the first one given.
    """
    roots = input_roots(inputs)
    prefixes = root_prefixes([resolved for _, resolved in roots])
    ids = []
    for path in map(Path, files):
        absolute, resolved = path.absolute(), path.resolve()
        for given_root, resolved_root in roots:
            relative = _relative(absolute, given_root) or _relative(resolved, resolved_root)
            if relative is not None:
                prefix = prefixes[resolved_root]
                ids.append(f"{prefix}/{relative}" if prefix else relative)
                break
        else:
            ids.append(path.name)
    return ids


def _relative(path: Path, root: Path) -> str | None:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return None
