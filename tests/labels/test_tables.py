from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wildtag.labels import (
    LabelError,
    make_clip_labels,
    make_events,
    read_clip_labels_table,
    read_events,
    read_raven,
    write_table,
)


@pytest.fixture
def events():
    return make_events(
        [
            {
                "recording_id": "NA",
                "t0_s": 0.1 + 0.2,
                "t1_s": 1 / 3,
                "label": "NA",
                "present": False,
                "weight": 0.1,
                "count": 3,
                "snr_db": 1e-7,
                "ok": True,
                "note": 'a, "quoted" note',
                "source": "a.selections.txt:2",
            },
            {
                "recording_id": "007",
                "t0_s": 5.0,
                "t1_s": 7.0,
                "f0_hz": 0.0,
                "f1_hz": 11025.0,
                "label": "",
                "count": -2,
                "snr_db": np.nan,
                "ok": False,
                "note": "",
                "source": "a.selections.txt:3",
            },
        ]
    )


@pytest.fixture
def clips():
    return make_clip_labels(
        [
            {
                "recording_id": "x/a.ogg",
                "labels": ["acafly", "amecro"],
                "secondary_labels": ["bkcchi"],
                "fold": 0,
                "rating": 4.5,
            },
            {
                "recording_id": "b.ogg",
                "t0_s": 0.0,
                "t1_s": 5.0,
                "labels": [],
                "secondary_labels": [],
                "fold": 1,
                "rating": np.nan,
            },
        ],
        origin="meta.csv",
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_event_round_trip(tmp_path, events, suffix):
    path = write_table(events, tmp_path / "sub" / f"events{suffix}")
    again = read_events(path)
    pd.testing.assert_frame_equal(again, events)
    assert again.loc[0, "t0_s"] == 0.1 + 0.2 and again.loc[0, "label"] == "NA"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_clip_label_round_trip(tmp_path, clips, suffix):
    again = read_clip_labels_table(write_table(clips, tmp_path / f"clips{suffix}"))
    pd.testing.assert_frame_equal(again, clips)
    assert again.loc[0, "labels"] == ["acafly", "amecro"] and isinstance(again.loc[1, "labels"], list)


def test_csv_cells_are_plain_text(tmp_path, clips):
    text = write_table(clips, tmp_path / "c.csv").read_text()
    assert text.splitlines()[0] == "recording_id,t0_s,t1_s,labels,secondary_labels,source,fold,rating"
    assert "x/a.ogg,,,acafly;amecro,bkcchi,meta.csv:2,0,4.5" in text


def test_real_raven_events_round_trip(tmp_path, shared_data):
    path = sorted((shared_data / "bats_whombat").glob("*.selections.txt"))[0]
    events = read_raven(path)
    for suffix in (".csv", ".parquet"):
        pd.testing.assert_frame_equal(read_events(write_table(events, tmp_path / f"bats{suffix}")), events)


def test_semicolon_in_a_name_cannot_go_to_csv_but_can_to_parquet(tmp_path):
    clips = make_clip_labels([{"recording_id": "a", "labels": ["a;b"]}])
    with pytest.raises(LabelError, match="';'"):
        write_table(clips, tmp_path / "c.csv")
    assert not (tmp_path / "c.csv").exists()
    assert read_clip_labels_table(write_table(clips, tmp_path / "c.parquet")).loc[0, "labels"] == ["a;b"]


def test_failed_write_keeps_the_old_file(tmp_path, events):
    path = write_table(events, tmp_path / "e.csv")
    before = path.read_bytes()
    bad = make_clip_labels([{"recording_id": "a", "labels": ["x;y"]}])
    with pytest.raises(LabelError):
        write_table(bad, path)
    assert path.read_bytes() == before


def test_hand_written_csv_gets_sources_and_named_errors(write_file):
    path = write_file(
        "mine.csv", "recording_id,t0_s,t1_s,label,present\nr1,0.5,1.0,wren,yes\nr1,2.0,1.5,wren,no\n"
    )
    with pytest.raises(LabelError, match="greater than t0_s") as caught:
        read_events(path)
    assert (caught.value.path, caught.value.row) == (str(path), 3)
    good = write_file("good.csv", "recording_id,t0_s,t1_s,label\nr1,0.5,1.0,wren\n")
    events = read_events(good)
    assert events["source"].tolist() == [f"{good}:2"] and events["present"].tolist() == [True]


def test_unknown_suffix(tmp_path, events):
    with pytest.raises(LabelError, match="unknown table format"):
        write_table(events, tmp_path / "e.xlsx")
    with pytest.raises(LabelError, match="no such file"):
        read_events(tmp_path / "missing.parquet")
