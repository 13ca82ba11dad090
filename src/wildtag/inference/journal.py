"""The resume journal of an archive run: which recordings are done, in which Parquet shard their rows are.

    OUT/.wildtag/
      run.json            the key: what made the rows (model card fingerprint, settings); checked on every run
      lock                pid and host of the run holding OUT (a POSIX lock, released when that process dies)
      manifest.jsonl      one line per committed shard: its tables, and each recording's size, mtime and rows
      shards/<table>/part-000012.parquet

A run writes rows through a :class:`ShardWriter`: every N recordings (or M minutes of audio, or a few
minutes of wall time) it writes one Parquet part per table, then appends one line to the manifest. A part
that the manifest does not name (the process died between the two) is deleted at the next start; a torn
last line is cut off. So ``kill -9`` at any moment loses at most the shard in flight, and a rerun of the
same command scores only what no committed line names.

    >>> with ArchiveJournal("out", key={"model": card.fingerprint(), "hop_s": 2.5}) as journal:
    ...     todo = [f for f in files if not journal.done(rid(f), *file_stamp(f))]
    ...     with journal.shard_writer(max_recordings=200) as shards:
    ...         shards.add("site_a/0600.wav", stamp, {"windows": table}, audio_s=3600.0)
    ...     for part in journal.rows("windows", ids):   # each recording's rows, in the order asked
    ...         ...

The row schema is the caller's (any Arrow table per recording and table name): ``predict`` and ``embed``
share this journal. A key that differs from the one OUT was written with is refused naming the fields
that differ (:class:`JournalKeyError`), unless ``overwrite=True`` clears the journal first. A second run
on the same OUT is refused while the first is alive (:class:`OutputLockedError`); a lock left by a dead
process is taken over. The lock is a POSIX record lock: local disks and NFS with lockd, not every
network file system.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from wildtag.config import ConfigError
from wildtag.fileio import atomic_path, write_text_atomic

STATE_DIR = ".wildtag"
FORMAT = "wildtag-archive-journal/1"

try:  # POSIX record locks are per process: not inherited by forked decode workers, freed when we die
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class JournalKeyError(ConfigError):
    """OUT holds rows made by another model or other settings than the run asked for."""


class OutputLockedError(FileExistsError):
    """Another live process is writing to the same OUT."""


@dataclass(frozen=True)
class FileStamp:
    """What tells whether a file changed since it was scored: its size and modification time (ns)."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> FileStamp:
        st = os.stat(path)
        return cls(st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class JournalEntry:
    """A recording's committed rows: in which shard, where in each table, and the file it came from."""

    recording_id: str
    stamp: FileStamp
    shard: int
    rows: dict[str, tuple[int, int]]  # table -> (offset, length) in that shard's part
    audio_s: float
    extra: dict[str, Any]


def key_fingerprint(key: Mapping[str, Any]) -> str:
    """sha256 of a key's canonical JSON."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


class ArchiveJournal:
    """The journal of the run in ``out_dir`` for ``key`` (JSON-able); use it as a context manager (the lock)."""

    def __init__(self, out_dir: str | os.PathLike[str], key: Mapping[str, Any], *, overwrite: bool = False):
        self.out_dir = Path(out_dir)
        self.state = self.out_dir / STATE_DIR
        self.key = json.loads(json.dumps(dict(key), sort_keys=True, default=str))
        self.overwrite = overwrite
        self.entries: dict[str, JournalEntry] = {}
        self.next_shard = 0
        self._lock_fd: int | None = None
        self._parts: OrderedDict[tuple[str, int], pa.Table] = OrderedDict()
        self.cache_parts = 4

    # -- opening -------------------------------------------------------------------------------------
    def __enter__(self) -> ArchiveJournal:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Take the lock, check (or write) the key, and read the manifest, repairing what a crash left."""
        self.state.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            self._check_key()
            self._read_manifest()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the lock (the journal stays on disk for the next run)."""
        self._parts.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the POSIX lock
            self._lock_fd = None

    def _lock(self) -> None:
        path = self.state / "lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "another process"
                os.close(fd)
                raise OutputLockedError(
                    f"{self.out_dir} is being written by another wildtag run ({holder}); wait for it to end "
                    f"or give another --out") from None
        else:  # pragma: no cover - no record locks: trust the pid in the file
            holder = os.read(fd, 4096).decode("utf-8", "replace").strip()
            if holder and _pid_alive(holder):
                os.close(fd)
                raise OutputLockedError(f"{self.out_dir} is being written by another wildtag run ({holder})")
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since "
                     f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode())
        self._lock_fd = fd

    def _check_key(self) -> None:
        run_json = self.state / "run.json"
        if self.overwrite:
            self.clear()
        elif run_json.exists():
            try:
                stored = json.loads(run_json.read_text(encoding="utf-8"))
                if stored.get("format") != FORMAT:
                    raise ValueError(f"format {stored.get('format')!r}")
                old_key = stored["key"]
            except (ValueError, KeyError, TypeError) as error:
                raise ConfigError(f"{run_json}: not a wildtag journal ({error}); remove {self.state} or "
                                  "give another --out") from None
            if old_key == self.key:
                return
            raise JournalKeyError(
                f"{self.out_dir} holds rows made by another model or other settings "
                f"({describe_difference(old_key, self.key)}); give another --out, or --overwrite to "
                "score everything again")
        write_text_atomic(run_json, json.dumps({"format": FORMAT, "key": self.key,
                                                "fingerprint": key_fingerprint(self.key)}, indent=2) + "\n")

    def clear(self) -> None:
        """Forget every committed shard (the lock is kept)."""
        for name in ("manifest.jsonl", "run.json"):
            (self.state / name).unlink(missing_ok=True)
        shutil.rmtree(self.state / "shards", ignore_errors=True)
        self.entries.clear()
        self.next_shard = 0

    def _read_manifest(self) -> None:
        manifest = self.state / "manifest.jsonl"
        committed: dict[int, dict[str, str]] = {}
        if manifest.exists():
            data = manifest.read_bytes()
            whole = data[: data.rfind(b"\n") + 1]
            if len(whole) != len(data):  # a line torn by a crash: cut it off before appending again
                with manifest.open("r+b") as handle:
                    handle.truncate(len(whole))
            committed = _parse_manifest(self.state, whole, self.entries)
        referenced = {self.state / p for tables in committed.values() for p in tables.values()}
        numbers = [-1, *committed]
        for part in (self.state / "shards").glob("*/part-*.parquet"):
            if part not in referenced:
                part.unlink()  # written by a run that died before committing it
            else:
                numbers.append(int(part.stem.split("-")[1]))
        self.next_shard = max(numbers) + 1

    # -- asking ----------------------------------------------------------------------------------------
    def done(self, recording_id: str, size: int, mtime_ns: int) -> bool:
        """Whether ``recording_id`` is committed for a file of this size and modification time."""
        entry = self.entries.get(recording_id)
        return entry is not None and entry.stamp == FileStamp(int(size), int(mtime_ns))

    def shard_writer(self, **limits: Any) -> ShardWriter:
        """A :class:`ShardWriter` committing into this journal (see its arguments)."""
        return ShardWriter(self, **limits)

    def rows(self, table: str, recording_ids: Iterable[str]) -> Iterator[pa.Table]:
        """Each committed recording's rows of ``table``, in the order of ``recording_ids`` (others skipped).

        Parts are read whole and the last ``cache_parts`` kept, so memory holds a few shards, not the archive.
        """
        for rid in recording_ids:
            entry = self.entries.get(rid)
            if entry is None or table not in entry.rows:
                continue
            offset, length = entry.rows[table]
            yield self._part(table, entry.shard).slice(offset, length)

    def _part(self, table: str, shard: int) -> pa.Table:
        key = (table, shard)
        if key in self._parts:
            self._parts.move_to_end(key)
            return self._parts[key]
        part = pq.read_table(self._part_path(table, shard))
        self._parts[key] = part
        if len(self._parts) > self.cache_parts:
            self._parts.popitem(last=False)
        return part

    def _part_path(self, table: str, shard: int) -> Path:
        return part_path(self.state, table, shard)

    def _commit(self, tables: dict[str, pa.Table], recordings: list[dict[str, Any]]) -> None:
        """Write one shard's parts, then its manifest line (the commit point)."""
        shard = self.next_shard
        paths, sizes = {}, {}
        for name, table in tables.items():
            path = self._part_path(name, shard)
            with atomic_path(path) as tmp:
                pq.write_table(table, tmp)
            paths[name] = path.relative_to(self.state).as_posix()
            sizes[name] = path.stat().st_size
        line = json.dumps({"shard": shard, "tables": paths, "bytes": sizes, "recordings": recordings},
                          separators=(",", ":"), default=str)
        with (self.state / "manifest.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        for r in recordings:
            self.entries[r["id"]] = JournalEntry(r["id"], FileStamp(r["size"], r["mtime_ns"]), shard,
                                                 {t: tuple(v) for t, v in r["rows"].items()}, r["audio_s"],
                                                 r.get("extra", {}))
        self.next_shard = shard + 1


class ShardWriter:
    """Buffers whole recordings' rows and commits them as one shard every ``max_recordings`` recordings,
    ``max_audio_s`` seconds of audio or ``max_wall_s`` seconds of wall time, whichever comes first.

    Leaving its ``with`` block, with or without an error, commits what is buffered (whole recordings only).
    """

    def __init__(self, journal: ArchiveJournal, *, max_recordings: int = 500, max_audio_s: float = 36000.0,
                 max_wall_s: float = 120.0):
        if max_recordings < 1:
            raise ValueError(f"max_recordings must be >= 1, got {max_recordings}")
        self.journal = journal
        self.max_recordings, self.max_audio_s, self.max_wall_s = max_recordings, max_audio_s, max_wall_s
        self._tables: dict[str, list[pa.Table]] = {}
        self._rows: dict[str, int] = {}
        self._recordings: list[dict[str, Any]] = []
        self._audio_s = 0.0
        self._since = time.monotonic()
        self.n_shards = 0

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.flush()
        else:  # stopped (Ctrl-C, --fail-on-error): the recordings buffered are complete, keep them
            with contextlib.suppress(Exception):
                self.flush()

    def add(self, recording_id: str, stamp: FileStamp, tables: Mapping[str, pa.Table], *, audio_s: float,
            extra: Mapping[str, Any] | None = None) -> None:
        """Buffer one recording's rows (one table per name, any schema, the same schema per name)."""
        rows = {}
        for name, table in tables.items():
            offset = self._rows.get(name, 0)
            self._tables.setdefault(name, []).append(table)
            self._rows[name] = offset + table.num_rows
            rows[name] = (offset, table.num_rows)
        self._recordings.append({"id": recording_id, "size": stamp.size, "mtime_ns": stamp.mtime_ns,
                                 "audio_s": float(audio_s), "rows": rows, "extra": dict(extra or {})})
        self._audio_s += audio_s
        if (len(self._recordings) >= self.max_recordings or self._audio_s >= self.max_audio_s
                or time.monotonic() - self._since >= self.max_wall_s):
            self.flush()

    def flush(self) -> None:
        """Commit the buffered recordings as one shard (nothing when the buffer is empty)."""
        if self._recordings:
            tables = {name: pa.concat_tables(parts) for name, parts in self._tables.items()}
            self.journal._commit(tables, self._recordings)
            self.n_shards += 1
        self._tables, self._rows, self._recordings, self._audio_s = {}, {}, [], 0.0
        self._since = time.monotonic()


def part_path(state: Path, table: str, shard: int) -> Path:
    """Where shard ``shard`` of ``table`` lies under a journal's state folder (``OUT/.wildtag``)."""
    return state / "shards" / table / f"part-{shard:06d}.parquet"


def _parse_manifest(state: Path, whole: bytes, entries: dict[str, JournalEntry]) -> dict[int, dict[str, str]]:
    """Fill ``entries`` from the complete manifest lines ``whole``; the committed shards' tables by number."""
    committed: dict[int, dict[str, str]] = {}
    manifest = state / "manifest.jsonl"
    for number, line in enumerate(whole.decode("utf-8", "replace").splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{manifest}:{number}: damaged journal line ({error.msg}); remove "
                              f"{state} to score everything again") from None
        parts = {t: state / p for t, p in record["tables"].items()}
        if not all(p.exists() and p.stat().st_size == record["bytes"][t] for t, p in parts.items()):
            continue  # a part lost after the line was written (power loss): score those again
        committed[record["shard"]] = record["tables"]
        for r in record["recordings"]:
            entries[r["id"]] = JournalEntry(
                r["id"], FileStamp(r["size"], r["mtime_ns"]), record["shard"],
                {t: tuple(v) for t, v in r["rows"].items()}, r["audio_s"], r.get("extra", {}))
    return committed


def committed_entries(out_dir: str | os.PathLike[str]) -> dict[str, JournalEntry]:
    """The recordings committed in ``out_dir``'s journal, read without the lock and without repairing it.

    For readers of an OUT that a run may still be writing (``wildtag search`` on an embedding store): a
    torn last line is ignored, parts not yet committed are not looked at, so what is returned is whole.
    """
    state = Path(out_dir) / STATE_DIR
    manifest = state / "manifest.jsonl"
    entries: dict[str, JournalEntry] = {}
    if manifest.exists():
        data = manifest.read_bytes()
        _parse_manifest(state, data[: data.rfind(b"\n") + 1], entries)
    return entries


def describe_difference(old: Mapping[str, Any], new: Mapping[str, Any], limit: int = 4) -> str:
    """``"windows.hop_s 2.5 -> 1.0, model 3fa1c2... -> 9b07e1..."``: the fields of two keys that differ."""
    before, after = _flatten(old), _flatten(new)
    changes = [f"{name} {_short(before.get(name, '(unset)'))} -> {_short(after.get(name, '(unset)'))}"
               for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]
    shown = ", ".join(changes[:limit]) + (f" and {len(changes) - limit} more" if len(changes) > limit else "")
    return shown or "the key differs"


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in tree.items():
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:12] + "..."


def _pid_alive(holder: str) -> bool:  # pragma: no cover - used only without fcntl
    try:
        os.kill(int(holder.split()[1]), 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
