from __future__ import annotations

import pickle

import pytest

from wildtag.labels import ClassMap, LabelError, UnknownLabelError


def test_message_names_path_and_row():
    error = LabelError("a/b.txt", 7, "t1_s must be greater than t0_s")
    assert str(error) == "a/b.txt:7: t1_s must be greater than t0_s"
    assert (error.path, error.row, error.reason) == ("a/b.txt", 7, "t1_s must be greater than t0_s")
    assert str(LabelError("a/b.txt", None, "empty")) == "a/b.txt: empty"
    assert isinstance(error, ValueError)


def test_at_parses_a_source_even_with_colons_in_the_path():
    error = LabelError.at("C:/data/x.csv:12", "bad")
    assert (error.path, error.row) == ("C:/data/x.csv", 12)
    assert LabelError.at("", "bad").path is None


def test_errors_survive_pickling_for_worker_processes():
    error = pickle.loads(pickle.dumps(LabelError("x.txt", 3, "bad")))
    assert str(error) == "x.txt:3: bad"
    with pytest.raises(UnknownLabelError) as caught:
        ClassMap(("robin",)).index("robn")
    again = pickle.loads(pickle.dumps(caught.value))
    assert again.close_matches == ["robin"] and "robn" in str(again)
