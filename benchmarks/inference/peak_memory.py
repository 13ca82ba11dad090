"""Peak memory of a command's whole process tree, counting pages shared between processes once.

    python benchmarks/inference/peak_memory.py -- wildtag predict RUN long.wav --out OUT --overwrite --quiet

The decode workers are forked from the main process after torch has loaded, so each one's RSS repeats the
pages it shares with the main process (torch's libraries alone are ~300 MB); summed RSS over-counts them.
PSS (``/proc/PID/smaps_rollup``) splits each shared page between the processes that map it, so the summed
PSS of the tree is the memory the run takes from the machine. Samples every ``--every`` seconds (Linux only)
and prints the peaks of the summed PSS and of the summed RSS.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, as listed now."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *(p for child in children for p in process_tree(int(child)))]


def memory_kb(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of one process in kB; (0, 0) once it has gone."""
    values = {"Pss": 0, "Rss": 0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0])
    except (OSError, ValueError):
        pass
    return values["Pss"], values["Rss"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--every", type=float, default=0.05, help="seconds between samples")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peak_pss = peak_rss = processes_at_peak = 0
    while child.poll() is None:
        pids = process_tree(child.pid)
        pss, rss = (sum(values) for values in zip(*(memory_kb(p) for p in pids), strict=True))
        if pss > peak_pss:
            peak_pss, processes_at_peak = pss, len(pids)
        peak_rss = max(peak_rss, rss)
        time.sleep(args.every)
    print(f"peak summed PSS {peak_pss / 1024:.0f} MB ({processes_at_peak} processes then), "
          f"peak summed RSS {peak_rss / 1024:.0f} MB, wall {time.perf_counter() - started:.1f} s, "
          f"exit status {child.returncode}")


if __name__ == "__main__":
    main()
