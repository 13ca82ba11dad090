from __future__ import annotations

import json

import numpy as np
import pytest

from wildtag.labels import ClassMap, LabelError, UnknownLabelError


def test_from_labels_sorted_unique_and_in_first_seen_order():
    labels = ["wren", "robin", "wren", "", "blackbird"]
    assert ClassMap.from_labels(labels).names == ("blackbird", "robin", "wren")
    assert ClassMap.from_labels(labels, sort=False).names == ("wren", "robin", "blackbird")


def test_from_labels_flattens_clip_label_lists():
    cells = [["b", "a"], [], ["c"], float("nan")]
    assert ClassMap.from_labels(cells).names == ("a", "b", "c")


def test_container_protocol_and_index():
    classes = ClassMap(["16_1", "16_4", "3"])
    assert classes.names == ("16_1", "16_4", "3")  # a list given is stored as a tuple
    assert len(classes) == 3 and list(classes) == ["16_1", "16_4", "3"]
    assert "16_4" in classes and "16" not in classes
    assert [classes.index(n) for n in ("3", "16_1")] == [2, 0]


def test_encode_multi_hot():
    classes = ClassMap(("a", "b", "c"))
    vector = classes.encode(["c", "a"])
    assert vector.dtype == np.float32 and vector.tolist() == [1.0, 0.0, 1.0]
    assert classes.encode(["b"], value=0.3)[1] == pytest.approx(0.3)
    assert classes.encode([]).tolist() == [0.0, 0.0, 0.0]


def test_unknown_name_suggests_close_matches():
    classes = ClassMap(("robin", "wren", "blackbird"))
    with pytest.raises(UnknownLabelError) as caught:
        classes.index("robn")
    assert "'robin'" in str(caught.value) and "Did you mean" in str(caught.value)
    assert caught.value.close_matches == ["robin"]
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, LabelError)
    with pytest.raises(KeyError):
        classes.encode(["zebra"])


@pytest.mark.parametrize("names", [("a", "a"), ("a", ""), ("a", 3)])
def test_rejects_duplicate_empty_or_non_string_names(names):
    with pytest.raises(LabelError):
        ClassMap(names)


def test_json_round_trip(tmp_path):
    classes = ClassMap(("Noctilio leporinus", "16_1", "Grillon d'Italie", "ünïcode"))
    path = classes.to_json(tmp_path / "runs" / "classes.json")
    assert json.loads(path.read_text(encoding="utf-8")) == {"names": list(classes.names)}
    assert ClassMap.from_json(path) == classes
    assert ClassMap.from_dict(classes.to_dict()) == classes
    assert hash(ClassMap.from_json(path)) == hash(classes)


def test_from_json_names_the_file_when_malformed(tmp_path):
    bad = tmp_path / "classes.json"
    bad.write_text('{"names": ["a",', encoding="utf-8")
    with pytest.raises(LabelError, match="classes.json"):
        ClassMap.from_json(bad)
    bad.write_text('{"names": ["a"], "nmes": []}', encoding="utf-8")
    with pytest.raises(LabelError, match="nmes"):
        ClassMap.from_json(bad)
    with pytest.raises(LabelError, match="no such file"):
        ClassMap.from_json(tmp_path / "missing.json")
