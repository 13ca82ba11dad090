import pytest

from wildtag.audio import AudioError, probe
from wildtag.testing import write_tone


@pytest.mark.parametrize(
    ("suffix", "fmt"), [(".wav", "WAV"), (".flac", "FLAC"), (".ogg", "OGG"), (".mp3", "MP3")]
)
def test_probe_reads_the_header_of_each_format(tmp_path, suffix, fmt):
    path = write_tone(tmp_path / f"a{suffix}", sample_rate=22050, duration_s=1.5, num_channels=2)
    info = probe(path)
    assert info.path == str(path)
    assert (info.sample_rate, info.num_channels, info.format) == (22050, 2, fmt)
    assert info.num_frames == 33075
    assert info.duration_s == pytest.approx(1.5)


def test_probe_reports_the_encoding(tmp_path):
    info = probe(write_tone(tmp_path / "a.wav", subtype="PCM_24"))
    assert info.subtype == "PCM_24"


def test_probe_of_a_bat_recording_keeps_its_ultrasonic_rate(shared_data):
    path = shared_data / "bats_whombat/audio/XC824040-Carollia_castanea-2013.01.17-CL00312_A_15.flac"
    info = probe(path)
    assert info.sample_rate == 384000
    assert info.duration_s == pytest.approx(info.num_frames / 384000)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "file not found"),
        ("empty", r"empty \(0 bytes\)"),
        ("corrupt", "unsupported or corrupt"),
        ("no_frames", "no audio frames"),
    ],
)
def test_probe_rejects_bad_files_naming_them(bad_files, kind, reason):
    path = bad_files[kind]
    with pytest.raises(AudioError, match=reason) as caught:
        probe(path)
    assert caught.value.path == str(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_probe_rejects_a_folder(tmp_path):
    with pytest.raises(AudioError, match="is a directory"):
        probe(tmp_path)
