"""Frontend on the whole streamed block vs per window, one thread, interleaved in one process (x real time).

    python benchmarks/inference/frontend_block.py /tmp/wildtag-bench/runs/demo /tmp/wildtag-bench/runs/insectset32

For each run: the windows of 10 minutes of noise at the model's rate and hop, scored by
``frontend(stack of windows)`` (the old path) and by ``frontend.scaled_windows`` per 30-s block plus
``finish`` (the stream frontend), rounds alternating; prints x real time of each and the max abs diff.
"""

from __future__ import annotations

import sys
import time

import torch

from wildtag.inference.backends import create_scorer
from wildtag.inference.plan import window_start_samples


def main() -> None:
    torch.set_num_threads(1)
    for run in sys.argv[1:]:
        scorer = create_scorer(run, device="cpu")
        frontend = scorer.stream_frontend()
        pre = scorer.preprocessing
        sr, window_n = int(pre["sample_rate"]), int(round(pre["window_s"] * pre["sample_rate"]))
        hop_n = int(round(pre["inference"]["hop_s"] * sr))
        block_n, seconds = 30 * sr, 600
        signal = torch.randn(seconds * sr) * 0.1
        starts = torch.as_tensor(window_start_samples(len(signal), window_n, hop_n))
        times = {"per_window": 0.0, "block": 0.0}
        with torch.inference_mode():
            for _ in range(3):
                started = time.perf_counter()
                old = [frontend(signal[s[:, None] + torch.arange(window_n)]) for s in starts.split(64)]
                times["per_window"] += time.perf_counter() - started
                started = time.perf_counter()
                new = []
                for first in range(0, len(starts), block_n // hop_n):
                    part = starts[first : first + block_n // hop_n]
                    lo = int(part[0])
                    new.append(frontend.finish(frontend.scaled_windows(signal[lo : int(part[-1]) + window_n],
                                                                       part - lo, window_n)))
                times["block"] += time.perf_counter() - started
        diff = float((torch.cat(old) - torch.cat(new)).abs().max())
        print(run, {k: f"{3 * seconds / v:.0f}x" for k, v in times.items()},
              f"ratio {times['per_window'] / times['block']:.2f}", f"max abs diff {diff:.1e}", flush=True)


if __name__ == "__main__":
    main()
