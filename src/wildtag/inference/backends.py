"""Scorers: waveform batches in, fold-averaged probabilities out, on torch or onnxruntime.

    >>> scorer = create_scorer("runs/demo")                       # torch, fp32 on CPU, bf16 on CUDA
    >>> scorer = create_scorer("exports/demo", backend="onnx")    # a folder written by ``wildtag export``
    >>> probs = scorer.scores(wave)                               # (B, N) float32 -> (B, K)

Every scorer has ``.preprocessing`` (the model's stored settings: sample rate, window, classes, tiles,
class boxes) and ``.scores``. The torch scorer runs under ``torch.inference_mode`` with the backbone's
input in channels_last memory order and each BatchNorm folded into the convolution before it (both
measured faster for conv backbones on CPU, see ``benchmarks/inference/README.md``), in fp32 on the CPU each
convolution + ReLU one oneDNN call on pre-packed weights (:mod:`wildtag.inference.packed_conv`) and bf16 autocast on CUDA by default, on CPU only when asked:
CPUs without AVX512-BF16 or AMX emulate bf16 and run slower than fp32.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from wildtag.errors import ConfigError, ModelLoadError
from wildtag.inference.loading import Ensemble, load_ensemble
from wildtag.inference.packed_conv import pack_conv_relu
from wildtag.registry import Registry

BACKENDS = Registry("backend")
PRECISIONS = ("fp32", "bf16")
ONNX_MODEL = "model.onnx"
ONNX_IMAGES_MODEL = "model_images.onnx"  # the same folds on the stream frontend's images (no STFT inside)
ONNX_PREPROCESSING = "preprocessing.json"


class Scorer(Protocol):
    """What the archive runner needs from a model."""

    preprocessing: dict[str, Any]

    def scores(self, wave: Tensor) -> Tensor: ...


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere it is emulated and slow."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return torch.backends.mkldnn.is_available() and any(f in flags for f in ("avx512_bf16", "amx_bf16"))


def _to_channels_last(module: nn.Module, args: tuple) -> tuple:
    spec, *rest = args
    return (spec.contiguous(memory_format=torch.channels_last), *rest) if spec.ndim == 4 else args


def fold_batchnorm(backbone: nn.Module) -> nn.Module:
    """``backbone`` (in eval mode) with every BatchNorm that directly follows a convolution folded into that
    convolution's weights: the same function up to float rounding, one pass over the feature map fewer.
    A backbone torch.fx cannot trace is returned unchanged."""
    if backbone.training or not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in backbone.modules()):
        return backbone
    from torch.fx.experimental.optimization import fuse

    try:
        folded = fuse(backbone)
    except Exception:  # noqa: BLE001 - data-dependent control flow etc.: keep the eager module
        return backbone
    for name in ("num_features", "in_chans", "channels_last"):
        if hasattr(backbone, name):
            setattr(folded, name, getattr(backbone, name))
    return folded


_RELUS = (torch.relu, torch.nn.functional.relu)
_FRESH_OUTPUT_MODULES = (nn.Conv1d, nn.Conv2d, nn.Linear, nn.modules.batchnorm._BatchNorm)


def relu_in_place(module: nn.Module) -> nn.Module:
    """``module`` (a torch.fx graph, as :func:`fold_batchnorm` returns) with each ReLU of a convolution,
    linear or BatchNorm output that nothing else reads computed in place: no new feature map to allocate
    and fill (1.1x on tiny_cnn at batch 64). Other modules are returned unchanged."""
    from torch import fx

    if not isinstance(module, fx.GraphModule):
        return module
    modules = dict(module.named_modules())
    changed = False
    for node in module.graph.nodes:
        is_relu = (node.op == "call_function" and node.target in _RELUS) or (
            node.op == "call_module" and type(modules.get(node.target)) is nn.ReLU)
        if not is_relu or not node.args:
            continue
        source = node.args[0]
        fresh = (isinstance(source, fx.Node) and source.op == "call_module"
                 and isinstance(modules.get(source.target), _FRESH_OUTPUT_MODULES))
        if fresh and len(source.users) == 1:
            node.op, node.target, node.args, node.kwargs = "call_function", torch.relu_, (source,), {}
            changed = True
    if changed:
        module.recompile()
    return module


class TorchScorer:
    """The fold models of a run on one torch device."""

    def __init__(self, ensemble: Ensemble, *, precision: str = "fp32", device: str | torch.device = "cpu",
                 channels_last: bool = True, fold_bn: bool = True, pack_convs: bool = True):
        self.ensemble = ensemble.to(device)
        if fold_bn:
            pack = pack_convs and torch.device(device).type == "cpu" and precision == "fp32"
            for model in ensemble.models:
                model.backbone = relu_in_place(fold_batchnorm(model.backbone))
                if pack:
                    model.backbone = pack_conv_relu(model.backbone)
        self.preprocessing = ensemble.card.to_dict()
        self.device = torch.device(device)
        self.precision = precision
        self.channels_last = channels_last
        if channels_last:
            for model in ensemble.models:
                model.backbone.to(memory_format=torch.channels_last)
                model.backbone.register_forward_pre_hook(_to_channels_last)

    @property
    def card(self) -> Any:
        return getattr(self.ensemble, "card", None)

    def stream_frontend(self) -> nn.Module | None:
        """The frontend the decode workers may run (:meth:`Ensemble.stream_frontend`); None on CUDA, where
        the frontend runs faster on the device."""
        return self.ensemble.stream_frontend() if self.device.type == "cpu" else None

    def scores(self, wave: Tensor) -> Tensor:
        """Probabilities ``(B, K)`` float32 on the CPU for waveforms ``(B, N)``, or for the stream frontend's
        images ``(B, 1, F, T)`` (:meth:`stream_frontend`)."""
        on_cuda = self.device.type == "cuda"
        if on_cuda and wave.device.type == "cpu":
            wave = wave.pin_memory()
        wave = wave.to(self.device, non_blocking=True)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16,
                                                      enabled=self.precision == "bf16"):
            return self.ensemble.scores(wave).float().cpu()


class OnnxScorer:
    """A graph written by :func:`wildtag.export.export_onnx`, run on onnxruntime (CPU)."""

    def __init__(self, folder: Path, *, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError("backend 'onnx' needs onnxruntime: pip install 'wildtag[onnx]'") from None
        model = folder / ONNX_MODEL
        if not model.exists():
            raise ModelLoadError(f"{folder}: no {ONNX_MODEL} here; write one with `wildtag export RUN --out DIR`")
        self.preprocessing = json.loads((folder / ONNX_PREPROCESSING).read_text())
        from wildtag.models.card import ModelCard

        self.card = ModelCard.load(folder / "model.json")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # idle threads sleep, as torch's do (wildtag.runtime): spinning ones take the decode workers' cores
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.images_session, self._frontend = None, None
        if (folder / ONNX_IMAGES_MODEL).exists():
            self.images_session = ort.InferenceSession(str(folder / ONNX_IMAGES_MODEL), options,
                                                       providers=["CPUExecutionProvider"])
            from wildtag.features import create_frontend

            spec = dict(self.card.frontend)
            spec.pop("sample_rate", None)
            self._frontend = create_frontend(spec.pop("name"), sample_rate=self.card.sample_rate, **spec).eval()

    def stream_frontend(self) -> nn.Module | None:
        """The frontend whose images ``model_images.onnx`` scores (the decode workers compute them), or None
        for an export without that graph."""
        return self._frontend

    def scores(self, wave: Tensor) -> Tensor:
        """Probabilities ``(B, K)`` float32 for waveforms ``(B, N)``, or for :meth:`stream_frontend` images."""
        array = np.ascontiguousarray(wave.detach().cpu().numpy(), dtype=np.float32)
        if array.ndim == 4:
            if self.images_session is None:
                raise ValueError("this export has no images graph: give waveforms (batch, samples)")
            (probs,) = self.images_session.run(None, {self.images_session.get_inputs()[0].name: array})
        else:
            (probs,) = self.session.run(None, {self.input_name: array})
        return torch.from_numpy(probs)


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch device that exists on this machine; else a ConfigError saying what there is.

        >>> check_device("cpu")
        device(type='cpu')
    """
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"device {str(device)!r} is not a torch device; use cpu, cuda, cuda:N or mps") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"device {str(device)!r}: this machine has no usable CUDA device; use cpu")
        if parsed.index is not None and parsed.index >= count:
            raise ConfigError(f"device {str(device)!r}: this machine has {count} CUDA device(s), "
                              f"cuda:0..cuda:{count - 1}")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {str(device)!r}: MPS is not available here; use cpu")
    return parsed


