from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wildtag.config import ConfigError
from wildtag.inference.writers import RecordingInfo, check_formats, table_names, write_detections
from wildtag.labels import read_raven

RAVEN_COLUMNS = ["Selection", "View", "Channel", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)",
                 "High Freq (Hz)", "Species"]


@pytest.fixture
def detections():
    return pd.DataFrame({
        "recording": ["site_a/0600.wav", "site_a/0600.wav", "site_b/0600.wav"],
        "t0_s": [10.0, 31.5, 2.5], "t1_s": [20.0, 36.5, 7.5],
        "class": ["wren", "robin", "wren"],
        "score_max": np.array([0.9, 0.61, 0.7], dtype=np.float32),
        "score_mean": np.array([0.7333, 0.61, 0.7], dtype=np.float32),
        "n_windows": np.array([3, 1, 1], dtype=np.int32),
        "f0_hz": [np.nan, 800.0, np.nan], "f1_hz": [np.nan, 3000.0, np.nan],
        "datetime": pd.Series(["2024-05-01T06:00:10.000+00:00", "2024-05-01T06:00:31.500+00:00", None],
                              dtype="string"),
    })


@pytest.fixture
def recordings(tmp_path):
    root = tmp_path / "survey"
    infos = {}
    for rid, duration in (("site_a/0600.wav", 60.0), ("site_b/0600.wav", 30.0), ("site_b/0700.wav", 45.0)):
        (root / rid).parent.mkdir(parents=True, exist_ok=True)
        (root / rid).write_bytes(b"")
        infos[rid] = RecordingInfo(root / rid, root, duration)
    return infos


def test_the_combined_raven_table_reads_back_with_the_same_events(tmp_path, detections, recordings):
    write_detections(detections, tmp_path / "out", ["raven"], recordings, nyquist_hz=8000.0)
    combined = tmp_path / "out" / "raven" / "detections.selections.txt"
    header = combined.read_text().splitlines()[0].split("\t")
    assert header[: len(RAVEN_COLUMNS)] == RAVEN_COLUMNS
    assert {"Begin File", "File Offset (s)", "Begin Path"} <= set(header)
    raw = pd.read_csv(combined, sep="\t")
    # Begin Time counts over the sequence of files (site_a/0600.wav is 60 s long), File Offset within each file
    assert raw["Begin Time (s)"].tolist() == [10.0, 31.5, 62.5] and raw["File Offset (s)"].tolist() == [10.0, 31.5, 2.5]
    assert raw["Begin Path"].tolist() == [str(recordings[r].path.resolve()) for r in detections["recording"]]
    back = read_raven(combined)
    assert back["recording_id"].tolist() == detections["recording"].tolist()
    np.testing.assert_allclose(back["t0_s"], detections["t0_s"])
    np.testing.assert_allclose(back["t1_s"], detections["t1_s"], atol=1e-9)
    assert back["label"].tolist() == detections["class"].tolist()
    np.testing.assert_allclose(back["f0_hz"], [0.0, 800.0, 0.0])  # no band: 0 Hz to Nyquist, as Raven needs one
    np.testing.assert_allclose(back["f1_hz"], [8000.0, 3000.0, 8000.0])
    np.testing.assert_allclose(back["Score"], detections["score_max"], atol=1e-6)
    assert back["Windows"].tolist() == [3, 1, 1]
    files = (tmp_path / "out" / "raven" / "files.txt").read_text().splitlines()
    assert files == [str(info.path.resolve()) for info in recordings.values()]


def test_one_raven_table_per_recording_with_ravens_columns_empty_ones_too(tmp_path, detections, recordings):
    write_detections(detections, tmp_path / "out", ["raven"], recordings, nyquist_hz=8000.0)
    folder = tmp_path / "out" / "raven"
    a = folder / "site_a" / "0600.Table.1.selections.txt"
    empty = folder / "site_b" / "0700.Table.1.selections.txt"
    assert a.read_text().splitlines()[0].split("\t")[: len(RAVEN_COLUMNS)] == RAVEN_COLUMNS
    assert read_raven(a)["label"].tolist() == ["wren", "robin"]
    assert len(read_raven(empty)) == 0 and empty.read_text().startswith("Selection\t")


def test_audacity_tracks_and_kaleidoscope_rows(tmp_path, detections, recordings):
    write_detections(detections, tmp_path / "out", ["audacity", "kaleidoscope", "csv", "parquet"], recordings,
                     nyquist_hz=8000.0)
    track = (tmp_path / "out" / "audacity" / "site_a" / "0600.txt").read_text().splitlines()
    assert track == ["10.0\t20.0\twren 0.900", "31.5\t36.5\trobin 0.610", "\\\t800.0\t3000.0"]
    assert (tmp_path / "out" / "audacity" / "site_b" / "0700.txt").read_text() == ""
    k = pd.read_csv(tmp_path / "out" / "kaleidoscope.csv", keep_default_na=False)
    assert k.iloc[0][["FOLDER", "IN FILE", "OFFSET", "DURATION", "DATE", "TIME", "HOUR", "AUTO ID*"]].tolist() == [
        "site_a", "0600.wav", 10.0, 10.0, "2024-05-01", "06:00:10", "6", "wren"]
    assert k.iloc[2][["FOLDER", "DATE", "TIME"]].tolist() == ["site_b", "", ""]  # start unknown: left empty
    back = pd.read_parquet(tmp_path / "out" / "detections.parquet")
    pd.testing.assert_frame_equal(back, detections)
    assert pd.read_csv(tmp_path / "out" / "detections.csv")["recording"].tolist() == detections["recording"].tolist()


def test_table_names_keep_the_suffix_only_where_two_would_collide():
    names = table_names(["a/x.wav", "a/x.flac", "b/y.wav"], ".txt")
    assert names == {"a/x.wav": "a/x.wav.txt", "a/x.flac": "a/x.flac.txt", "b/y.wav": "b/y.txt"}


def test_unknown_formats_suggest_the_closest():
    assert check_formats(["Raven", "csv", "raven"]) == ("raven", "csv")
    with pytest.raises(ConfigError, match=r"'kaleidoscop' .*did you mean 'kaleidoscope'"):
        check_formats(["kaleidoscop"])


def test_paths_in_outputs_are_absolute_for_raven(tmp_path, detections, recordings):
    write_detections(detections, tmp_path / "o", ["raven"], recordings, nyquist_hz=8000.0)
    paths = pd.read_csv(tmp_path / "o" / "raven" / "detections.selections.txt", sep="\t")["Begin Path"]
    assert all(Path(p).is_absolute() for p in paths)
