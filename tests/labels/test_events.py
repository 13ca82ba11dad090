from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from wildtag.labels import EVENT_COLUMNS, ClassMap, LabelError, make_events, validate_events


def _row(**kw):
    row = {"recording_id": "rec", "t0_s": 1.0, "t1_s": 2.0, "label": "wren"}
    row.update(kw)
    return row


def test_defaults_dtypes_and_column_order():
    events = make_events(
        [_row(extra_note="faint"), _row(f0_hz=100.0, f1_hz=900.0, present=False, weight=0.25)]
    )
    assert tuple(events.columns) == (*EVENT_COLUMNS, "extra_note")
    assert [str(events[c].dtype) for c in ("t0_s", "f0_hz", "present", "weight")] == [
        "float64",
        "float64",
        "bool",
        "float64",
    ]
    for column in ("recording_id", "label", "source"):
        assert pd.api.types.is_string_dtype(events[column])
    assert math.isnan(events.loc[0, "f0_hz"]) and math.isnan(events.loc[0, "f1_hz"])
    assert events["present"].tolist() == [True, False]
    assert events["weight"].tolist() == [1.0, 0.25]
    assert events.loc[1, "f1_hz"] == 900.0


def test_origin_gives_each_row_its_file_line():
    events = make_events(pd.DataFrame([_row(), _row(t0_s=3.0, t1_s=4.0)]), origin="labels.csv")
    assert events["source"].tolist() == ["labels.csv:2", "labels.csv:3"]


def test_existing_source_is_kept_and_index_reset():
    frame = pd.DataFrame([_row(source="a.txt:9"), _row(source="b.txt:4")], index=[10, 20])
    events = make_events(frame, origin="ignored.csv")
    assert events["source"].tolist() == ["a.txt:9", "b.txt:4"]
    assert events.index.tolist() == [0, 1]


def test_text_cells_are_parsed_and_bad_ones_named_by_line():
    frame = pd.DataFrame([_row(t0_s="0.5", present="no"), _row(t0_s="soon")])
    with pytest.raises(LabelError) as caught:
        make_events(frame, origin="ev.csv")
    assert (caught.value.path, caught.value.row) == ("ev.csv", 3)
    assert "'soon'" in caught.value.reason
    good = make_events(frame.iloc[:1])
    assert good.loc[0, "t0_s"] == 0.5 and not good.loc[0, "present"]


def test_missing_column_lists_what_was_found():
    with pytest.raises(LabelError) as caught:
        make_events([{"recording_id": "a", "start": 1.0, "t1_s": 2.0, "label": "x"}], origin="ev.csv")
    message = str(caught.value)
    assert message.startswith("ev.csv:1:") and "'t0_s'" in message and "'start'" in message


def test_empty_input_gives_an_empty_table_with_the_schema():
    events = make_events([])
    assert len(events) == 0 and tuple(events.columns) == EVENT_COLUMNS
    assert events["present"].dtype == bool


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"t0_s": np.nan}, "t0_s is nan"),
        ({"t1_s": np.inf}, "t1_s is inf"),
        ({"t0_s": -0.5}, "negative"),
        ({"t1_s": 1.0}, "must be greater than t0_s"),
        ({"f0_hz": 100.0}, "give both"),
        ({"f0_hz": -10.0, "f1_hz": 100.0}, "cannot be negative"),
        ({"f0_hz": 500.0, "f1_hz": 500.0}, "f1_hz (500.0) must be greater than f0_hz"),
        ({"weight": 1.5}, "weight is 1.5"),
        ({"weight": -0.1}, "weight is -0.1"),
        ({"recording_id": ""}, "recording_id is empty"),
    ],
)
def test_each_bad_box_is_named_by_its_source(change, words):
    rows = [_row(source="t.txt:2"), _row(source="t.txt:3", **change)]
    with pytest.raises(LabelError) as caught:
        make_events(rows)
    assert (caught.value.path, caught.value.row) == ("t.txt", 3)
    assert words in caught.value.reason


def test_missing_optional_cells_take_the_defaults():
    events = make_events([_row(present=False, weight=0.5), _row()])
    assert events["present"].tolist() == [False, True]
    assert events["weight"].tolist() == [0.5, 1.0]


def test_the_first_bad_row_is_reported_whatever_the_check():
    rows = [_row(source="t.txt:2"), _row(source="t.txt:3", weight=2.0), _row(source="t.txt:4", t1_s=0.1)]
    with pytest.raises(LabelError) as caught:
        make_events(rows)
    assert caught.value.row == 3 and "weight" in caught.value.reason


def test_validation_against_recordings_and_classes():
    events = make_events(
        [_row(source="b.txt:2", f0_hz=100.0, f1_hz=8000.0), _row(source="b.txt:3", t0_s=9.0, t1_s=10.0005)]
    )
    validate_events(
        events, durations_s={"rec": 10.0}, sample_rates={"rec": 16000}, class_map=ClassMap(("wren",))
    )

    with pytest.raises(LabelError) as caught:
        validate_events(events, durations_s={"rec": 9.5})
    assert caught.value.row == 3 and "past the end" in caught.value.reason
    with pytest.raises(LabelError) as caught:
        validate_events(events, sample_rates={"rec": 12000})
    assert caught.value.row == 2 and "Nyquist" in caught.value.reason and "6000" in caught.value.reason
    with pytest.raises(LabelError) as caught:
        validate_events(events, durations_s={"other": 10.0})
    assert caught.value.row == 2 and "missing recording 'rec'" in caught.value.reason
    with pytest.raises(LabelError) as caught:
        validate_events(events, class_map=ClassMap(("wran", "robin")))
    assert "unknown class 'wren'" in caught.value.reason and "'wran'" in caught.value.reason


def test_rows_without_source_are_named_by_position():
    events = make_events([_row(), _row(t0_s=2.0, t1_s=3.0)])
    with pytest.raises(LabelError, match=r"row 1 \(0-based\)") as caught:
        validate_events(events, durations_s={"rec": 2.5})
    assert caught.value.path is None


def test_unlabeled_box_fails_only_against_a_class_map():
    events = make_events([_row(label="")])
    validate_events(events)
    with pytest.raises(LabelError, match="no label"):
        validate_events(events, class_map=ClassMap(("wren",)))
