import pandas as pd
import pytest

from wildtag.fileio import atomic_path, write_csv_atomic, write_text_atomic
from wildtag.suggest import closest, did_you_mean


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    write_text_atomic(target, "one")
    write_text_atomic(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a.csv"
    write_csv_atomic(pd.DataFrame({"x": [1]}), target)
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert pd.read_csv(target)["x"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


def test_did_you_mean():
    assert did_you_mean("pretrainde_path", ["pretrained_path", "drop_rate"]) == " (did you mean 'pretrained_path'?)"
    assert did_you_mean("zzz", ["pretrained_path"]) == ""
    assert closest("robn", ["robin", "wren", "rob"], n=2)[0] == "robin"


def test_concurrent_writers_of_one_file_never_share_a_temporary(tmp_path):
    """Two writers in one process (threads of predict, say) each get their own temporary file."""
    target = tmp_path / "a.txt"
    with atomic_path(target) as first, atomic_path(target) as second:
        assert first != second and first.parent == second.parent == tmp_path
        first.write_text("one")
        second.write_text("two")
    assert target.read_text() == "one"  # the outer writer finished last
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
