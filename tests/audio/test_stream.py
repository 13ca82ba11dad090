import numpy as np
import pytest
import soundfile as sf

from wildtag.audio import AudioError, load, stream_blocks
from wildtag.testing import write_tone, write_tone_bursts


def _joined(blocks) -> np.ndarray:
    return np.concatenate(list(blocks))


@pytest.mark.parametrize(
    ("suffix", "orig_sr"), [(".wav", 8000), (".flac", 44100), (".ogg", 22050), (".mp3", 16000)]
)
def test_blocks_join_to_what_load_returns(tmp_path, suffix, orig_sr):
    path = write_tone_bursts(tmp_path / f"a{suffix}", orig_sr, 3.0, [(0.4, 0.9, 1000.0), (1.7, 2.6, 3000.0)])
    blocks = list(stream_blocks(path, 32000, block_frames=7000))
    whole = load(path, sample_rate=32000)
    joined = np.concatenate(blocks)
    assert abs(len(joined) - len(whole)) <= 2
    n = min(len(joined), len(whole))
    np.testing.assert_allclose(joined[:n], whole[:n], atol=1e-4)


def test_mp3_blocks_equal_the_one_shot_decode(tmp_path):
    # Regression: python-soundfile seeks after every read, which resets libmpg123 and garbles later blocks.
    path = write_tone(tmp_path / "tone.mp3", sample_rate=44100, duration_s=3.0, freq_hz=440.0)
    reference = sf.read(path, dtype="float32")[0]
    joined = _joined(stream_blocks(path, 44100, block_frames=1000))
    np.testing.assert_allclose(joined, reference, atol=1e-6)


def test_blocks_have_the_asked_size_and_only_the_last_is_shorter(tmp_path):
    path = write_tone(tmp_path / "a.flac", sample_rate=16000, duration_s=2.0)
    sizes = [len(b) for b in stream_blocks(path, 16000, block_frames=3000)]
    assert sizes == [3000] * 10 + [2000]
    assert all(b.dtype == np.float32 for b in stream_blocks(path, 16000, block_frames=3000))


def test_stereo_channel_is_streamed_like_load(tmp_path):
    path = write_tone(tmp_path / "s.wav", sample_rate=16000, duration_s=1.0, num_channels=2)
    for channel in ("mix", 1):
        np.testing.assert_array_equal(
            _joined(stream_blocks(path, 16000, 4096, channel=channel)), load(path, channel=channel)
        )


def test_real_bat_recording_streams_like_load(shared_data):
    path = shared_data / "bats_whombat/audio/XC824040-Carollia_castanea-2013.01.17-CL00312_A_15.flac"
    joined = _joined(stream_blocks(path, 32000, block_frames=5000))
    np.testing.assert_allclose(joined, load(path, sample_rate=32000), atol=1e-5)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("nan", "non-finite sample"),
        ("truncated", "truncated or corrupt"),
        ("corrupt", "unsupported or corrupt"),
    ],
)
def test_bad_files_raise_audio_error_naming_the_file(bad_files, kind, reason):
    path = bad_files[kind]
    with pytest.raises(AudioError, match=reason) as caught:
        list(stream_blocks(path, 16000, block_frames=1000))
    assert str(caught.value).startswith(f"{path}: ")


def test_a_missing_file_fails_when_called_not_when_iterated(bad_files):
    with pytest.raises(AudioError, match="file not found"):
        stream_blocks(bad_files["missing"], 16000, block_frames=1000)


def test_block_frames_must_be_positive(tmp_path):
    path = write_tone(tmp_path / "a.wav")
    with pytest.raises(ValueError, match="block_frames"):
        stream_blocks(path, 16000, block_frames=0)
