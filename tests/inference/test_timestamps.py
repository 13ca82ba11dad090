import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from wildtag.config import ConfigError
from wildtag.inference.timestamps import StartTimes, absolute_times, guano_fields, time_from_name
from wildtag.testing import write_tone


def add_guano(path: Path, text: str) -> Path:
    """Append a GUANO ``guan`` chunk after the audio, as bat detectors do, and fix the RIFF size."""
    data = text.encode("utf-8")
    chunk = b"guan" + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    whole = path.read_bytes() + chunk
    path.write_bytes(whole[:4] + struct.pack("<I", len(whole) - 8) + whole[8:])
    return path


@pytest.mark.parametrize(("name", "expected"), [
    ("20240501_050000.WAV", datetime(2024, 5, 1, 5, 0, 0)),  # AudioMoth
    ("SMA01234_20240501_053012.wav", datetime(2024, 5, 1, 5, 30, 12)),  # Song Meter
    ("site3/CHOBIG_20190906T163909.M.flac", datetime(2019, 9, 6, 16, 39, 9)),
    ("rec_20241341_250000.wav", None),  # digits that are no date: unknown, not guessed
    ("dat001-018.M.flac", None),
    ("x_120240501_050000.wav", None),  # part of a longer number
])
def test_times_from_recorder_file_names(name, expected):
    assert time_from_name(name) == expected


def test_guano_timestamp_is_read_from_the_wav_and_wins_over_the_name(tmp_path):
    path = add_guano(write_tone(tmp_path / "20200101_000000.wav"),
                     "GUANO|Version: 1.0\nMake: Wildlife Acoustics\nTimestamp: 2023-07-14T21:05:33-04:00\n")
    assert guano_fields(path)["Make"] == "Wildlife Acoustics"
    start = StartTimes().start("20200101_000000.wav", path)
    assert start == datetime(2023, 7, 14, 21, 5, 33, tzinfo=timezone(timedelta(hours=-4)))
    import soundfile as sf

    assert sf.info(path).duration == 1.0  # the file still decodes
    assert guano_fields(write_tone(tmp_path / "plain.wav")) == {}


def test_the_metadata_table_wins_and_the_timezone_applies_to_times_without_offset(tmp_path):
    table = tmp_path / "meta.csv"
    table.write_text("recording,start_datetime\nsite_a/0600.wav,2024-05-01T06:00:00+02:00\nsite_b/0600,\n")
    starts = StartTimes(table, "UTC", ["site_a/0600.wav", "site_b/0600.wav", "site_b/20240501_070000.wav"])
    assert starts.start("site_a/0600.wav", None).isoformat() == "2024-05-01T06:00:00+02:00"
    assert starts.start("site_b/0600.wav", None) is None  # an empty cell and no time in the name: unknown
    assert starts.start("site_b/20240501_070000.wav", None).isoformat() == "2024-05-01T07:00:00+00:00"
    assert StartTimes().start("20240501_070000.wav", None).isoformat() == "2024-05-01T07:00:00"  # local, no offset


def test_bad_metadata_and_time_zones_are_one_line_errors(tmp_path):
    table = tmp_path / "meta.csv"
    table.write_text("file,start\na.wav,2024-05-01T06:00:00\nb.wav,yesterday\n")
    with pytest.raises(ConfigError, match=r"meta.csv:3: start 'yesterday' is not an ISO 8601 time"):
        StartTimes(table, recording_ids=["a.wav", "b.wav"])
    with pytest.raises(ConfigError, match="'Mars/Olympus' is not a time zone"):
        StartTimes(timezone="Mars/Olympus")


def test_absolute_times_count_from_the_start():
    start = datetime(2024, 5, 1, 5, 0, 0)
    assert absolute_times(start, [0.0, 2.5, 3600.25]) == ["2024-05-01T05:00:00.000", "2024-05-01T05:00:02.500",
                                                          "2024-05-01T06:00:00.250"]
    assert absolute_times(None, [0.0, 1.0]) == [None, None]


def test_predict_puts_absolute_times_on_windows_and_detections(untrained_run, tmp_path):
    from wildtag.inference.predict import predict

    write_tone(tmp_path / "in" / "SMA01234_20240501_050000.wav", sample_rate=16000, duration_s=2.0)
    write_tone(tmp_path / "in" / "unknown.wav", sample_rate=16000, duration_s=2.0)
    predict(untrained_run, [tmp_path / "in"], tmp_path / "out", threshold=0.0, timezone="Europe/Berlin",
            num_workers=0, show_progress=False)
    windows = pd.read_parquet(tmp_path / "out" / "windows.parquet")
    known = windows[windows["recording"] == "SMA01234_20240501_050000.wav"]
    assert known["datetime"].tolist() == ["2024-05-01T05:00:00.000+02:00", "2024-05-01T05:00:00.500+02:00",
                                          "2024-05-01T05:00:01.000+02:00"]
    assert windows.loc[windows["recording"] == "unknown.wav", "datetime"].isna().all()
    detections = pd.read_csv(tmp_path / "out" / "detections.csv")
    assert set(detections.loc[detections["recording"] == "unknown.wav", "datetime"].isna()) == {True}
    assert set(detections.loc[detections["recording"] != "unknown.wav", "datetime"]) == {
        "2024-05-01T05:00:00.000+02:00"}
