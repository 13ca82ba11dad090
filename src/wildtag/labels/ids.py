"""The recording-id rule: a recording's id is its audio file's path relative to the audio root (or the
folder ``predict`` was given), ``/``-separated, with its suffix: ``site_a/0600.wav``.

Label files often name recordings more loosely. :class:`RecordingIds` resolves such a name to one id:

1. the id itself (``site_a/0600.wav``);
2. else the one id whose path *ends* with the name, its audio suffix optional: ``0600.wav``, ``0600`` and
   ``site_a/0600`` all find ``site_a/0600.wav`` when no other recording ends the same way;
3. a name that more than one id ends with (``0600`` with ``site_a/0600.wav`` and ``site_b/0600.wav``)
   is an error naming them, never a guess.

    >>> ids = RecordingIds(["site_a/0600.wav", "site_b/0600.wav", "site_b/0700.wav"])
    >>> ids.resolve("0700")
    'site_b/0700.wav'
    >>> ids.resolve("0600")   # raises AmbiguousRecordingError naming both
"""

from __future__ import annotations

from collections.abc import Iterable

from wildtag.audio.scan import AUDIO_EXTENSIONS
from wildtag.labels.errors import LabelError


class AmbiguousRecordingError(LabelError):
    """A recording name that fits more than one recording id; ``candidates`` lists them."""

    def __init__(self, name: str, candidates: list[str], source: str | None = None):
        self.name, self.candidates = name, candidates
        shown = ", ".join(repr(c) for c in candidates[:5]) + (" ..." if len(candidates) > 5 else "")
        error = LabelError.at(
            source,
            f"recording {name!r} is ambiguous: it could be {shown}; name it by its path relative to the "
            f"audio root (e.g. {candidates[0]!r})",
        )
        super().__init__(error.path, error.row, error.reason)

    def __reduce__(self):
        return (type(self), (self.name, self.candidates))


def normalise_id(name: str) -> str:
    """A recording name written the canonical way: ``/`` separators, no leading ``./``, no outer spaces."""
    text = str(name).strip().replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    return text


def strip_audio_suffix(name: str) -> str:
    """``name`` without a trailing audio suffix (``.wav``, ``.flac``, ...); other dots are kept."""
    lowered = name.lower()
    for suffix in AUDIO_EXTENSIONS:
        if lowered.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


class RecordingIds:
    """The canonical ids of a set of recordings, and the resolver of loose names to them (see module doc)."""

    def __init__(self, ids: Iterable[str]):
        self.ids: list[str] = list(dict.fromkeys(normalise_id(i) for i in ids))
        self._exact = set(self.ids)
        self._by_tail: dict[str, list[str]] = {}
        for rid in self.ids:
            parts = rid.split("/")
            for k in range(len(parts)):
                tail = "/".join(parts[k:])
                for key in dict.fromkeys((tail, strip_audio_suffix(tail))):
                    self._by_tail.setdefault(key, []).append(rid)

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, rid: object) -> bool:
        return rid in self._exact

    def candidates(self, name: str) -> list[str]:
        """Every id ``name`` could mean: itself when it is an id, else the ids ending with it."""
        key = normalise_id(name)
        if key in self._exact:
            return [key]
        return list(dict.fromkeys(self._by_tail.get(key, [])))  # "x.wav" never finds "x.flac"

    def resolve(self, name: str, source: str | None = None) -> str | None:
        """The id ``name`` means, None when none fits; :class:`AmbiguousRecordingError` when several do."""
        found = self.candidates(name)
        if len(found) > 1:
            raise AmbiguousRecordingError(str(name), found, source)
        return found[0] if found else None
