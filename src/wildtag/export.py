"""``wildtag export``: a run's fold-averaged models as one ONNX graph, waveform in, probabilities out.

    >>> export_onnx("runs/demo", "exports/demo")   # model.onnx + preprocessing.json (+ model.json)

The whole model is in the graph, frontend included: the STFT is computed as a strided ``Conv1d`` with
the windowed DFT's cosine and sine rows as kernels (the ONNX STFT operator has no complex output that
the TorchScript exporter can use), then the same mel/linear projection, dB scale and normalisation as
in torch. Fold averaging, tiles and the activation are in the graph too, so onnxruntime needs
nothing but the waveform: ``(batch, samples)`` float32 at the model's sample rate and window length.
The model card (``model.json``) and the stored preprocessing travel with the export.
"""

from __future__ import annotations

import copy
import json
import math
import types
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wildtag.errors import ConfigError, ModelLoadError
from wildtag.features.base import Frontend
from wildtag.fileio import atomic_path, write_text_atomic
from wildtag.inference.backends import ONNX_IMAGES_MODEL, ONNX_MODEL, ONNX_PREPROCESSING
from wildtag.inference.loading import Ensemble, load_ensemble

OPSET = 17


def dft_kernels(frontend: Frontend) -> Tensor:
    """``(2 * (n_fft // 2 + 1), 1, n_fft)`` Conv1d weights: windowed cosine rows, then sine rows."""
    n_fft, win = frontend.n_fft, frontend.win_length
    window = torch.zeros(n_fft, dtype=torch.float64)
    left = (n_fft - win) // 2  # torch.stft centres a shorter window in the frame
    window[left : left + win] = torch.hann_window(win, dtype=torch.float64)
    n = torch.arange(n_fft, dtype=torch.float64)
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
    angle = 2 * math.pi * k * n / n_fft
    kernels = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window])
    return kernels.to(torch.float32).unsqueeze(1)


def _conv_stft_power(self: Frontend, wave: Tensor) -> Tensor:
    """``torch.stft(center=True, pad_mode="reflect")`` power, as a convolution ONNX can express."""
    half = self.n_fft // 2
    padded = F.pad(wave.unsqueeze(1), (half, half), mode="reflect")
    spectrum = F.conv1d(padded, self.dft_kernels, stride=self.hop_length)
    real, imag = spectrum.chunk(2, dim=1)
    power = real.square() + imag.square()
    if self.power == 2.0:
        return power
    return power.sqrt() if self.power == 1.0 else power.sqrt().pow(self.power)


def onnx_ready(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose frontends compute their STFT by convolution."""
    model = copy.deepcopy(model)
    for module in model.modules():
        if isinstance(module, Frontend):
            module.register_buffer("dft_kernels", dft_kernels(module), persistent=False)
            module._stft_power = types.MethodType(_conv_stft_power, module)
    return model


class EnsembleGraph(nn.Module):
    """``wave (B, N) -> probabilities (B, K)``, averaged over the folds, as the torch scorer computes it."""

    def __init__(self, ensemble: Ensemble):
        super().__init__()
        self.models = nn.ModuleList(onnx_ready(m) for m in ensemble.models)
        self.ensemble = Ensemble(list(self.models), ensemble.card)

    def forward(self, wave: Tensor) -> Tensor:
        return self.ensemble.scores(wave)


class ImagesGraph(nn.Module):
    """``images (B, 1, F, T) -> probabilities (B, K)``: the folds on their shared frontend's scaled images
    (:meth:`~wildtag.inference.loading.Ensemble.stream_frontend`), as the torch scorer scores them."""

    def __init__(self, ensemble: Ensemble):
        super().__init__()
        self.models = nn.ModuleList(ensemble.models)
        self.ensemble = ensemble

    def forward(self, images: Tensor) -> Tensor:
        return self.ensemble.scores(images)


def export_onnx(run: str | Path, out_dir: str | Path, *, folds: list[int] | None = None,
                overwrite: bool = False) -> Path:
    """Write ``model.onnx`` (all folds averaged), ``preprocessing.json`` and the run's ``model.json``; and
    ``model_images.onnx`` where the folds share a spectrogram frontend (``predict --backend onnx`` then
    computes the images in its decode workers, one STFT per block, as the torch backend does)."""
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise ConfigError("export to ONNX needs onnx and onnxruntime: pip install 'wildtag[onnx]'") from None
    ensemble = load_ensemble(run, folds)
    out_dir = Path(out_dir)
    if (out_dir / ONNX_MODEL).exists() and not overwrite:
        raise FileExistsError(f"{out_dir / ONNX_MODEL} exists; pass --overwrite to replace it")
    out_dir.mkdir(parents=True, exist_ok=True)
    graph = EnsembleGraph(ensemble).eval()
    samples = int(round(ensemble.window_s * ensemble.sample_rate))
    example = torch.zeros(2, samples)
    with atomic_path(out_dir / ONNX_MODEL) as partial:
        try:
            with torch.no_grad():
                torch.onnx.export(graph, (example,), str(partial), input_names=["wave"], output_names=["probs"],
                                  dynamic_axes={"wave": {0: "batch"}, "probs": {0: "batch"}},
                                  opset_version=OPSET, dynamo=False)
        except Exception as error:  # the exporter raises many types for an operator it cannot express
            raise ModelLoadError(f"{run}: this model does not export to ONNX ({type(error).__name__}: {error})") from None
    preprocessing = {**ensemble.card.to_dict(), "onnx_input_samples": samples}
    frontend = ensemble.stream_frontend()
    (out_dir / ONNX_IMAGES_MODEL).unlink(missing_ok=True)
    if frontend is not None:
        with torch.no_grad():
            images = frontend.scaled(example)
        try:
            with atomic_path(out_dir / ONNX_IMAGES_MODEL) as partial, torch.no_grad():
                torch.onnx.export(ImagesGraph(ensemble).eval(), (images,), str(partial), input_names=["images"],
                                  output_names=["probs"], dynamic_axes={"images": {0: "batch"}, "probs": {0: "batch"}},
                                  opset_version=OPSET, dynamo=False)
            preprocessing["onnx_images_input"] = list(images.shape[1:])
        except Exception:  # noqa: BLE001 - the images graph only makes scoring faster: the export stands without it
            (out_dir / ONNX_IMAGES_MODEL).unlink(missing_ok=True)
    write_text_atomic(out_dir / ONNX_PREPROCESSING, json.dumps(preprocessing, indent=2, default=str))
    ensemble.card.save(out_dir / "model.json")  # the card the folds share travels with the graph
    return out_dir
