"""Any audio embedding model given as a local ONNX file, run with onnxruntime (``pip install 'wildtag[onnx]'``).

    frontend: {name: onnx_embedding, path: perch_v2.onnx, window_s: 5.0, output_name: embedding,
               licence: apache-2.0}
    audio: {sample_rate: 32000, window_s: 5.0}

The model takes float32 windows ``(batch, samples)`` (or ``(batch, 1, samples)``: the input's rank
decides) at the recipe's ``audio.sample_rate`` and gives ``(batch, dim)`` on ``output_name`` (default: its
first output). Its licence is whatever its publisher says: give it as ``licence`` so that model cards
built on it carry it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from wildtag.config import ConfigError
from wildtag.embeddings.base import EmbeddingFrontend
from wildtag.features.base import FRONTENDS

INSTALL_HINT = "pip install 'wildtag[onnx]' (onnxruntime)"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@FRONTENDS.register("onnx_embedding")
class OnnxEmbedding(EmbeddingFrontend):
    """An ONNX embedding model as a frozen frontend (see the module docstring)."""

    def __init__(self, path: str, sample_rate: int, window_s: float, output_name: str | None = None,
                 input_name: str | None = None, licence: str | None = None, batch_size: int = 32,
                 num_threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError(f"the onnx_embedding frontend needs onnxruntime: {INSTALL_HINT}") from None
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"onnx_embedding path: no such file {self.path}")
        if not window_s > 0:
            raise ConfigError(f"onnx_embedding window_s must be > 0, got {window_s!r}")
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = int(num_threads)
        try:
            session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own types for a damaged or foreign file
            raise ConfigError(f"{self.path}: not a readable ONNX model ({type(error).__name__}: {error})") from None
        inputs = {i.name: i for i in session.get_inputs()}
        outputs = [o.name for o in session.get_outputs()]
        self.input_name = input_name or next(iter(inputs))
        self.output_name = output_name or outputs[0]
        if self.input_name not in inputs:
            raise ConfigError(f"{self.path}: no input {self.input_name!r}; inputs: {', '.join(inputs)}")
        if self.output_name not in outputs:
            raise ConfigError(f"{self.path}: no output {self.output_name!r}; outputs: {', '.join(outputs)}")
        self._rank = len(inputs[self.input_name].shape)
        self._session = session
        self.sample_rate, self.window_s = int(sample_rate), float(window_s)  # what _run needs before the probe
        dim = self._run(np.zeros((1, self.window_samples), dtype=np.float32)).shape[-1]
        super().__init__(sample_rate, window_s, dim, licence=licence,
                         source=f"onnx:{self.path} (sha256 {file_sha256(self.path)[:16]})", batch_size=batch_size)
        self._session = session  # nn.Module.__init__ does not keep plain attributes set before it

    def _run(self, windows: np.ndarray) -> np.ndarray:
        feed = windows[:, None, :] if self._rank == 3 else windows
        out = self._session.run([self.output_name], {self.input_name: feed.astype(np.float32)})[0]
        out = np.asarray(out, dtype=np.float32)
        if out.ndim != 2:
            out = out.reshape(len(windows), -1)
        return out

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        return self._run(windows)
