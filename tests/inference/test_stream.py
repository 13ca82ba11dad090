import numpy as np
import soundfile as sf

from wildtag.inference.plan import window_starts
from wildtag.inference.stream import WindowStream, collate_stream, file_windows
from wildtag.testing import write_tone


def test_file_windows_match_the_plan_and_the_samples(tmp_path):
    sr = 8000
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, int(sr * 7.3)).astype(np.float32)
    path = tmp_path / "noise.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    stats = {}
    windows = list(file_windows(path, sr, window_s=2.0, hop_s=1.5, block_s=0.7, stats=stats))
    np.testing.assert_allclose([t for t, _ in windows], window_starts(7.3, 2.0, 1.5))
    for t0, samples in windows:
        start = int(round(t0 * sr))
        expected = x[start : start + 2 * sr]
        assert len(samples) == 2 * sr
        assert len(expected) == 2 * sr  # the last window ends at the end: nothing padded
        np.testing.assert_allclose(samples, expected, atol=1e-6)
    assert windows[-1][0] == (len(x) - 2 * sr) / sr
    assert stats["duration_s"] == len(x) / sr


def test_a_file_shorter_than_a_window_is_one_zero_padded_window(tmp_path):
    sr = 8000
    x = np.random.default_rng(0).uniform(-0.5, 0.5, int(sr * 0.6)).astype(np.float32)
    sf.write(tmp_path / "short.wav", x, sr, subtype="FLOAT")
    ((t0, samples),) = list(file_windows(tmp_path / "short.wav", sr, window_s=1.0, hop_s=0.5))
    assert t0 == 0 and len(samples) == sr
    np.testing.assert_allclose(samples[: len(x)], x, atol=1e-6)
    assert not samples[len(x) :].any()


def test_stream_reports_bad_files_and_goes_on(tmp_path):
    good = write_tone(tmp_path / "good.wav", sample_rate=8000, duration_s=3.0)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really audio")
    records = list(WindowStream([bad, good], sample_rate=8000, window_s=1.0, hop_s=1.0))
    errors = [r for r in records if "error" in r]
    assert len(errors) == 1 and errors[0]["file_index"] == 0
    assert sum("wave" in r for r in records) == 3
    assert records[-1] == {"file_index": 1, "done": True, "duration_s": 3.0}
    batch = collate_stream(records)
    assert batch["wave"].shape == (3, 8000) and len(batch["events"]) == 2
