import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from wildtag.inference.loading import ModelLoadError, load_ensemble
from wildtag.inference.plan import window_starts
from wildtag.inference.predict import predict
from wildtag.testing import write_tone, write_tone_bursts


@pytest.fixture
def archive(tmp_path):
    """A folder of good and bad recordings, as a field archive would have."""
    root = tmp_path / "archive"
    write_tone_bursts(root / "site_a" / "low.wav", 16000, 4.0, [(0.5, 3.5, 800.0)], noise_level=0.05)
    write_tone_bursts(root / "site_a" / "high.flac", 16000, 2.6, [(0.2, 2.4, 3000.0)], noise_level=0.05)
    write_tone(root / "site_b" / "stereo_48k.wav", sample_rate=48000, duration_s=1.5, freq_hz=800.0,
               num_channels=2)
    (root / "site_b" / "empty.wav").write_bytes(b"")
    (root / "site_b" / "corrupt.wav").write_bytes(b"RIFF" + bytes(range(200)))
    sf.write(root / "site_b" / "nan.wav", np.full(16000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    good = root / "site_b" / "trunc_src.flac"
    write_tone(good, sample_rate=16000, duration_s=3.0)
    data = good.read_bytes()
    (root / "site_b" / "truncated.flac").write_bytes(data[: len(data) // 2])
    good.unlink()
    return root


def test_predict_scores_good_files_and_lists_bad_ones(tiny_run, archive, tmp_path):
    summary = predict(tiny_run, [archive], tmp_path / "out", show_progress=False, num_workers=0)
    recordings = pd.read_csv(tmp_path / "out" / "recordings.csv")
    errors = pd.read_csv(tmp_path / "out" / "errors.csv")
    windows = pd.read_parquet(tmp_path / "out" / "windows.parquet")
    assert list(recordings.columns) == ["recording", "high", "low"]
    assert set(recordings["recording"]) >= {"site_a/low.wav", "site_a/high.flac", "site_b/stereo_48k.wav"}
    bad = {"empty.wav", "corrupt.wav", "nan.wav"}
    assert bad <= {p.split("/")[-1] for p in errors["path"]}
    assert not bad & {r.split("/")[-1] for r in recordings["recording"]}
    assert summary.n_errors == len(errors)
    assert len(recordings) + len(errors) == 7  # nothing lost: every file is scored or reported
    # windows follow the plan: 1-s windows every 0.5 s (the recipe's hop, stored in the model)
    low = windows[windows["recording"] == "site_a/low.wav"]
    np.testing.assert_allclose(low["t0_s"], window_starts(4.0, 1.0, 0.5))
    np.testing.assert_allclose(low["t1_s"] - low["t0_s"], 1.0)
    by_name = recordings.set_index("recording")
    assert by_name.loc["site_a/low.wav", "low"] > by_name.loc["site_a/low.wav", "high"]
    assert by_name.loc["site_a/high.flac", "high"] > by_name.loc["site_a/high.flac", "low"]
    # recording score = max over its windows (the recipe's aggregate)
    np.testing.assert_allclose(by_name.loc["site_a/low.wav", ["high", "low"]].to_numpy(dtype=float),
                               low[["high", "low"]].max().to_numpy(dtype=float), rtol=1e-6)


def test_truncated_flac_is_reported_or_scored_in_part_never_lost(tiny_run, archive, tmp_path):
    predict(tiny_run, [archive / "site_b" / "truncated.flac"], tmp_path / "o", show_progress=False,
            num_workers=0)
    recordings = pd.read_csv(tmp_path / "o" / "recordings.csv")
    errors = pd.read_csv(tmp_path / "o" / "errors.csv")
    assert len(recordings) + len(errors) == 1
    if len(errors):
        assert "truncated.flac" in errors["path"][0]


def test_folds_are_averaged(tiny_run, tmp_path):
    two_folds = tmp_path / "two"
    shutil.copytree(tiny_run, two_folds)
    shutil.copytree(tiny_run / "fold-0", two_folds / "fold-1")
    # make fold 1 differ: scale the classifier weights
    ckpt_path = two_folds / "fold-1" / "checkpoints" / "best.ckpt"
    state = torch.load(ckpt_path, weights_only=True)
    for key in state["state_dict"]:
        if key.startswith("model.head") and key.endswith("weight"):
            state["state_dict"][key] = state["state_dict"][key] * 0.5
    torch.save(state, ckpt_path)
    ensemble = load_ensemble(two_folds)
    single = [load_ensemble(two_folds / f"fold-{k}" / "checkpoints" / "best.ckpt") for k in (0, 1)]
    wave = torch.randn(3, 16000) * 0.1
    expected = (single[0].scores(wave) + single[1].scores(wave)) / 2
    torch.testing.assert_close(ensemble.scores(wave), expected)
    assert not torch.allclose(single[0].scores(wave), single[1].scores(wave))


def test_not_a_run_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="no fold-K"):
        load_ensemble(tmp_path)
    bad = tmp_path / "x.ckpt"
    bad.write_bytes(b"nope")
    with pytest.raises(ModelLoadError, match="x.ckpt"):
        load_ensemble(bad)
