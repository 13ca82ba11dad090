from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from wildtag.labels import (
    EVENT_COLUMNS,
    ClassMap,
    LabelError,
    make_events,
    raven_recording_id,
    read_raven,
    validate_events,
    write_raven,
)

HEADER = "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tSpecies\n"


def _table(*rows: str, header: str = HEADER) -> str:
    return header + "".join(row + "\n" for row in rows)


# --- the real tables in shared data ------------------------------------------------------------------


def test_survey_table_with_ragged_rows_and_an_unlabeled_box(shared_data):
    path = shared_data / "raven_tables" / "MSD-0003_20180427_2minstart00.Table.1.selections.txt"
    events = read_raven(path)
    assert len(events) == 10
    assert set(events["recording_id"]) == {"MSD-0003_20180427_2minstart00"}
    assert events["label"].tolist() == [
        "WOTH",
        "EATO",
        "WOTH",
        "WOTH",
        "EATO",
        "EATO",
        "WOTH",
        "LOWA",
        "EATO",
        "",
    ]
    first = events.iloc[0]
    assert (first.t0_s, first.t1_s, first.f0_hz, first.f1_hz) == (
        1.897648165999982,
        4.110570810999974,
        1326.3,
        3266.5,
    )
    assert events.loc[9, "t1_s"] == 16.07000674400001
    assert events["source"].iloc[-1] == f"{path}:11"
    # The header names 'distance' and 'type' that no row fills: kept, empty.
    assert list(events.columns[len(EVENT_COLUMNS) :]) == ["distance", "type"]
    assert (events["distance"] == "").all()
    named = read_raven(path, default_label="unknown")
    assert named["label"].iloc[-1] == "unknown" and named["label"].iloc[0] == "WOTH"


def test_annotation_column_without_final_newline(shared_data):
    events = read_raven(shared_data / "raven_tables" / "raven_with_Annotation_col.txt")
    assert len(events) == 1
    assert events.loc[0, "label"] == "CSWA"
    assert events.loc[0, "recording_id"] == "raven_with_Annotation_col"
    assert (events.loc[0, "t0_s"], events.loc[0, "f1_hz"]) == (1.897648165999982, 3266.5)


def test_empty_table_gives_no_rows_and_the_schema(shared_data):
    events = read_raven(shared_data / "raven_tables" / "EmptyExample.Table.1.selections.txt")
    assert len(events) == 0
    assert tuple(events.columns) == EVENT_COLUMNS
    assert events["t0_s"].dtype == np.float64 and events["present"].dtype == bool


def test_bat_tables_hold_433_boxes_with_their_species(shared_data):
    paths = sorted((shared_data / "bats_whombat").glob("*.selections.txt"))
    assert len(paths) == 10
    total = 0
    for path in paths:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        events = read_raven(path)
        assert len(events) == len(lines) - 1, path.name
        total += len(events)
        assert events["label"].nunique() == 1
        genus = events["label"].iloc[0].split()[0]
        assert genus in path.name  # the recording is named after the species annotated in it
        assert events["recording_id"].iloc[0] == path.name.split(".Table.")[0]
        assert "Call Quality" in events.columns
        assert (events["f1_hz"] > events["f0_hz"]).all() and (events["t1_s"] > events["t0_s"]).all()
    assert total == 433
    noctilio = read_raven(paths[0])
    assert noctilio["label"].iloc[0] == "Noctilio leporinus"
    assert noctilio.iloc[0][["t0_s", "t1_s", "f0_hz", "f1_hz"]].tolist() == [
        0.137968,
        0.140849,
        27840.0,
        48480.0,
    ]


def test_bat_boxes_fit_their_audio(shared_data):
    sf = pytest.importorskip("soundfile")
    paths = sorted((shared_data / "bats_whombat").glob("*.selections.txt"))
    events = make_events(pd.concat([read_raven(p) for p in paths], ignore_index=True))
    infos = {p.stem: sf.info(p) for p in (shared_data / "bats_whombat" / "audio").glob("*.flac")}
    validate_events(
        events,
        durations_s={k: i.duration for k, i in infos.items()},
        sample_rates={k: i.samplerate for k, i in infos.items()},
        class_map=ClassMap.from_labels(events["label"]),
    )


# --- format variations ---------------------------------------------------------------------------------


def test_bom_crlf_and_one_row_per_selection_across_views(write_file):
    text = _table(
        "1\tWaveform 1\t1\t0.5\t1.5\t0\t0\tWOTH",
        "1\tSpectrogram 1\t1\t0.5\t1.5\t1000\t3000\tWOTH",
        "2\tSpectrogram 1\t1\t2.0\t2.25\t1500\t2500\tEATO",
        "2\tWaveform 1\t1\t2.0\t2.25\t0\t0\tEATO",
    ).replace("\n", "\r\n")
    path = write_file("site3.Table.2.selections.txt", "\ufeff" + text)
    events = read_raven(path)
    assert events["label"].tolist() == ["WOTH", "EATO"]
    assert events["f0_hz"].tolist() == [1000.0, 1500.0]  # the spectrogram rows, not the waveform ones
    assert events["source"].tolist() == [f"{path}:3", f"{path}:4"]
    assert set(events["recording_id"]) == {"site3"}
    assert tuple(events.columns) == EVENT_COLUMNS  # Selection, View and a single channel are bookkeeping


