"""Process settings for scoring, each in a fresh process: torch threads and glibc's malloc.

    OMP_NUM_THREADS=2 python benchmarks/inference/process_settings.py --work /tmp/wildtag-bench --rounds 3

Uses the runs and the long recording that ``bench.py`` left in ``--work``. Per round and model, in turn:
``one-thread`` (torch 1 thread, malloc as glibc ships it: what the CLI did before 7d05a53), ``all-cores``
(torch every core) and ``all-cores+kept-memory`` (also ``keep_freed_memory``: what ``wildtag predict`` does
now). Each runs ``predict`` with one decode worker in its own interpreter and reports x real time, minor page
faults, kernel (sys) seconds and peak RSS of the main process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = ("one-thread", "all-cores", "all-cores+kept-memory")


def child(setting: str, run: Path, recording: Path, out: Path, batch_size: int) -> dict:
    from wildtag.audio import probe
    from wildtag.inference.predict import predict
    from wildtag.runtime import configure_threads, keep_freed_memory

    if setting.endswith("+kept-memory"):
        assert keep_freed_memory()
    configure_threads(0, 1 if setting == "one-thread" else None)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    predict(run, [recording], out, num_workers=1, overwrite=True, show_progress=False, batch_size=batch_size)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "x_real_time": probe(recording).duration_s / seconds,
        "minor_faults": after.ru_minflt - before.ru_minflt,
        "sys_s": after.ru_stime - before.ru_stime,
        "peak_rss_mb": after.ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/wildtag-bench"))
    parser.add_argument("--models", nargs="*", default=["demo", "insectset32"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--child", nargs=2, metavar=("SETTING", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    recording = args.work / "long_60min_48k.wav"
    if args.child:
        setting, model = args.child
        result = child(setting, args.work / "runs" / model, recording, args.work / "settings-out" / model,
                       args.batch_size)
        print(json.dumps(result))
        return
    results: dict[str, dict[str, list[dict]]] = {}
    for round_ in range(args.rounds):
        for model in args.models:
            for setting in SETTINGS:
                command = [sys.executable, __file__, "--work", str(args.work), "--batch-size",
                           str(args.batch_size), "--child", setting, model]
                line = subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1]
                result = json.loads(line)
                results.setdefault(model, {}).setdefault(setting, []).append(result)
                print(f"round {round_ + 1} {model:12s} {setting:22s} {result['x_real_time']:6.0f}x  "
                      f"faults {result['minor_faults']:>9,}  sys {result['sys_s']:5.2f} s  "
                      f"peak {result['peak_rss_mb']:5.0f} MB", flush=True)
    (args.work / "process_settings.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
