import dataclasses

import numpy as np
import pandas as pd
import pytest

from wildtag.audio import (
    AudioError,
    Recording,
    read_recordings,
    recordings_from_frame,
    recordings_to_frame,
    write_recordings,
)
from wildtag.testing import write_tone


def _examples() -> list[Recording]:
    return [
        Recording("007", "audio/a b%20c.flac", 44100, 1, 12.345678901234567),
        Recording(
            "NA",
            "audio/x.wav",
            384000,
            2,
            0.5,
            site="NA",
            lat=-12.3456789012345,
            lon=179.99999999,
            start_datetime="2024-05-01T05:00:00+02:00",
        ),
        Recording("r3", "audio/y.mp3", 8000, 1, 3.0, site="0042", start_datetime="2013-01-17T21:14:05"),
    ]


def test_from_file_probes_the_header(tmp_path):
    path = write_tone(tmp_path / "dawn.flac", sample_rate=22050, duration_s=1.5, num_channels=2)
    rec = Recording.from_file(path, site="pond", lat=51.5, lon=-1.25)
    assert rec == Recording("dawn.flac", str(path), 22050, 2, 1.5, site="pond", lat=51.5, lon=-1.25)
    assert Recording.from_file(path, id="custom").id == "custom"
    assert Recording.from_file(path, root=tmp_path.parent).id == f"{tmp_path.name}/dawn.flac"  # the id rule


def test_from_file_names_a_bad_file_and_rejects_unknown_metadata(tmp_path, bad_files):
    with pytest.raises(AudioError, match="empty"):
        Recording.from_file(bad_files["empty"])
    with pytest.raises(TypeError, match="latitude"):
        Recording.from_file(write_tone(tmp_path / "a.wav"), latitude=3.0)


def test_dict_round_trip_and_plain_python_types():
    rec = Recording("a", "a.wav", np.int64(16000), np.int32(1), np.float32(2.5), lat=np.float64(1.5))
    assert type(rec.sample_rate) is int and type(rec.duration_s) is float and type(rec.lat) is float
    assert Recording.from_dict(rec.to_dict()) == rec
    assert (
        Recording.from_dict(
            {
                "id": "a",
                "path": "a.wav",
                "sample_rate": 16000,
                "num_channels": 1,
                "duration_s": 2.5,
                "lat": 1.5,
            }
        )
        == rec
    )


def test_from_dict_rejects_unknown_and_missing_fields():
    with pytest.raises(ValueError, match="unknown recording field"):
        Recording.from_dict({**_examples()[0].to_dict(), "colour": "red"})
    with pytest.raises(ValueError, match=r"missing required field\(s\) \['duration_s'\]"):
        Recording.from_dict({"id": "a", "path": "a.wav", "sample_rate": 1, "num_channels": 1})


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sample_rate": 0}, "sample_rate must be > 0"),
        ({"num_channels": 0}, "num_channels must be > 0"),
        ({"duration_s": -1.0}, "duration_s must be finite"),
        ({"lat": 91.0}, r"lat must be within \[-90, 90\]"),
        ({"lon": -200.0}, r"lon must be within \[-180, 180\]"),
        ({"start_datetime": "yesterday"}, "ISO 8601"),
        ({"id": ""}, "non-empty string"),
    ],
)
def test_invalid_fields_are_rejected_naming_the_recording(change, reason):
    with pytest.raises(ValueError, match=reason) as caught:
        dataclasses.replace(_examples()[0], **change)
    assert "a b%20c.flac" in str(caught.value)


def test_frame_has_the_schema_columns_and_types():
    frame = recordings_to_frame(_examples())
    assert list(frame.columns) == [f.name for f in dataclasses.fields(Recording)]
    assert frame["sample_rate"].dtype == np.int64 and frame["lat"].dtype == np.float64
    assert np.isnan(frame.loc[0, "lat"])
    assert recordings_from_frame(frame) == _examples()
    assert list(recordings_to_frame([]).columns) == list(frame.columns)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_files_round_trip_without_loss(tmp_path, suffix):
    path = write_recordings(_examples(), tmp_path / f"recordings{suffix}")
    assert read_recordings(path) == _examples()  # "007" stays text, "NA" stays a site, floats exact
    assert not list(tmp_path.glob(".*.tmp"))


def test_frame_through_pandas_csv_and_parquet(tmp_path):
    frame = recordings_to_frame(_examples())
    frame.to_parquet(tmp_path / "r.parquet")
    assert recordings_from_frame(pd.read_parquet(tmp_path / "r.parquet")) == _examples()


def test_bad_rows_and_duplicate_ids_are_named():
    frame = recordings_to_frame(_examples())
    frame.loc[2, "sample_rate"] = -5
    with pytest.raises(ValueError, match=r"row 2: .*sample_rate must be > 0"):
        recordings_from_frame(frame)
    duplicated = recordings_to_frame(_examples()[:1] * 2)
    with pytest.raises(ValueError, match="row 1: id '007' repeats row 0"):
        recordings_from_frame(duplicated)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['duration_s'\]"):
        recordings_from_frame(recordings_to_frame(_examples()).drop(columns="duration_s"))


def test_reading_a_table_with_a_bad_row_names_the_file(tmp_path):
    path = tmp_path / "recordings.csv"
    path.write_text("id,path,sample_rate,num_channels,duration_s\na,a.wav,16000,1,1.0\nb,b.wav,16000,0,1.0\n")
    with pytest.raises(ValueError, match=rf"{path}: recordings table row 1: .*num_channels"):
        read_recordings(path)


def test_recording_set_is_a_mapping_by_id_that_refuses_duplicates():
    from wildtag.audio import RecordingSet

    a = Recording("site_a/0600.wav", "/d/site_a/0600.wav", 32000, 1, 60.0)
    b = Recording("site_b/0600.wav", "/d/site_b/0600.wav", 48000, 2, 30.0)
    recs = RecordingSet([a, b])
    assert list(recs) == ["site_a/0600.wav", "site_b/0600.wav"] and recs["site_b/0600.wav"] is b
    assert recs.durations_s == {"site_a/0600.wav": 60.0, "site_b/0600.wav": 30.0}
    assert recs.sample_rates["site_b/0600.wav"] == 48000
    assert list(recs.subset(["site_b/0600.wav"])) == ["site_b/0600.wav"]
    assert RecordingSet.from_frame(recs.to_frame()) == recs
    with pytest.raises(KeyError, match="did you mean 'site_a/0600.wav'"):
        recs["site_a/0600.flac"]
    with pytest.raises(ValueError, match="appears twice"):
        RecordingSet([a, a])
