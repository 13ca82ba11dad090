import json

import pytest
import torch

pytest.importorskip("onnxruntime")

from wildtag.export import export_onnx, onnx_ready  # noqa: E402
from wildtag.features import create_frontend  # noqa: E402
from wildtag.inference.backends import create_scorer  # noqa: E402
from wildtag.inference.loading import load_ensemble  # noqa: E402


@pytest.mark.parametrize("settings", [
    {"name": "logmel", "n_fft": 512, "hop_length": 256, "n_mels": 32},
    {"name": "stft", "n_fft": 400, "win_length": 300, "hop_length": 160, "power": 1.0, "scale": "db"},
])
def test_convolution_stft_matches_torch_stft(settings):
    frontend = create_frontend(settings.pop("name"), sample_rate=16000, **settings).eval()
    wave = torch.randn(3, 16000)
    torch.testing.assert_close(onnx_ready(frontend)(wave), frontend(wave), atol=2e-3, rtol=1e-4)


def test_export_round_trip_equals_torch(tiny_run, tmp_path):
    out = export_onnx(tiny_run, tmp_path / "export")
    preprocessing = json.loads((out / "preprocessing.json").read_text())
    assert preprocessing["class_names"] == ["high", "low"]
    from wildtag.models.card import ModelCard

    assert ModelCard.load(out / "model.json").fingerprint() == load_ensemble(tiny_run).card.fingerprint()
    t = torch.arange(16000) / 16000
    wave = torch.cat([torch.stack([0.5 * torch.sin(2 * torch.pi * f * t) for f in (800.0, 3000.0)]),
                      0.1 * torch.randn(3, 16000)])
    torch_scores = create_scorer(tiny_run, device="cpu").scores(wave)
    onnx_scores = create_scorer(out, backend="onnx").scores(wave)
    assert onnx_scores.shape == (5, 2)
    assert (onnx_scores - torch_scores).abs().max() < 1e-4
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_onnx(tiny_run, out)


def test_the_images_graph_scores_the_stream_frontends_images_as_torch_does(tiny_run, tmp_path):
    out = export_onnx(tiny_run, tmp_path / "export")
    assert (out / "model_images.onnx").stat().st_size > 1000
    onnx_scorer = create_scorer(out, backend="onnx")
    torch_scorer = create_scorer(tiny_run, device="cpu")
    frontend = onnx_scorer.stream_frontend()
    assert frontend is not None and type(frontend) is type(torch_scorer.stream_frontend())
    signal = 0.1 * torch.randn(3 * 16000)
    starts = torch.tensor([0, 8000, 16000, 32000])
    with torch.no_grad():
        images = frontend.scaled_windows(signal, starts, 16000)
        torch.testing.assert_close(images, torch_scorer.stream_frontend().scaled_windows(signal, starts, 16000))
    images[1, 0, : images.shape[2] // 2] = -59.39606475830078  # bins at the dB floor throughout (a real case)
    got, expected = onnx_scorer.scores(images), torch_scorer.scores(images)
    assert got.shape == (4, 2) and (got - expected).abs().max() < 1e-5
    # without the images graph (an export from before it existed) the scorer takes waveforms only
    (out / "model_images.onnx").unlink()
    old = create_scorer(out, backend="onnx")
    assert old.stream_frontend() is None
    with pytest.raises(ValueError, match="no images graph"):
        old.scores(images)


def test_export_command_writes_the_graph_and_refuses_unknown_formats(tiny_run, tmp_path):
    from typer.testing import CliRunner

    from wildtag import cli

    runner = CliRunner()
    result = runner.invoke(cli.app, ["export", str(tiny_run), "--format", "onnx", "--out", str(tmp_path / "e")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "e" / "model.onnx").stat().st_size > 1000
    result = runner.invoke(cli.app, ["export", str(tiny_run), "--format", "tflite", "--out", str(tmp_path / "f")])
    assert result.exit_code != 0 and "tflite" in str(result.exception or result.output)
    assert not (tmp_path / "f").exists()


def test_predict_with_the_onnx_backend_equals_torch(tiny_run, tmp_path):
    import numpy as np
    import pandas as pd

    from wildtag.inference.predict import predict
    from wildtag.testing import write_tone_bursts

    write_tone_bursts(tmp_path / "in" / "a.wav", 16000, 3.0, [(0.5, 2.5, 800.0)], noise_level=0.05)
    export = export_onnx(tiny_run, tmp_path / "export")
    predict(tiny_run, [tmp_path / "in"], tmp_path / "torch", num_workers=0, show_progress=False)
    predict(export, [tmp_path / "in"], tmp_path / "onnx", backend="onnx", num_workers=0, show_progress=False)
    torch_w, onnx_w = (pd.read_parquet(tmp_path / d / "windows.parquet") for d in ("torch", "onnx"))
    assert len(torch_w) == len(onnx_w) > 1
    np.testing.assert_allclose(onnx_w[["high", "low"]], torch_w[["high", "low"]], atol=1e-4)