def test_a_selection_twice_in_one_view_is_an_error(write_file):
    path = write_file(
        "a.txt", _table("1\tSpectrogram 1\t1\t0.5\t1.5\t1\t3\tA", "1\tSpectrogram 1\t1\t2\t3\t1\t3\tB")
    )
    with pytest.raises(LabelError, match="appears twice") as caught:
        read_raven(path)
    assert caught.value.row == 3


def test_begin_file_and_file_offset_place_boxes_in_their_files(write_file):
    header = HEADER.rstrip("\n") + "\tBegin File\tFile Offset (s)\tCall Quality\n"
    path = write_file(
        "deployment.Table.1.selections.txt",
        _table(
            "1\tSpectrogram 1\t1\t10.0\t11.5\t100\t900\tA\tREC_001.WAV\t10.0\tgood",
            "2\tSpectrogram 1\t1\t65.0\t66.0\t100\t900\tB\tREC_002.WAV\t5.0\tpoor",
            "3\tSpectrogram 1\t2\t70.5\t71.0\t100\t900\tA\tREC_002.WAV\t10.5\t",
            header=header,
        ),
    )
    events = read_raven(path)
    assert events["recording_id"].tolist() == ["REC_001.WAV", "REC_002.WAV", "REC_002.WAV"]  # as Raven names them
    assert events["t0_s"].tolist() == [10.0, 5.0, 10.5]
    assert events["t1_s"].tolist() == pytest.approx([11.5, 6.0, 11.0])
    assert events["Channel"].tolist() == [1, 1, 2]  # a second channel is kept
    assert events["Call Quality"].tolist() == ["good", "poor", ""]
    with pytest.raises(LabelError, match="spans 2 files"):
        read_raven(path, recording_id="one")


def test_several_files_without_offsets_is_an_error(write_file):
    header = HEADER.rstrip("\n") + "\tBegin File\n"
    rows = ("1\tSpectrogram 1\t1\t1\t2\t1\t9\tA\ta.wav", "2\tSpectrogram 1\t1\t70\t71\t1\t9\tA\tb.wav")
    path = write_file("x.txt", _table(*rows, header=header))
    with pytest.raises(LabelError, match="File Offset"):
        read_raven(path)


def test_present_column_values(write_file):
    header = HEADER.rstrip("\n") + "\tVerified\n"
    values = ["yes", "no", "TP", "FP", "1", "0", "True", "absent"]
    rows = [f"{i + 1}\tSpectrogram 1\t1\t{i}\t{i + 0.5}\t100\t900\tA\t{v}" for i, v in enumerate(values)]
    path = write_file("p.txt", _table(*rows, header=header))
    events = read_raven(path, present_column="Verified")
    assert events["present"].tolist() == [True, False, True, False, True, False, True, False]
    bad = write_file("q.txt", _table(rows[0], "2\tSpectrogram 1\t1\t3\t4\t100\t900\tA\tmaybe", header=header))
    with pytest.raises(LabelError, match="'maybe'") as caught:
        read_raven(bad, present_column="Verified")
    assert caught.value.row == 3


def test_label_column_detection_and_override(write_file):
    header = "Selection\tBegin Time (s)\tEnd Time (s)\tSound Type\tNotes\n"
    path = write_file("s.txt", _table("1\t1\t2\t song \tx", header=header))
    assert read_raven(path)["label"].tolist() == ["song"]  # outer spaces removed
    assert read_raven(path, label_column="notes")["label"].tolist() == ["x"]
    with pytest.raises(LabelError, match="Call Type") as caught:
        read_raven(path, label_column="Call Type")
    assert "Sound Type" in str(caught.value)  # lists the columns found


def test_no_label_column_lists_candidates_unless_default_label(write_file):
    path = write_file("n.txt", _table("1\t1\t2", header="Selection\tBegin Time (s)\tEnd Time (s)\n"))
    with pytest.raises(LabelError) as caught:
        read_raven(path)
    assert "'Species'" in caught.value.reason and "'Annotation'" in caught.value.reason
    assert read_raven(path, default_label="bat")["label"].tolist() == ["bat"]
    assert math.isnan(read_raven(path, default_label="bat")["f0_hz"].iloc[0])


@pytest.mark.parametrize(
    "name, expected",
    [
        ("rec01.Table.1.selections.txt", "rec01"),
        ("rec01.selections.txt", "rec01"),
        ("rec.01.txt", "rec.01"),
    ],
)
def test_recording_id_from_table_name(name, expected):
    assert raven_recording_id(name) == expected


