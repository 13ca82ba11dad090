"""Start-up of ``wildtag predict`` before its first window, against ``import torch``, in fresh processes.

    OMP_NUM_THREADS=1 python benchmarks/inference/startup.py --work /tmp/wildtag-startup --repeats 5

Interleaved, ``--repeats`` times: a fresh ``python -c "import torch"`` and a fresh ``wildtag predict RUN
FILE --out OUT --workers 0`` on one 10-s clip (the demo recipe's architecture, untrained: start-up does not
depend on the weights). Each child writes the wall-clock time of its event: after ``import torch``, and when
the first batch of windows reaches the model. Both are counted from just before the parent starts the child,
so interpreter start-up is in both. Then, once: which of the heavy modules (timm, torchvision, lightning,
scipy.signal, librosa, sklearn, matplotlib, pandas, pyarrow) ``predict`` had imported at its first window
and by its end, and ``python -X importtime``'s largest
cumulative imports of the predict child. Results go to ``WORK/startup.json`` and are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("timm", "torchvision", "lightning", "scipy.signal", "librosa", "sklearn", "matplotlib", "pandas", "pyarrow")

PREDICT = """
import sys, time
import wildtag.inference.scoring as scoring
real = scoring.ScoreFiles._scores
def first(self, wave):
    if not getattr(first, "seen", False):
        first.seen = True
        print("FIRST", time.time(), flush=True)
        print("AT_FIRST", " ".join(m for m in HEAVY if m in sys.modules), flush=True)
    return real(self, wave)
scoring.ScoreFiles._scores = first
from wildtag.cli import main
sys.argv = ["wildtag", "predict", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("MODULES", " ".join(m for m in HEAVY if m in sys.modules), flush=True)
""".replace("HEAVY", repr(HEAVY))
TORCH = "import time\nimport torch\nprint('FIRST', time.time(), flush=True)\n"


def _event(code: str, args: list[str], extra: list[str] = ()) -> tuple[float, str]:
    """Seconds from starting ``python -c code args`` to the time it printed after ``FIRST``; its output."""
    started = time.time()
    done = subprocess.run([sys.executable, *extra, "-c", code, *args], capture_output=True, text=True, check=True)
    stamp = next(float(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("FIRST"))
    return stamp - started, done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/wildtag-startup"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "benchmarks" / "archive"))
    import soundfile as sf
    from run import demo_model, source_clips

    from wildtag.audio import load

    args.work.mkdir(parents=True, exist_ok=True)
    run = demo_model(args.work / "run")
    clip = args.work / "clip.wav"
    x = np.concatenate([load(c, sample_rate=44100) for c in source_clips()[:8]])[: 10 * 44100]
    sf.write(clip, x, 44100, subtype="PCM_16")
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    rows = []
    for repeat in range(args.repeats):
        out = args.work / f"out{repeat}"
        torch_s, _ = _event(TORCH, [])
        first_s, text = _event(PREDICT, [str(run), str(clip), "--out", str(out), "--workers", "0", "--quiet",
                                         "--overwrite"])
        rows.append({"import_torch_s": torch_s, "first_window_s": first_s, "extra_s": first_s - torch_s})
        print(json.dumps(rows[-1]), flush=True)
    modules = next(line.split()[1:] for line in text.splitlines() if line.startswith("MODULES"))
    at_first = next(line.split()[1:] for line in text.splitlines() if line.startswith("AT_FIRST"))
    _, trace = _event(PREDICT, [str(run), str(clip), "--out", str(args.work / "trace"), "--workers", "0",
                                "--quiet", "--overwrite"], extra=["-X", "importtime"])
    imports = []  # (cumulative s, nesting level, module) of every import the predict child made
    for line in trace.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            _, cumulative_us, name = line[len("import time:"):].split("|")
            imports.append((int(cumulative_us) / 1e6, (len(name) - len(name.lstrip()) - 1) // 2, name.strip()))
    top = [{"module": name, "level": level, "cumulative_s": round(s, 3)}
           for s, level, name in sorted(imports, reverse=True)[:20]]
    result = {"uptime_before": uptime, "cpus": os.cpu_count(), "rows": rows,
              "median_import_torch_s": float(np.median([r["import_torch_s"] for r in rows])),
              "median_first_window_s": float(np.median([r["first_window_s"] for r in rows])),
              "median_extra_s": float(np.median([r["extra_s"] for r in rows])),
              "heavy_modules_imported": modules, "heavy_modules_at_first_window": at_first,
              "top_level_imports_s": top,
              "uptime_after": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}
    (args.work / "startup.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))


if __name__ == "__main__":
    main()
