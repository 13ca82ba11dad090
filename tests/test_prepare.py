"""prepare_data: the recording-id rule, the recording set, declared classes and errors.csv."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from wildtag.audio import Recording, RecordingSet
from wildtag.config import ConfigError, DataConfig
from wildtag.labels import AmbiguousRecordingError, LabelError
from wildtag.testing import write_tone
from wildtag.training.prepare import prepare_data

RAVEN_HEADER = (
    "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tSpecies\n"
)


def _audio(root: Path, *names: str, duration_s: float = 1.0) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write_tone(root / name, sample_rate=8000, duration_s=duration_s)


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_every_format_gives_the_relative_path_with_suffix_as_recording_id(tmp_path):
    _audio(tmp_path / "audio", "site_a/0600.wav", "site_b/0700.wav")
    clips = _csv(
        tmp_path / "clips.csv", "file,species,site,latitude\nsite_a/0600,wren,A,51.5\n0700.wav,robin,B,\n"
    )
    data = prepare_data(DataConfig(labels=[clips], audio_root=tmp_path / "audio"), show_progress=False)
    assert data.table["recording_id"].tolist() == ["site_a/0600.wav", "site_b/0700.wav"]
    assert isinstance(data.recordings, RecordingSet) and list(data.recordings) == [
        "site_a/0600.wav",
        "site_b/0700.wav",
    ]
    first = data.recordings["site_a/0600.wav"]
    assert isinstance(first, Recording)
    assert (first.sample_rate, first.num_channels, first.duration_s) == (8000, 1, 1.0)
    assert (first.site, first.lat) == ("A", 51.5)  # metadata from the label table's columns
    assert data.recordings["site_b/0700.wav"].lat is None
    assert Path(first.path) == tmp_path / "audio" / "site_a" / "0600.wav"


def test_an_ambiguous_stem_is_an_error_naming_both_files(tmp_path):
    _audio(tmp_path / "audio", "site_a/0600.wav", "site_b/0600.wav")
    clips = _csv(tmp_path / "clips.csv", "file,species\n0600,wren\n")
    with pytest.raises(AmbiguousRecordingError) as caught:
        prepare_data(DataConfig(labels=[clips], audio_root=tmp_path / "audio"), show_progress=False)
    message = str(caught.value)
    assert "site_a/0600.wav" in message and "site_b/0600.wav" in message and f"{clips}:2" in message


def test_an_empty_raven_table_keeps_its_recording(tmp_path):
    _audio(tmp_path, "rec01.wav", "rec02.wav", duration_s=3.0)
    (tmp_path / "rec01.Table.1.selections.txt").write_text(
        RAVEN_HEADER + "1\tSpectrogram 1\t1\t1.0\t2.0\t100\t900\tA\n"
    )
    (tmp_path / "rec02.Table.1.selections.txt").write_text(RAVEN_HEADER)  # checked: nothing there
    data = prepare_data(DataConfig(labels=[tmp_path], format="raven"), show_progress=False)
    assert list(data.recordings) == ["rec01.wav", "rec02.wav"]
    assert data.table["recording_id"].tolist() == ["rec01.wav"]


def test_declared_classes_name_a_typo_and_its_closest_class(tmp_path):
    _audio(tmp_path, "a.wav", "b.wav")
    clips = _csv(tmp_path / "clips.csv", "fname,labels\na.wav,wren\nb.wav,robbin\n")
    classes = tmp_path / "classes.txt"
    classes.write_text("# one class a line\nwren\nrobin\n\n")
    with pytest.raises(LabelError) as caught:
        prepare_data(DataConfig(labels=[clips], classes=classes), show_progress=False)
    assert (caught.value.path, caught.value.row) == (str(clips), 3)
    assert "'robbin'" in caught.value.reason and "did you mean 'robin'" in caught.value.reason
    fixed = _csv(tmp_path / "fixed.csv", "fname,labels\na.wav,wren\nb.wav,\n")
    data = prepare_data(DataConfig(labels=[fixed], classes=["wren", "robin"]), show_progress=False)
    assert data.class_map.names == ("wren", "robin")  # the declared order, a class with no rows kept
    assert data.table["labels"].tolist() == [["wren"], []]  # b.wav: checked, no class present


def test_without_declared_classes_the_rows_per_class_are_logged(tmp_path, caplog):
    _audio(tmp_path, "a.wav", "b.wav", "c.wav")
    clips = _csv(tmp_path / "clips.csv", "fname,labels\na.wav,wren\nb.wav,wren\nc.wav,robin\n")
    with caplog.at_level(logging.INFO, logger="wildtag.training.prepare"):
        data = prepare_data(DataConfig(labels=[clips]), show_progress=False)
    assert data.class_counts() == {"robin": 1, "wren": 2}
    assert "robin (1), wren (2)" in caplog.text


def test_rows_that_do_not_fit_their_audio_are_reported_and_the_rest_kept(tmp_path):
    _audio(tmp_path, "a.wav", "b.wav")  # 1 s each, 8 kHz
    boxes = _csv(
        tmp_path / "boxes.csv",
        "recording_id,t0_s,t1_s,f0_hz,f1_hz,label\na,0.1,0.5,100,900,x\nb,0.2,9.0,100,900,x\nb,0.1,0.4,100,7000,x\n",
    )
    errors = tmp_path / "run" / "errors.csv"
    data = prepare_data(DataConfig(labels=[boxes]), show_progress=False, errors_path=errors)
    assert data.table["recording_id"].tolist() == ["a.wav"]
    report = pd.read_csv(errors)
    assert report["path"].tolist() == [f"{boxes}:3", f"{boxes}:4"]
    assert "past the end" in report["reason"][0] and "Nyquist" in report["reason"][1]


def test_when_every_recording_fails_errors_csv_is_still_written(tmp_path):
    (tmp_path / "broken.wav").write_bytes(b"RIFF not audio at all")
    clips = _csv(tmp_path / "clips.csv", "fname,labels\nbroken.wav,wren\nmissing.wav,wren\n")
    errors = tmp_path / "run" / "errors.csv"
    with pytest.raises(LabelError, match=f"see {errors}"):
        prepare_data(DataConfig(labels=[clips]), show_progress=False, errors_path=errors)
    report = pd.read_csv(errors)
    assert len(report) == 2
    assert report["path"].tolist() == [str(tmp_path / "broken.wav"), "missing.wav"]
    assert "no audio file" in report["reason"][1]


def test_a_missing_relative_path_names_the_folder_it_was_resolved_against(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        prepare_data(DataConfig(labels=[Path("labels/train.csv")]), show_progress=False)
    assert "data.labels: labels/train.csv does not exist" in str(caught.value)
    assert str(tmp_path) in str(caught.value)


def test_a_run_whose_recordings_all_fail_leaves_errors_csv_in_its_run_dir(tmp_path, make_tiny_config):
    from wildtag.training.fit import fit

    clips = _csv(tmp_path / "clips.csv", "fname,labels\nnone.wav,wren\ngone.wav,robin\n")
    cfg = make_tiny_config(tmp_path, clips)
    with pytest.raises(LabelError) as caught:
        fit(cfg, tmp_path / "runs" / "r", show_progress=False)
    errors = tmp_path / "runs" / "r" / "errors.csv"
    assert f"see {errors}" in str(caught.value)
    assert pd.read_csv(errors)["path"].tolist() == ["none.wav", "gone.wav"]