# --- malformed rows: file and line named --------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_row", "words"),
    [
        ("2\tSpectrogram 1\t1\tabc\t3.0\t100\t900\tA", "'Begin Time (s)' is 'abc', not a number"),
        ("2\tSpectrogram 1\t1\t2,5\t3.0\t100\t900\tA", "decimal comma"),
        ("2\tSpectrogram 1\t1\t3.0\t3.0\t100\t900\tA", "must be greater than t0_s"),
        ("2\tSpectrogram 1\t1\t2.0\t3.0\t900\t100\tA", "must be greater than f0_hz"),
        ("2\tSpectrogram 1\t1\t2.0\t\t100\t900\tA", "'End Time (s)' is empty"),
        ("2\tSpectrogram 1\t1\t2.0\t3.0\t100\t900\tA\textra", "fields"),
    ],
)
def test_malformed_row_is_named_by_file_and_line(write_file, bad_row, words):
    path = write_file(
        "bad.Table.1.selections.txt", _table("1\tSpectrogram 1\t1\t0\t1\t100\t900\tA", "", bad_row)
    )
    with pytest.raises(LabelError) as caught:
        read_raven(path)
    assert caught.value.path == str(path)
    assert caught.value.row == 4  # header, good row, blank line, bad row
    assert words in caught.value.reason
    assert str(caught.value).startswith(f"{path}:4: ")


def test_missing_time_column_lists_the_columns_found(write_file):
    path = write_file("m.txt", "Selection\tBegin Time (s)\tSpecies\n1\t0.5\tA\n")
    with pytest.raises(LabelError) as caught:
        read_raven(path)
    assert "'End Time (s)'" in caught.value.reason and "'Begin Time (s)'" in caught.value.reason
    assert caught.value.row == 1


def test_checks_against_audio_name_the_row(write_file):
    rows = ("1\tSpectrogram 1\t1\t0\t1\t100\t900\tA", "2\tSpectrogram 1\t1\t1\t2\t100\t30000\tB")
    path = write_file("r1.Table.1.selections.txt", _table(*rows))
    events = read_raven(path)
    with pytest.raises(LabelError, match="Nyquist") as caught:
        validate_events(events, sample_rates={"r1": 48000})
    assert (caught.value.path, caught.value.row) == (str(path), 3)
    validate_events(events, sample_rates={"r1": 96000})
    with pytest.raises(LabelError, match="unknown class 'B'") as caught:
        validate_events(events, class_map=ClassMap(("A",)))
    assert caught.value.row == 3
    with pytest.raises(LabelError, match="missing recording 'r1'") as caught:
        validate_events(events, durations_s={"r2": 60.0})
    assert (caught.value.path, caught.value.row) == (str(path), 2)
    with pytest.raises(LabelError, match="past the end") as caught:
        validate_events(events, durations_s={"r1": 1.5})
    assert caught.value.row == 3


# --- writing ---------------------------------------------------------------------------------------------


def test_round_trip_of_real_tables(shared_data, tmp_path):
    paths = sorted((shared_data / "bats_whombat").glob("*.selections.txt"))[:3]
    paths.append(shared_data / "raven_tables" / "MSD-0003_20180427_2minstart00.Table.1.selections.txt")
    for path in paths:
        events = read_raven(path)
        again = read_raven(write_raven(events, tmp_path / path.name))
        pd.testing.assert_frame_equal(again.drop(columns="source"), events.drop(columns="source"))
        assert again["source"].iloc[0] == f"{tmp_path / path.name}:2"


def test_round_trip_of_everything_an_event_holds(tmp_path):
    events = make_events(
        [
            {
                "recording_id": "b",
                "t0_s": 0.1 + 0.2,
                "t1_s": 1 / 3,
                "label": "Myotis myotis",
                "present": False,
                "weight": 0.1,
                "count": 3,
                "snr_db": 12.5,
                "note": "faint",
            },
            {
                "recording_id": "a",
                "t0_s": 5.0,
                "t1_s": 7.25,
                "f0_hz": 20000.0,
                "f1_hz": 45000.5,
                "label": "16_4",
                "count": 1,
                "snr_db": np.nan,
                "note": "",
            },
        ]
    )
    path = write_raven(events, tmp_path / "out" / "mixed.selections.txt")
    text = path.read_text()
    assert text.splitlines()[0].split("\t")[:8] == HEADER.rstrip("\n").split("\t")
    again = read_raven(path)
    pd.testing.assert_frame_equal(again.drop(columns="source"), events.drop(columns="source"))


def test_write_rejects_what_a_table_cannot_hold(tmp_path):
    events = make_events(
        [{"recording_id": "a", "t0_s": 0.0, "t1_s": 1.0, "label": "a\tb", "source": "x.csv:7"}]
    )
    with pytest.raises(LabelError, match="tab") as caught:
        write_raven(events, tmp_path / "a.txt")
    assert (caught.value.path, caught.value.row) == ("x.csv", 7)
    assert not (tmp_path / "a.txt").exists()
