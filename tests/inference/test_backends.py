import pytest
import torch

from wildtag.errors import ConfigError
from wildtag.inference.backends import TorchScorer, create_scorer
from wildtag.inference.loading import load_ensemble


@pytest.fixture
def waves():
    torch.manual_seed(0)
    t = torch.arange(16000) / 16000
    tones = torch.stack([0.5 * torch.sin(2 * torch.pi * f * t) for f in (800.0, 3000.0, 1500.0)])
    return torch.cat([tones, 0.1 * torch.randn(5, 16000)])


def test_torch_scorer_equals_ensemble_with_and_without_channels_last(tiny_run, waves):
    reference = load_ensemble(tiny_run).scores(waves)
    for channels_last in (False, True):
        scorer = create_scorer(tiny_run, device="cpu", channels_last=channels_last)
        assert isinstance(scorer, TorchScorer) and scorer.channels_last is channels_last
        got = scorer.scores(waves)
        assert got.shape == (len(waves), 2) and got.dtype == torch.float32
        torch.testing.assert_close(got, reference, atol=1e-5, rtol=0)
    assert not reference[:3].allclose(reference[:3].flip(0))  # the tones are told apart, not constant


def test_channels_last_is_the_default_for_conv_models(tiny_run):
    assert create_scorer(tiny_run, device="cpu").channels_last is True


def test_bf16_autocast_is_applied_on_cpu_only_when_asked_and_stays_close(tiny_run, waves):
    fp32 = create_scorer(tiny_run, device="cpu")
    bf16 = create_scorer(tiny_run, device="cpu", precision="bf16")
    assert fp32.precision == "fp32" and bf16.precision == "bf16"
    difference = (bf16.scores(waves) - fp32.scores(waves)).abs().max().item()
    assert 0 < difference < 0.02  # bf16 really ran (not identical) and is within bf16 rounding


def test_unknown_precision_and_backend_are_user_errors(tiny_run):
    with pytest.raises(ConfigError, match="precision 'fp16'"):
        create_scorer(tiny_run, precision="fp16")
    with pytest.raises(KeyError, match="backend"):
        create_scorer(tiny_run, backend="tensorrt")
    with pytest.raises(ConfigError, match="wildtag export"):
        create_scorer(load_ensemble(tiny_run), backend="onnx")


def test_predict_precision_bf16_stays_close_to_fp32(tiny_run, tmp_path):
    import numpy as np
    import pandas as pd

    from wildtag.inference.predict import predict
    from wildtag.testing import write_tone_bursts

    write_tone_bursts(tmp_path / "in" / "a.wav", 16000, 4.0, [(0.5, 3.5, 800.0)], noise_level=0.05)
    runs = {}
    for precision in ("fp32", "bf16"):
        predict(tiny_run, [tmp_path / "in"], tmp_path / precision, precision=precision, num_workers=0,
                show_progress=False)
        runs[precision] = pd.read_parquet(tmp_path / precision / "windows.parquet")[["high", "low"]].to_numpy()
    difference = np.abs(runs["bf16"] - runs["fp32"]).max()
    assert 0 < difference < 0.02
