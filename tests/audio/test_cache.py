import os
import pickle

import numpy as np
import pytest
import soundfile as sf

import wildtag.audio.cache as cache_module
from wildtag.audio import AudioError, DecodeCache, load
from wildtag.testing import write_tone, write_tone_bursts


@pytest.fixture
def recording(tmp_path):
    return write_tone_bursts(tmp_path / "rec.flac", 44100, 2.0, [(0.2, 0.6, 2000.0), (1.1, 1.5, 5000.0)])


@pytest.fixture
def count_decodes(monkeypatch):
    calls = []
    real = cache_module.stream_blocks

    def counting(path, *args, **kwargs):
        calls.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(cache_module, "stream_blocks", counting)
    return calls


def test_get_is_a_read_only_memmap_of_the_resampled_file(tmp_path, recording):
    cache = DecodeCache(tmp_path / "cache", sample_rate=32000)
    x = cache.get(recording)
    assert isinstance(x, np.memmap) and x.dtype == np.float16 and x.ndim == 1
    assert not x.flags.writeable
    reference = load(recording, sample_rate=32000)
    assert len(x) == len(reference) == 64000
    np.testing.assert_allclose(x.astype(np.float32), reference, atol=1e-3)  # float16 rounding


def test_a_file_is_decoded_once_and_its_entry_not_rewritten(tmp_path, recording, count_decodes):
    cache = DecodeCache(tmp_path / "cache", sample_rate=32000)
    first = cache.read(recording, 0.0, 1.0)
    entry = cache.entry_path(recording)
    written_ns = entry.stat().st_mtime_ns
    again = DecodeCache(tmp_path / "cache", sample_rate=32000)  # a new object, as in another process
    np.testing.assert_array_equal(again.read(recording, 0.0, 1.0), first)
    cache.get(recording)
    cache.duration_s(recording)
    assert count_decodes == [str(recording)]
    assert entry.stat().st_mtime_ns == written_ns


def test_each_setting_gets_its_own_entry(tmp_path, recording, count_decodes):
    root = tmp_path / "cache"
    entries = {
        DecodeCache(root, 32000).entry_path(recording),
        DecodeCache(root, 16000).entry_path(recording),
        DecodeCache(root, 32000, dtype="float32").entry_path(recording),
        DecodeCache(root, 32000, channel=0).entry_path(recording),
    }
    assert len(entries) == 4


def test_a_changed_file_is_decoded_again_and_the_stale_entry_removed(tmp_path, count_decodes):
    path = write_tone(tmp_path / "a.wav", sample_rate=16000, duration_s=1.0, freq_hz=440.0, amplitude=0.5)
    cache = DecodeCache(tmp_path / "cache", sample_rate=16000)
    assert np.abs(cache.read(path, 0.0, 1.0)).max() == pytest.approx(0.5, abs=1e-3)
    old_entry = cache.entry_path(path)
    size = path.stat().st_size
    write_tone(path, sample_rate=16000, duration_s=1.0, freq_hz=440.0, amplitude=0.25)
    assert path.stat().st_size == size  # same size: only the mtime tells the versions apart
    os.utime(path, ns=(old_entry.stat().st_mtime_ns + 10**9,) * 2)
    assert np.abs(cache.read(path, 0.0, 1.0)).max() == pytest.approx(0.25, abs=1e-3)
    assert len(count_decodes) == 2
    assert not old_entry.exists()
    assert cache.entry_path(path).exists()


def test_read_zero_pads_both_ends_with_exact_lengths(tmp_path):
    path = tmp_path / "ramp.wav"
    sf.write(path, np.linspace(0.1, 0.9, 8000, dtype=np.float32), 8000, subtype="FLOAT")
    cache = DecodeCache(tmp_path / "cache", sample_rate=8000, dtype="float32")
    x = cache.read(path, -0.5, 0.25)
    assert x.dtype == np.float32 and len(x) == 6000
    assert not x[:4000].any()
    np.testing.assert_allclose(x[4000:], np.linspace(0.1, 0.9, 8000)[:2000], atol=1e-6)
    y = cache.read(path, 0.75, 1.5)
    assert len(y) == 6000
    np.testing.assert_allclose(y[:2000], np.linspace(0.1, 0.9, 8000)[6000:], atol=1e-6)
    assert not y[2000:].any()
    assert len(cache.read(path, -1.0, 2.0)) == 24000
    assert not cache.read(path, 3.0, 3.5).any() and len(cache.read(path, 3.0, 3.5)) == 4000
    assert len(cache.read(path, 0.0001, 0.3331)) == round(0.333 * 8000)


def test_int16_entries_read_back_as_float(tmp_path, recording):
    cache = DecodeCache(tmp_path / "cache", sample_rate=32000, dtype="int16")
    assert cache.get(recording).dtype == np.int16
    np.testing.assert_allclose(cache.read(recording, 0.0, 2.0), load(recording, 32000), atol=1e-4)


def test_pickles_without_open_maps_and_works_after(tmp_path, recording):
    cache = DecodeCache(tmp_path / "cache", sample_rate=32000)
    expected = cache.read(recording, 0.1, 0.3)
    clone = pickle.loads(pickle.dumps(cache))
    assert clone._maps == {}
    np.testing.assert_array_equal(clone.read(recording, 0.1, 0.3), expected)


def test_bad_files_raise_audio_error_naming_them_and_leave_no_entry(tmp_path, bad_files):
    cache = DecodeCache(tmp_path / "cache", sample_rate=16000)
    for kind in ("missing", "corrupt", "nan", "truncated"):
        with pytest.raises(AudioError) as caught:
            cache.get(bad_files[kind])
        assert str(caught.value).startswith(f"{bad_files[kind]}: ")
    assert list((tmp_path / "cache").glob("*")) == []  # no entry, no temporary file left behind


def test_a_span_ending_before_it_starts_is_an_error_naming_the_file(tmp_path, recording):
    cache = DecodeCache(tmp_path / "cache", sample_rate=32000)
    with pytest.raises(ValueError, match=f"{recording}: t1_s"):
        cache.read(recording, 1.0, 0.5)


def test_unknown_dtype_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="float16"):
        DecodeCache(tmp_path, 32000, dtype="float64")
