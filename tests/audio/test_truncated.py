"""A WAV whose header promises more data than the file holds is reported as truncated, not read as shorter."""

import struct

import numpy as np
import pytest
import soundfile as sf

from wildtag.audio import AudioError, DecodeCache, load, probe, stream_blocks
from wildtag.audio.info import wav_shortfall


@pytest.fixture
def complete_wav(tmp_path):
    path = tmp_path / "complete.wav"
    sf.write(path, np.random.default_rng(0).uniform(-0.5, 0.5, 16000 * 2).astype(np.float32), 16000,
             subtype="PCM_16")
    return path


def cut(path, out, keep: float):
    data = path.read_bytes()
    out.write_bytes(data[: int(len(data) * keep)])
    return out


def test_a_cut_wav_is_reported_with_both_lengths(complete_wav, tmp_path):
    truncated = cut(complete_wav, tmp_path / "cut.wav", 0.5)
    assert sf.info(str(truncated)).frames < 16000 * 2  # libsndfile alone would call it a 1-s recording
    promised, present = wav_shortfall(truncated)
    assert promised == pytest.approx(2.0) and present == pytest.approx(1.0, abs=0.01)
    message = r"cut\.wav: truncated: the WAV header promises 2\.000 s of audio but the file holds 0\.99\d s"
    with pytest.raises(AudioError, match=message):
        probe(truncated)
    with pytest.raises(AudioError, match="truncated"):
        load(truncated)
    with pytest.raises(AudioError, match="truncated"):
        list(stream_blocks(truncated, 16000, 4000))
    with pytest.raises(AudioError, match="truncated"):
        DecodeCache(tmp_path / "cache", 16000).read(truncated, 0.0, 0.5)


def test_complete_wavs_and_unfinished_headers_are_not_flagged(complete_wav, tmp_path):
    assert wav_shortfall(complete_wav) is None
    assert probe(complete_wav).duration_s == pytest.approx(2.0)
    # A recorder that never finished its header writes 0xFFFFFFFF as the data size; the audio is all there.
    data = bytearray(complete_wav.read_bytes())
    at = data.index(b"data") + 4
    data[at:at + 4] = struct.pack("<I", 0xFFFFFFFF)
    unfinished = tmp_path / "unfinished.wav"
    unfinished.write_bytes(bytes(data))
    assert wav_shortfall(unfinished) is None
    header_only = tmp_path / "header_only.wav"
    header_only.write_bytes(complete_wav.read_bytes()[:30])  # cut inside the fmt chunk: no data chunk to judge
    assert wav_shortfall(header_only) is None
    flac = tmp_path / "a.flac"
    sf.write(flac, np.zeros(1600, dtype=np.float32), 16000)
    assert wav_shortfall(flac) is None


def test_chunks_before_the_data_chunk_are_skipped(complete_wav, tmp_path):
    data = complete_wav.read_bytes()
    at = data.index(b"data")
    listing = b"LIST" + struct.pack("<I", 5) + b"INFOx" + b"\x00"  # odd size: one pad byte
    with_list = data[:at] + listing + data[at:]
    with_list = with_list[:4] + struct.pack("<I", len(with_list) - 8) + with_list[8:]
    path = tmp_path / "with_list.wav"
    path.write_bytes(with_list[: len(with_list) - 16000])
    with pytest.raises(AudioError, match="truncated"):
        probe(path)
    promised, present = wav_shortfall(path)
    assert promised == pytest.approx(2.0) and present == pytest.approx(1.5)
