"""InsectSet32 benchmark: accuracy and training time of the default recipe, then CPU inference speed and
peak memory on a one-hour recording.

    python benchmarks/insectset32/run.py [--data ../shared/data/insectset32] [--set trainer.epochs=60] [--skip-train RUN]

Speed is reported against a baseline measured in the same process: decoding (and resampling) the same
hour of audio without a model, so the ratio says what the model adds on this machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import soundfile as sf
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def build_hour(data: Path, out: Path, seconds: float = 3600.0) -> Path:
    """Long real audio: validation clips concatenated until ``seconds`` are filled (44.1 kHz FLAC)."""
    import pandas as pd

    labels = pd.read_csv(data / "labels.csv")
    files = [data / f for f in labels[labels.split == "validation"].file]
    rate = sf.info(files[0]).samplerate
    with sf.SoundFile(out, "w", samplerate=rate, channels=1, format="FLAC", subtype="PCM_16") as sink:
        written, i = 0, 0
        while written < seconds * rate:
            clip = sf.read(files[i % len(files)], dtype="float32")[0]
            clip = clip[: int(seconds * rate) - written]
            sink.write(clip)
            written, i = written + len(clip), i + 1
    return out


PEAK_RSS = """
def peak_rss_mib():
    # VmHWM starts afresh at exec; ru_maxrss would carry over the parent's peak from before the fork.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""


def child(code: str) -> dict:
    """Run python code in a fresh process and return the JSON it prints last."""
    done = subprocess.run([sys.executable, "-c", PEAK_RSS + code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


DECODE = """
import json, time
from wildtag.runtime import configure_threads
from wildtag.audio import stream_blocks
configure_threads(0)
t = time.perf_counter(); n = 0
for block in stream_blocks({path!r}, {rate}, {rate} * 30):
    n += len(block)
print(json.dumps({{"wall_s": time.perf_counter() - t, "samples": n, "peak_rss_mib": peak_rss_mib()}}))
"""

PREDICT = """
import json, time
from wildtag.runtime import configure_threads
from wildtag.inference.predict import predict
configure_threads({workers})
s = predict({run!r}, [{path!r}], {out!r}, batch_size=64, num_workers={workers}, show_progress=False)
print(json.dumps({{"wall_s": s.wall_s, "audio_s": s.audio_s, "windows": s.n_windows,
                  "peak_rss_mib_main_process": peak_rss_mib()}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "insectset32")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--skip-train", type=Path, default=None, help="use this trained run directory")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {"command": " ".join(sys.argv)}

    if args.skip_train is None:
        from wildtag.config import load_config
        from wildtag.training.fit import fit

        cfg = load_config("insectset32",
                          [f"data.labels={args.data / 'labels.csv'}", *args.overrides])
        started = time.perf_counter()
        run = fit(cfg, args.out / "runs" / "insectset32", show_progress=False)
        results["train_wall_s"] = time.perf_counter() - started
    else:
        run = args.skip_train
    summary = json.loads((run / "metrics.json").read_text())
    results["run"] = str(run)
    results["valid_accuracy_best_checkpoint"] = summary["overall"].get("accuracy")
    results["valid_lwlrap_best_checkpoint"] = summary["overall"].get("lwlrap")
    results["valid_map_macro"] = summary["overall"].get("map_macro")

    rate = int(yaml.safe_load((run / "config.yaml").read_text())["audio"]["sample_rate"])
    for hours in (1, 2):  # equal peaks for 1 h and 2 h show that a recording is never held whole
        audio = build_hour(args.data, args.out / f"{hours}h.flac", seconds=3600.0 * hours)
        decode = child(DECODE.format(path=str(audio), rate=rate))
        results[f"decode_only_{hours}h"] = {**decode, "times_real_time": 3600.0 * hours / decode["wall_s"]}
        for workers in (0, 1) if hours == 1 else (0,):
            pred = child(PREDICT.format(run=str(run), path=str(audio), out=str(args.out / f"pred{hours}h{workers}"),
                                        workers=workers))
            results[f"predict_{hours}h_workers{workers}"] = {
                **pred,
                "times_real_time": pred["audio_s"] / pred["wall_s"],
                "wall_vs_decode_only": pred["wall_s"] / decode["wall_s"],
                "peak_rss_vs_decode_only": pred["peak_rss_mib_main_process"] / decode["peak_rss_mib"],
            }
    text = json.dumps(results, indent=2, default=float)
    (HERE / "results.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
