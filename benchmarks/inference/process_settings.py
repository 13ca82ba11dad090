"""Process settings for scoring, each in a fresh process: torch threads and glibc's malloc.

    OMP_NUM_THREADS=2 python benchmarks/inference/process_settings.py --work /tmp/wildtag-bench --rounds 3

Uses the runs and the long recording that ``bench.py`` left in ``--work``. A setting is
``w<decode workers>t<torch threads>`` plus ``+kept`` (``keep_freed_memory``) and ``+passive``
(``OMP_WAIT_POLICY=PASSIVE``: OpenMP threads sleep at once instead of spinning when they wait). The defaults:
``w1t1`` (what the CLI did before 7d05a53), ``w1t2`` (torch every core) and ``w1t2+kept`` (what
``wildtag predict`` does now). Per round and model each setting runs ``predict`` in its own interpreter, in
turn, and reports x real time, minor page faults, kernel (sys) seconds and peak RSS of the main process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = ("w1t1", "w1t2", "w1t2+kept")


def parse(setting: str) -> tuple[int, int, set[str]]:
    """``"w1t2+kept"`` -> (1 worker, 2 threads, {"kept"})."""
    head, *flags = setting.split("+")
    workers, threads = (int(x) for x in head[1:].split("t"))
    return workers, threads, set(flags)


def child(setting: str, run: Path, recording: Path, out: Path, batch_size: int) -> dict:
    from wildtag.audio import probe
    from wildtag.inference.predict import predict
    from wildtag.runtime import configure_threads, keep_freed_memory

    workers, threads, flags = parse(setting)
    if "kept" in flags:
        assert keep_freed_memory()
    configure_threads(0, threads)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    predict(run, [recording], out, num_workers=workers, overwrite=True, show_progress=False,
            batch_size=batch_size)
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
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS))
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
            for setting in args.settings:
                command = [sys.executable, __file__, "--work", str(args.work), "--batch-size",
                           str(args.batch_size), "--child", setting, model]
                env = {**os.environ, **({"OMP_WAIT_POLICY": "PASSIVE"} if "passive" in parse(setting)[2] else {})}
                done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
                line = done.stdout.splitlines()[-1]
                result = json.loads(line)
                results.setdefault(model, {}).setdefault(setting, []).append(result)
                print(f"round {round_ + 1} {model:12s} {setting:22s} {result['x_real_time']:6.0f}x  "
                      f"faults {result['minor_faults']:>9,}  sys {result['sys_s']:5.2f} s  "
                      f"peak {result['peak_rss_mb']:5.0f} MB", flush=True)
    (args.work / "process_settings.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
