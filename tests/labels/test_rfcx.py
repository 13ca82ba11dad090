from __future__ import annotations

import pytest

from wildtag.labels import LabelError, read_rfcx

# A few rows in the shape of the Kaggle files: species 16 sings song types 1 and 4 (4 only among the
# false positives), species 3 only song type 1.
TP = (
    "recording_id,species_id,songtype_id,t_min,f_min,t_max,f_max\n"
    "003bec244,14,1,44.544,2531.25,45.1307,5531.25\n"
    "006ab765f,16,1,39.9615,2343.75,46.0452,10687.5\n"
    "007f87ba2,3,1,32.1013,2756.25,33.0773,5906.25\n"
)
FP = (
    "recording_id,species_id,songtype_id,t_min,f_min,t_max,f_max\n"
    "00204008d,16,4,13.84,3281.25,14.9333,11250.0\n"
    "00204008d,21,1,24.496,3281.25,28.6187,11250.0\n"
)


def test_tp_present_fp_absent_with_songtype_split(write_file):
    tp, fp = write_file("train_tp.csv", TP), write_file("train_fp.csv", FP)
    events = read_rfcx(tp, fp)
    assert events["recording_id"].tolist() == [
        "003bec244",
        "006ab765f",
        "007f87ba2",
        "00204008d",
        "00204008d",
    ]
    assert events["label"].tolist() == ["14", "16_1", "3", "16_4", "21"]
    assert events["present"].tolist() == [True, True, True, False, False]
    assert events.loc[0, ["t0_s", "t1_s", "f0_hz", "f1_hz"]].tolist() == [44.544, 45.1307, 2531.25, 5531.25]
    assert events["species_id"].tolist() == [14, 16, 3, 16, 21]
    assert events["songtype_id"].tolist() == [1, 1, 1, 4, 1]
    assert events["source"].tolist()[2:4] == [f"{tp}:4", f"{fp}:2"]


def test_without_split_or_without_the_fp_file(write_file):
    tp, fp = write_file("train_tp.csv", TP), write_file("train_fp.csv", FP)
    assert read_rfcx(tp, fp, split_songtypes=False)["label"].tolist() == ["14", "16", "3", "16", "21"]
    # Song type 4 of species 16 is only in the fp file: alone, the tp file has one song type per species.
    assert read_rfcx(tp)["label"].tolist() == ["14", "16", "3"]
    assert read_rfcx(fp_csv=fp)["present"].tolist() == [False, False]


def test_malformed_rows_are_named(write_file):
    bad = write_file("train_tp.csv", TP + "0099,5,1,later,100,2.0,900\n")
    with pytest.raises(LabelError, match="'t_min' is 'later'") as caught:
        read_rfcx(bad)
    assert caught.value.row == 5
    flipped = write_file("flipped.csv", TP + "0099,5,1,3.0,100,2.0,900\n")
    with pytest.raises(LabelError, match="greater than t0_s") as caught:
        read_rfcx(flipped)
    assert caught.value.row == 5
    missing = write_file("m.csv", "recording_id,species_id,t_min,t_max\n")
    with pytest.raises(LabelError, match="songtype_id"):
        read_rfcx(missing)
    with pytest.raises(LabelError):
        read_rfcx()