@BACKENDS.register("torch")
def _torch_backend(*, source: str | Path | Ensemble, precision: str, device: str | None,
                   channels_last: bool | None) -> TorchScorer:
    device = check_device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    ensemble = source if isinstance(source, Ensemble) else load_ensemble(source)
    if channels_last is None:
        channels_last = any(isinstance(m, nn.Conv2d) for model in ensemble.models for m in model.modules())
    return TorchScorer(ensemble, precision=precision, device=device, channels_last=channels_last)


@BACKENDS.register("onnx")
def _onnx_backend(*, source: str | Path | Ensemble, precision: str, device: str | None,
                  channels_last: bool | None) -> OnnxScorer:
    if isinstance(source, Ensemble):
        raise ConfigError("backend 'onnx' runs an exported folder; run `wildtag export RUN --out DIR` first")
    if precision != "fp32":
        raise ConfigError(f"backend 'onnx' runs fp32 only, not precision {precision!r}")
    if device not in (None, "cpu"):
        raise ConfigError(f"backend 'onnx' runs on the CPU only, not device {device!r}")
    return OnnxScorer(Path(source), threads=torch.get_num_threads())


def create_scorer(
    model_path_or_ensemble: str | Path | Ensemble,
    backend: str = "torch",
    precision: str | None = None,
    device: str | None = None,
    channels_last: bool | None = None,
) -> Scorer:
    """A scorer for a run, checkpoint or loaded :class:`Ensemble` (torch) or an export folder (onnx).

    ``precision`` defaults to bf16 on CUDA and fp32 elsewhere; ``channels_last`` defaults to on for
    models with 2-d convolutions. A given :class:`Ensemble` is turned into an inference-only one in place
    (BatchNorm folded, convolutions packed): pass ``copy.deepcopy(ensemble)`` to keep training or exporting it.
    """
    on_cuda = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    precision = precision or ("bf16" if on_cuda and backend == "torch" else "fp32")
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    return BACKENDS.create(backend, source=model_path_or_ensemble, precision=precision, device=device,
                           channels_last=channels_last)
