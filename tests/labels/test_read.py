"""read_labels: one entry for every format, the one label-cell rule, and the recording-id rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wildtag.labels import (
    AmbiguousRecordingError,
    LabelError,
    RecordingIds,
    detect_format,
    label_list,
    make_clip_labels,
    read_labels,
    write_table,
)

RAVEN_HEADER = (
    "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tSpecies\n"
)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("freesound.csv", 'fname,labels\na.wav,"Bark,Purr"\nb.wav,\n', [["Bark", "Purr"], []]),
        (
            "birdclef.csv",
            "primary_label,secondary_labels,filename\nacafly,\"['amecro']\",a.ogg\n,[],b.ogg\n",
            [["acafly"], []],
        ),
        ("insects.csv", "file,species\na.flac,Gryllus\nb.flac,\n", [["Gryllus"], []]),
        ("table.csv", "recording_id,labels,secondary_labels,source\na,x;y,,t:2\nb,,,t:3\n", [["x", "y"], []]),
    ],
)
def test_an_empty_label_cell_is_checked_with_no_class_in_every_clip_format(write_file, name, text, expected):
    labels = read_labels(write_file(name, text))
    assert labels.kind == "clips"
    assert labels.table["labels"].tolist() == expected
    assert labels.table["secondary_labels"].iloc[1] == []
    assert len(labels.recordings) == 2  # the empty row's recording stays in the data


def test_an_empty_label_cell_survives_a_parquet_table(tmp_path):
    clips = make_clip_labels([{"recording_id": "a", "labels": ["x"]}, {"recording_id": "b", "labels": None}])
    labels = read_labels(write_table(clips, tmp_path / "clips.parquet"))
    assert labels.format == "table" and labels.table["labels"].tolist() == [["x"], []]


def test_formats_are_detected(write_file, tmp_path):
    assert (
        detect_format(write_file("t.csv", "recording_id,species_id,songtype_id,t_min,f_min,t_max,f_max\n"))
        == "rfcx"
    )
    assert detect_format(write_file("a.Table.1.selections.txt", RAVEN_HEADER)) == "raven"
    assert detect_format(write_file("c.csv", "fname,labels\n")) == "clip_csv"
    assert detect_format(write_file("e.csv", "recording_id,t0_s,t1_s,label\n")) == "table"
    (tmp_path / "wren").mkdir()
    assert detect_format(tmp_path) == "raven"  # the two Raven tables written above sit in tmp_path
    with pytest.raises(LabelError, match="did you mean 'raven'"):
        read_labels(write_file("x.csv", "fname,labels\n"), format="ravn")


def test_a_raven_table_with_no_rows_keeps_its_recording(write_file, tmp_path):
    write_file(
        "tables/rec01.Table.1.selections.txt", RAVEN_HEADER + "1\tSpectrogram 1\t1\t1.0\t2.0\t100\t900\tA\n"
    )
    write_file("tables/rec02.Table.1.selections.txt", RAVEN_HEADER)  # checked, nothing there
    labels = read_labels(tmp_path / "tables")
    assert labels.kind == "events" and len(labels.table) == 1
    assert labels.recordings == ("rec01", "rec02")


@pytest.mark.parametrize(
    ("cell", "separator", "expected"),
    [
        ("a, b", ",", ["a", "b"]),
        ("a, b", None, ["a, b"]),
        ("['a', 'b']", ",", ["a", "b"]),
        ("[]", ",", []),
        ("  ", ";", []),
        (None, None, []),
        (np.nan, None, []),
        (np.array(["a", "b"], dtype=object), None, ["a", "b"]),
    ],
)
def test_label_list_reads_every_kind_of_cell(cell, separator, expected):
    assert label_list(cell, separator=separator) == expected


def test_label_list_names_the_row_of_a_bad_cell():
    with pytest.raises(LabelError) as caught:
        label_list("['a',", source="labels.csv:7")
    assert (caught.value.path, caught.value.row) == ("labels.csv", 7)
    with pytest.raises(LabelError, match="non-empty strings"):
        label_list(["a", 3])


def test_recording_ids_resolve_loose_names_only_when_unambiguous():
    ids = RecordingIds(["site_a/0600.wav", "site_b/0600.wav", "site_b/0700.wav", "x.y.flac"])
    assert ids.resolve("site_a/0600.wav") == "site_a/0600.wav"
    assert ids.resolve("site_a/0600") == "site_a/0600.wav"
    assert ids.resolve(".\\site_b\\0700.wav") == "site_b/0700.wav"
    assert ids.resolve("0700") == ids.resolve("0700.wav") == "site_b/0700.wav"
    assert ids.resolve("x.y") == "x.y.flac"  # only an audio suffix is optional
    assert ids.resolve("0700.flac") is None and ids.resolve("x") is None
    with pytest.raises(AmbiguousRecordingError) as caught:
        ids.resolve("0600", source="labels.csv:3")
    assert "site_a/0600.wav" in str(caught.value) and "site_b/0600.wav" in str(caught.value)
    assert caught.value.row == 3


def test_read_labels_of_several_files_keeps_every_row(write_file):
    a = write_file("a.csv", "fname,labels\na.wav,x\n")
    b = write_file("b.csv", "fname,labels\nb.wav,y\n")
    table = read_labels([a, b]).table
    assert table["recording_id"].tolist() == ["a.wav", "b.wav"]
    assert isinstance(table, pd.DataFrame) and table["source"].tolist() == [f"{a}:2", f"{b}:2"]
