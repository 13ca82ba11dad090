"""evaluate: predictions meet labels by recording id, never by file stem; duplicates are errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wildtag.evaluation import evaluate_files
from wildtag.labels import AmbiguousRecordingError, LabelError


def _predictions(path, recordings, wren):
    pd.DataFrame({"recording": recordings, "wren": wren, "robin": 1.0 - np.asarray(wren)}).to_csv(
        path, index=False
    )
    return path


def test_recordings_of_two_sites_with_one_file_name_are_two_recordings(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("fname,labels\nsite_a/0600.wav,wren\nsite_b/0600.wav,robin\n")
    preds = _predictions(tmp_path / "recordings.csv", ["site_a/0600.wav", "site_b/0600.wav"], [0.9, 0.1])
    result = evaluate_files(preds, labels)
    assert result.metrics["n_samples"] == 2 and result.n_unmatched == 0
    assert result.metrics["lwlrap"] == pytest.approx(1.0)  # matched by stem, one score would pair wrongly


def test_a_bare_stem_matching_two_predictions_is_an_error(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("fname,labels\n0600,wren\n")
    preds = _predictions(tmp_path / "recordings.csv", ["site_a/0600.wav", "site_b/0600.wav"], [0.9, 0.1])
    with pytest.raises(AmbiguousRecordingError, match="site_a/0600.wav.*site_b/0600.wav"):
        evaluate_files(preds, labels)


def test_a_recording_twice_in_either_file_is_an_error(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("fname,labels\na.wav,wren\nb.wav,robin\n")
    twice = _predictions(tmp_path / "twice.csv", ["a.wav", "b.wav", "a.wav"], [0.9, 0.1, 0.2])
    with pytest.raises(LabelError, match="recording='a.wav' appears 2 times"):
        evaluate_files(twice, labels)
    preds = _predictions(tmp_path / "recordings.csv", ["a.wav", "b.wav"], [0.9, 0.1])
    relabelled = tmp_path / "relabelled.csv"
    relabelled.write_text("fname,labels\na.wav,wren\nb.wav,robin\na.wav,robin\n")
    with pytest.raises(LabelError, match="labelled again") as caught:
        evaluate_files(preds, relabelled)
    assert caught.value.row == 4
    aliases = tmp_path / "aliases.csv"
    aliases.write_text("fname,labels\na.wav,wren\na,robin\n")  # two names for one predicted recording
    with pytest.raises(LabelError, match="both name the predicted 'a.wav'"):
        evaluate_files(preds, aliases)


def test_an_empty_raven_table_scores_its_windows_as_all_absent(tmp_path):
    header = (
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tSpecies\n"
    )
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "rec1.Table.1.selections.txt").write_text(
        header + "1\tSpectrogram 1\t1\t0.2\t0.8\t100\t900\tfrog\n"
    )
    (tables / "rec2.Table.1.selections.txt").write_text(header)
    pd.DataFrame(
        {
            "recording": ["rec1.wav", "rec1.wav", "rec2.wav"],
            "t0_s": [0.0, 1.0, 0.0],
            "t1_s": [1.0, 2.0, 1.0],
            "frog": [0.9, 0.2, 0.1],
        }
    ).to_parquet(tmp_path / "windows.parquet")
    result = evaluate_files(tmp_path / "windows.parquet", tables)
    assert result.metrics["n_samples"] == 3  # rec2's window counts, with frog absent
