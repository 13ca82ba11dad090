import json
import os
import subprocess
import sys

import pyarrow as pa
import pytest

from wildtag.inference.journal import ArchiveJournal, FileStamp, JournalKeyError, OutputLockedError

KEY = {"model": "abc", "hop_s": 2.5}


def _rows(rid, n, value):
    return {"windows": pa.table({"recording": [rid] * n, "t0_s": [float(i) for i in range(n)],
                                 "score": [value] * n})}


def test_rows_come_back_per_recording_in_the_order_asked_across_shards(tmp_path):
    with ArchiveJournal(tmp_path, KEY) as journal, journal.shard_writer(max_recordings=2) as shards:
        for i, rid in enumerate(["a", "b", "c", "d", "e"]):
            shards.add(rid, FileStamp(10 + i, 99), _rows(rid, i + 1, float(i)), audio_s=1.0)
    assert shards.n_shards == 3  # 2 + 2 + the last one, committed when the writer closed
    with ArchiveJournal(tmp_path, KEY) as journal:
        assert journal.done("c", 12, 99) and not journal.done("c", 12, 100) and not journal.done("x", 1, 1)
        parts = list(journal.rows("windows", ["e", "a", "missing", "c"]))
    assert [p.column("recording")[0].as_py() for p in parts] == ["e", "a", "c"]
    assert [p.num_rows for p in parts] == [5, 1, 3]
    assert parts[2].column("score").to_pylist() == [2.0, 2.0, 2.0]


def test_a_changed_key_is_refused_naming_the_field_unless_overwrite(tmp_path):
    with ArchiveJournal(tmp_path, KEY) as journal, journal.shard_writer() as shards:
        shards.add("a", FileStamp(1, 1), _rows("a", 2, 0.5), audio_s=1.0)
    with pytest.raises(JournalKeyError, match=r"hop_s 2.5 -> 1.0.*--overwrite"):
        ArchiveJournal(tmp_path, {**KEY, "hop_s": 1.0}).open()
    with ArchiveJournal(tmp_path, {**KEY, "hop_s": 1.0}, overwrite=True) as journal:
        assert not journal.done("a", 1, 1) and not list((tmp_path / ".wildtag" / "shards").glob("*/*"))


def test_a_torn_manifest_line_and_an_uncommitted_part_are_repaired(tmp_path):
    with ArchiveJournal(tmp_path, KEY) as journal, journal.shard_writer(max_recordings=1) as shards:
        shards.add("a", FileStamp(1, 1), _rows("a", 2, 0.5), audio_s=1.0)
        shards.add("b", FileStamp(1, 1), _rows("b", 2, 0.5), audio_s=1.0)
    manifest = tmp_path / ".wildtag" / "manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text(lines[0] + lines[1][: len(lines[1]) // 2])  # killed while appending b's line
    with ArchiveJournal(tmp_path, KEY) as journal:
        assert journal.done("a", 1, 1) and not journal.done("b", 1, 1)
        assert manifest.read_text() == lines[0]  # the torn line is cut off
        assert [p.name for p in (tmp_path / ".wildtag" / "shards" / "windows").iterdir()] == ["part-000000.parquet"]
        with journal.shard_writer() as shards:  # b scored again, into a fresh shard
            shards.add("b", FileStamp(1, 1), _rows("b", 3, 0.7), audio_s=1.0)
    with ArchiveJournal(tmp_path, KEY) as journal:
        (b,) = journal.rows("windows", ["b"])
        assert b.column("score").to_pylist() == [0.7] * 3
    assert [json.loads(line)["shard"] for line in manifest.read_text().splitlines()] == [0, 1]


def test_a_changed_file_is_not_done(tmp_path):
    audio = tmp_path / "x.wav"
    audio.write_bytes(b"1234")
    stamp = FileStamp.of(audio)
    with ArchiveJournal(tmp_path / "out", KEY) as journal, journal.shard_writer() as shards:
        shards.add("x.wav", stamp, _rows("x.wav", 1, 0.1), audio_s=1.0)
    audio.write_bytes(b"123456")
    with ArchiveJournal(tmp_path / "out", KEY) as journal:
        assert not journal.done("x.wav", *vars(FileStamp.of(audio)).values())
        assert journal.done("x.wav", stamp.size, stamp.mtime_ns)


HOLD = """
import sys, time
from wildtag.inference.journal import ArchiveJournal
with ArchiveJournal(sys.argv[1], {"model": "abc", "hop_s": 2.5}):
    print("ready", flush=True)
    time.sleep(60)
"""


def test_a_second_writer_is_refused_while_the_first_lives_and_the_lock_is_free_when_it_dies(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(OutputLockedError, match=rf"pid {holder.pid} on .*another --out"):
            ArchiveJournal(tmp_path, KEY).open()
    finally:
        holder.kill()  # SIGKILL: no cleanup runs, the pid stays written in the lock file
        holder.wait()
    assert f"pid {holder.pid} " in (tmp_path / ".wildtag" / "lock").read_text()
    with ArchiveJournal(tmp_path, KEY):  # a dead holder's lock is taken over
        assert f"pid {os.getpid()} " in (tmp_path / ".wildtag" / "lock").read_text()
