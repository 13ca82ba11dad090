import numpy as np
import pytest
import soundfile as sf

from wildtag.audio import AudioError, load
from wildtag.testing import tone, write_tone

FORMATS = [".wav", ".flac", ".ogg", ".mp3"]


def _music(sample_rate: int, duration_s: float) -> np.ndarray:
    """A tone that steps up in pitch every 0.25 s, so segments at different offsets differ.

    Pure tones encode to MP3 at a low bit rate that leans on the bit reservoir, which is what makes an MP3
    seek inexact unless the decoder is primed before the segment.
    """
    t = np.arange(int(sample_rate * duration_s)) / sample_rate
    freq_hz = 300.0 + 200.0 * np.floor(t / 0.25)
    return (0.4 * np.sin(2 * np.pi * np.cumsum(freq_hz) / sample_rate)).astype(np.float32)


@pytest.mark.parametrize("suffix", FORMATS)
def test_every_format_decodes_to_mono_float32_with_the_tone_in_it(tmp_path, suffix, peak_hz):
    path = write_tone(tmp_path / f"a{suffix}", sample_rate=16000, duration_s=1.0, freq_hz=1000.0)
    x = load(path)
    assert x.dtype == np.float32 and x.ndim == 1
    assert len(x) == 16000
    assert peak_hz(x, 16000) == pytest.approx(1000.0, abs=2.0)
    assert np.sqrt(np.mean(x**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)


@pytest.mark.parametrize("suffix", FORMATS)
def test_a_segment_equals_the_same_slice_of_the_whole_file(tmp_path, suffix):
    path = tmp_path / f"music{suffix}"
    sf.write(path, _music(16000, 4.0), 16000)
    whole = load(path)
    for offset_s, duration_s in [(0.0, 0.5), (0.73, 0.4), (2.5, 1.0), (3.9, 0.1)]:
        start = round(offset_s * 16000)
        part = load(path, offset_s=offset_s, duration_s=duration_s)
        assert len(part) == round(duration_s * 16000)
        # MP3 and Vorbis decoders are deterministic: after an accurate seek the samples are identical.
        np.testing.assert_allclose(part, whole[start : start + len(part)], atol=1e-6)


def test_a_segment_running_past_the_end_is_cut_at_the_end(tmp_path):
    path = write_tone(tmp_path / "a.wav", sample_rate=8000, duration_s=1.0)
    assert len(load(path, offset_s=0.75, duration_s=10.0)) == 2000


def test_stereo_mix_is_the_mean_and_a_channel_can_be_picked(tmp_path):
    path = write_tone(
        tmp_path / "stereo.wav", sample_rate=8000, duration_s=0.5, num_channels=2, subtype="FLOAT"
    )
    left, right = tone(8000, 0.5, 440.0, num_channels=2).T
    np.testing.assert_allclose(load(path, channel=0), left, atol=1e-7)
    np.testing.assert_allclose(load(path, channel=1), right, atol=1e-7)
    np.testing.assert_allclose(load(path), (left + right) / 2, atol=1e-7)


def test_a_channel_the_file_lacks_is_an_error_naming_the_file(tmp_path):
    path = write_tone(tmp_path / "stereo.flac", num_channels=2)
    with pytest.raises(AudioError, match=r"channel 2 is out of range: the file has 2 channel") as caught:
        load(path, channel=2)
    assert caught.value.path == str(path)


def test_a_channel_that_is_neither_index_nor_mix_is_a_value_error(tmp_path):
    path = write_tone(tmp_path / "a.wav")
    with pytest.raises(ValueError, match="'left'"):
        load(path, channel="left")


@pytest.mark.parametrize("orig_sr", [8000, 384000])
def test_resampling_to_32k_keeps_length_and_tone_frequency(tmp_path, orig_sr, peak_hz):
    path = write_tone(tmp_path / "a.flac", sample_rate=orig_sr, duration_s=1.0, freq_hz=3000.0)
    x = load(path, sample_rate=32000)
    assert len(x) == 32000
    assert peak_hz(x, 32000) == pytest.approx(3000.0, abs=2.0)


def test_resampled_segment_has_the_length_of_its_duration(tmp_path):
    path = write_tone(tmp_path / "a.flac", sample_rate=44100, duration_s=3.0)
    assert len(load(path, sample_rate=32000, offset_s=1.0, duration_s=1.5)) == 48000


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "file not found"),
        ("empty", r"empty \(0 bytes\)"),
        ("corrupt", "unsupported or corrupt"),
        ("truncated", "truncated or corrupt"),
        ("nan", r"non-finite sample.* from 0\.750 s"),
        ("no_frames", "no audio frames"),
    ],
)
def test_bad_files_raise_audio_error_naming_the_file(bad_files, kind, reason):
    path = bad_files[kind]
    with pytest.raises(AudioError, match=reason) as caught:
        load(path)
    assert caught.value.path == str(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_nan_outside_the_segment_read_does_not_matter(bad_files):
    x = load(bad_files["nan"], offset_s=0.0, duration_s=0.5)
    assert len(x) == 8000 and np.isfinite(x).all()


def test_fewer_frames_than_the_header_promises_is_truncation(tmp_path):
    # Cut a FLAC exactly at a frame boundary: no decoder error, just missing frames.
    path = write_tone(tmp_path / "a.flac", sample_rate=16000, duration_s=2.0)
    data = path.read_bytes()
    cut = data.rfind(b"\xff\xf8", 0, len(data) // 2)  # a FLAC frame sync code
    assert cut > 0
    path.write_bytes(data[:cut])
    with pytest.raises(AudioError, match="truncated: the header promises 32000 frames") as caught:
        load(path)
    assert caught.value.path == str(path)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"offset_s": 2.0}, "at or past the end"),
        ({"offset_s": -0.5}, "offset_s must be a finite number >= 0"),
        ({"duration_s": -1.0}, "duration_s must be a finite number >= 0"),
        ({"offset_s": float("nan")}, "offset_s must be a finite number"),
    ],
)
def test_impossible_segments_are_errors_naming_the_file(tmp_path, kwargs, reason):
    path = write_tone(tmp_path / "one_second.wav", duration_s=1.0)
    with pytest.raises(AudioError, match=reason) as caught:
        load(path, **kwargs)
    assert caught.value.path == str(path)


def test_real_insect_flac_segment_matches_soundfile(shared_data):
    path = shared_data / "insectset32/audio/Roeselianaroeselii_dat025-009.M.flac"
    reference, sample_rate = sf.read(path, dtype="float32", always_2d=True)
    x = load(path, offset_s=0.5, duration_s=1.0)
    start = round(0.5 * sample_rate)
    np.testing.assert_array_equal(x, reference[start : start + sample_rate].mean(axis=1))


def test_real_bat_recording_resamples_to_32k(shared_data):
    path = shared_data / "bats_whombat/audio/XC824040-Carollia_castanea-2013.01.17-CL00312_A_15.flac"
    info = sf.info(path)
    x = load(path, sample_rate=32000)
    assert len(x) == round(info.frames * 32000 / info.samplerate)
    assert np.isfinite(x).all() and 0 < np.abs(x).max() <= 1.0
