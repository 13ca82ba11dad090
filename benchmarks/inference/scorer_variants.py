"""Model-only speed of ways to run one model on the stream frontend's images, interleaved in one process.

    OMP_NUM_THREADS=2 python benchmarks/inference/scorer_variants.py /tmp/wildtag-bench/runs/insectset32 \
        --recording /tmp/wildtag-bench/long_60min_48k.wav

Variants on 12 batches of 64 windows (first fold): ``scorer`` (what ``wildtag predict`` runs: BatchNorm folded,
ReLUs in place, each conv + ReLU one oneDNN call on packed weights, channels_last), ``unpacked`` (the same
without the packed calls), ``relu-copies`` (no packed calls, the ReLUs out of place), ``jit``
(``torch.jit.optimize_for_inference`` on the folded backbone) and ``onnxruntime`` (finish + backbone + head
exported to ONNX, needs ``wildtag[onnx]``). Prints x real time per round and each variant's max abs difference.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--recording", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from wildtag.runtime import configure_scoring

    configure_scoring()
    import torch
    from torch import nn

    from wildtag.inference.backends import create_scorer, fold_batchnorm, relu_in_place
    from wildtag.inference.loading import load_ensemble
    from wildtag.inference.stream import file_windows

    scorer = create_scorer(args.run, device="cpu")
    pre = scorer.preprocessing
    sample_rate, window_s, hop_s = int(pre["sample_rate"]), float(pre["window_s"]), float(pre["inference"]["hop_s"])
    windows = [w for _, (_, w) in zip(range(64 * 12), file_windows(args.recording, sample_rate, window_s, hop_s),
                                      strict=False)]
    frontend = scorer.stream_frontend()
    with torch.no_grad():
        images = [frontend.scaled(torch.from_numpy(np.stack(windows[i : i + 64]))) for i in range(0, len(windows), 64)]
    model = scorer.ensemble.models[0]

    def on_images(backbone: nn.Module):
        def run(x):
            with torch.no_grad():
                spec = model.frontend.finish(x).contiguous(memory_format=torch.channels_last)
                return model.forward_head(backbone(spec))["logits"]
        return run

    unfolded = load_ensemble(args.run).models[0].backbone.eval()
    folded = fold_batchnorm(unfolded).to(memory_format=torch.channels_last)  # ReLUs out of place
    unpacked = relu_in_place(fold_batchnorm(load_ensemble(args.run).models[0].backbone.eval()))
    unpacked.to(memory_format=torch.channels_last)
    with torch.no_grad():
        example = model.frontend.finish(images[0]).contiguous(memory_format=torch.channels_last)
        traced = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(folded, example)))
    variants = {"scorer": on_images(model.backbone), "unpacked": on_images(unpacked), "relu-copies": on_images(folded),
                "jit": on_images(traced)}
    try:
        import onnxruntime as ort

        class Graph(nn.Module):
            def __init__(self):
                super().__init__()
                self.model, self.backbone = model, folded  # no packed calls: ONNX has no oneDNN ops

            def forward(self, x):
                m = self.model
                return m.forward_head(self.backbone(m.frontend.finish(x)))["logits"]

        buffer = io.BytesIO()
        with torch.no_grad():
            torch.onnx.export(Graph().eval(), (images[0],), buffer, input_names=["x"], dynamic_axes={"x": {0: "b"}},
                              dynamo=False)
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
        variants["onnxruntime"] = lambda x: torch.from_numpy(session.run(None, {"x": x.numpy()})[0])
    except ImportError:
        print("onnxruntime not installed: skipped")
    reference = variants["relu-copies"](images[0])
    for name, run in variants.items():
        print(f"{name}: max abs diff {float((run(images[0]) - reference).abs().max()):.1e}")
    audio_s = len(windows) * hop_s
    for round_ in range(args.rounds):
        for name, run in variants.items():
            started = time.perf_counter()
            for x in images:
                run(x)
            print(f"round {round_ + 1} {name:12s} {audio_s / (time.perf_counter() - started):6.0f}x", flush=True)


if __name__ == "__main__":
    main()
