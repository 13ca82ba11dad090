from __future__ import annotations

import math

import pytest

from wildtag.labels import CLIP_COLUMNS, LabelError, read_clip_labels


def test_freesound_labels_joined_in_one_quoted_field(write_file):
    path = write_file(
        "train_curated.csv",
        'fname,labels\n0006ae4e.wav,Bark\n0019ef41.wav,"Raindrop,Walk_and_footsteps"\n',
    )
    clips = read_clip_labels(path)
    assert tuple(clips.columns) == CLIP_COLUMNS
    assert clips["recording_id"].tolist() == ["0006ae4e.wav", "0019ef41.wav"]
    assert clips["labels"].tolist() == [["Bark"], ["Raindrop", "Walk_and_footsteps"]]
    assert clips["secondary_labels"].tolist() == [[], []]
    assert math.isnan(clips.loc[0, "t0_s"])
    assert clips["source"].tolist() == [f"{path}:2", f"{path}:3"]


def test_birdclef_primary_and_literal_secondary_labels(write_file):
    path = write_file(
        "train_metadata.csv",
        "primary_label,secondary_labels,type,filename,rating\n"
        "acafly,\"['amecro', 'bkcchi']\",\"['call']\",XC109605.ogg,2.5\n"
        "acafly,[],\"['song']\",XC11209.ogg,3\n",
    )
    clips = read_clip_labels(path)
    assert clips["recording_id"].tolist() == ["XC109605.ogg", "XC11209.ogg"]
    assert clips["labels"].tolist() == [["acafly"], ["acafly"]]
    assert clips["secondary_labels"].tolist() == [["amecro", "bkcchi"], []]
    assert clips["rating"].tolist() == [2.5, 3.0]
    assert clips["type"].tolist() == ["['call']", "['song']"]  # other columns are kept as they are


def test_malformed_secondary_literal_names_the_row(write_file):
    path = write_file(
        "train_metadata.csv",
        "primary_label,secondary_labels,filename\nacafly,[],a.ogg\nacafly,\"['amecro'\",b.ogg\n",
    )
    with pytest.raises(LabelError, match="not a list of names") as caught:
        read_clip_labels(path)
    assert (caught.value.path, caught.value.row) == (str(path), 3)


def test_empty_label_cell_is_a_clip_with_no_class_and_missing_columns(write_file):
    empty = write_file("e.csv", "fname,labels\na.wav,Bark\nb.wav,\n")
    assert read_clip_labels(empty)["labels"].tolist() == [["Bark"], []]  # checked, no class present
    with pytest.raises(LabelError, match="empty name between separators") as caught:
        read_clip_labels(write_file("s.csv", 'fname,labels\na.wav,"Bark,,Purr"\n'))
    assert caught.value.row == 2
    no_file = write_file("n.csv", "clip,labels\na.wav,Bark\n")
    with pytest.raises(LabelError) as caught:
        read_clip_labels(no_file)
    assert "'clip'" in caught.value.reason and "fname" in caught.value.reason
    assert read_clip_labels(no_file, file_column="clip")["recording_id"].tolist() == ["a.wav"]


def test_spans_and_separator_off(write_file):
    path = write_file("s.csv", 'file,label,t0_s,t1_s\nlong.flac,"Gryllus, campestris",5,10\n')
    clips = read_clip_labels(path, separator=None)
    assert clips["labels"].tolist() == [["Gryllus, campestris"]]
    assert clips.loc[0, ["t0_s", "t1_s"]].tolist() == [5.0, 10.0]


def test_insectset32_labels(shared_data):
    clips = read_clip_labels(shared_data / "insectset32" / "labels.csv")
    assert len(clips) == 256
    assert clips["split"].value_counts().to_dict() == {"train": 205, "validation": 51}
    assert clips["labels"].map(len).eq(1).all()
    assert clips["labels"].map(lambda names: names[0]).nunique() == 32
    assert sorted(clips["class_id"].unique().tolist()) == list(range(32))
    first = clips.iloc[0]
    assert first.recording_id.startswith("audio/") and "%20" in first.recording_id  # as given
    assert (shared_data / "insectset32" / first.recording_id).is_file()
