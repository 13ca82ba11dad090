"""Per-stage breakdown of a py-spy speedscope profile of ``wildtag predict`` (main process and decode worker).

    py-spy record --subprocesses -r 50 --format speedscope -o demo.json -- \
        wildtag predict RUN long_60min_48k.wav --out OUT --overwrite
    python benchmarks/inference/profile_stages.py demo.json

Each sample goes to the first stage (in the order of ``STAGES``) whose marker appears in its stack, so a
frontend called inside the model counts as frontend, not backbone. py-spy samples only busy threads unless
run with ``--idle``: the seconds are CPU-busy seconds per process.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

# (stage, markers: a frame name or file fragment that puts a sample into the stage)
STAGES = [
    ("imports", ("_find_and_load",)),
    ("frontend", ("Frontend.forward", "StftMelFrontend.forward", "forward_frontend", "Frontend.scaled_windows",
                  "Frontend.finish")),
    ("backbone", ("forward_features",)),
    ("head", ("forward_head",)),
    ("scorer other", ("TorchScorer.scores", "Ensemble.scores")),
    ("decode + resample", ("stream_blocks", "file_chunks", "/wildtag/audio/", "soxr", "soundfile")),
    ("windowing", ("file_windows",)),
    ("collate + IPC", ("collate_stream", "_MultiProcessingDataLoaderIter", "pin_memory", "Queue.", "_serve",
                       "reduce_storage", "rebuild_storage", "default_collate", "_feed")),
    ("scoring loop", ("ScoreFiles",)),
    ("outputs", ("outputs.py", "writers.py", "journal.py", "parquet", "write_", "aggregate")),
    ("model load", ("load_ensemble", "create_scorer", "load_checkpoint")),
]


def breakdown(path: str) -> dict[str, dict[str, float]]:
    """``{process: {stage: busy seconds}}`` of one speedscope file written by py-spy."""
    data = json.load(open(path))
    frames = data["shared"]["frames"]
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for profile in data["profiles"]:
        process = profile["name"].split(" Thread")[0]
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            names = [frames[i]["name"] + " " + (frames[i].get("file") or "") for i in stack]
            # A forked worker's stack starts with its parent's (DataLoader start-up): keep only its own.
            own = [k for k, n in enumerate(names) if n.startswith("BaseProcess._bootstrap ")]
            names = names[own[-1]:] if own else names
            stage = next((s for s, marks in STAGES if any(m in n for n in names for m in marks)), "other")
            out[process][stage] += weight
    return out


def main() -> None:
    for path in sys.argv[1:]:
        print(f"## {path}")
        for process, stages in breakdown(path).items():
            total = sum(stages.values())
            print(f"{process}: {total:.1f} s busy")
            for stage, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
                print(f"  {stage:18s} {seconds:7.1f} s  {100 * seconds / total:5.1f} %")


if __name__ == "__main__":
    main()
