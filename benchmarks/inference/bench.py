"""Where predict spends its time: decode-only, model-only bound and end to end, as ratios in one process.

    python benchmarks/inference/bench.py --work /tmp/wildtag-bench --minutes 60

Builds a long 48 kHz WAV from real InsectSet32 clips (../shared/data), trains three models for one short
epoch each (speed does not depend on accuracy): the demo recipe, the insectset32 recipe and resnet18 at
5-s windows, then for each model measures in this one process:
- decode: decode + resample + windowing alone (``file_windows``), x real time;
- model: the scorer on pre-computed batches of windows (fp32, channels_last, bf16), x real time;
- stream: decode + resample + the stream frontend (one STFT per decoded block), what a decode worker does;
- model on images: ``finish`` + backbone + head on the stream frontend's pre-computed images, the bound of
  the new path (the model-only bound above includes the per-window frontend);
- predict: ``wildtag.inference.predict.predict`` end to end (load, decode workers, model, outputs), the
  new path (frontend in the stream) interleaved with the old one (``PerWindow``: samples to the model),
  A B B A for workers 1 / 1 torch thread, A B for the other settings.
Writes ``results.json`` under ``--work`` and prints a Markdown table.
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

import numpy as np
import soundfile as sf
import soxr

REPO = Path(__file__).resolve().parents[2]
CLIPS = Path(os.environ.get("WILDTAG_SHARED_DATA", REPO.parent / "shared" / "data")) / "insectset32"
MODELS = {
    "demo": ("demo", []),
    "demo_hop256": ("demo", ["model.frontend.hop_length=256"]),  # the demo recipe before 2026-12-03 17:00
    "insectset32": ("insectset32", []),
    "resnet18_5s": ("insectset32", ["model.backbone={name: resnet18}", "audio.window_s=5.0",
                                    "inference.hop_s=5.0"]),
}


def long_recording(path: Path, minutes: float) -> Path:
    """Real clips, resampled to 48 kHz, concatenated to ``minutes`` (PCM16 WAV, as recorders write)."""
    if path.exists():
        return path
    pieces, total, target = [], 0, int(minutes * 60 * 48000)
    files = sorted((CLIPS / "audio").glob("*.flac"))
    if not files:
        raise SystemExit(f"no clips under {CLIPS / 'audio'}; set WILDTAG_SHARED_DATA to the shared data folder")
    while total < target:
        for f in files:
            x, sr = sf.read(f, dtype="float32", always_2d=True)
            y = soxr.resample(x.mean(axis=1), sr, 48000)
            pieces.append(y)
            total += len(y)
            if total >= target:
                break
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.concatenate(pieces)[:target], 48000, subtype="PCM_16")
    return path


def train(name: str, recipe: str, overrides: list[str], work: Path) -> Path:
    from wildtag.config import load_config
    from wildtag.recipebook import recipe_path
    from wildtag.training.fit import fit

    run = work / "runs" / name
    if (run / "fold-0").exists() or any(run.glob("fold-*/checkpoints/*.ckpt")):
        return run
    labels = REPO / "src" / "wildtag" / "example_data" / "insects" / "labels.csv"
    cfg = load_config(recipe_path(recipe), [f"data.labels={labels}", f"data.cache_dir={work / 'cache'}",
                                             "trainer.epochs=1", "sampler.train.samples_per_epoch=32",
                                             "trainer.num_workers=0", *overrides])
    return fit(cfg, run, show_progress=False)


def decode_only(path: Path, sample_rate: int, window_s: float, hop_s: float) -> tuple[float, int]:
    from wildtag.inference.stream import file_windows

    started, n = time.perf_counter(), 0
    for _ in file_windows(path, sample_rate, window_s, hop_s):
        n += 1
    return time.perf_counter() - started, n


class PerWindow:
    """A scorer without ``stream_frontend``: predict's old path, windows go to the model as samples."""

    def __init__(self, scorer):
        self._scorer = scorer

    def __getattr__(self, name):
        if name == "stream_frontend":
            raise AttributeError(name)
        return getattr(self._scorer, name)


def stream_only(path: Path, sample_rate: int, window_s: float, hop_s: float, frontend) -> float:
    from wildtag.inference.stream import WindowStream

    started = time.perf_counter()
    for _ in WindowStream([path], sample_rate, window_s, hop_s, frontend=frontend):
        pass
    return time.perf_counter() - started


def model_only(scorer, batches, **_) -> float:
    scorer.scores(batches[0])  # warm-up (oneDNN picks kernels on first call)
    started = time.perf_counter()
    for wave in batches:
        scorer.scores(wave)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/wildtag-bench"))
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--bound-minutes", type=float, default=5.0, help="audio used for the model-only bound")
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--settings", nargs="*", default=["w1t1", "w1t2", "w0t2"],
                        help="predict settings: wNtM = N decode workers, M torch threads")
    args = parser.parse_args()
    from wildtag.runtime import keep_freed_memory, let_waiting_threads_sleep

    # The process settings `wildtag predict` makes (benchmarks/inference/process_settings.py measures them).
    assert let_waiting_threads_sleep() or os.environ.get("OMP_WAIT_POLICY"), "torch was imported too early"
    keep_freed_memory()
    import torch

    from wildtag.inference.backends import cpu_has_bf16, create_scorer
    from wildtag.inference.loading import load_ensemble
    from wildtag.inference.predict import predict
    from wildtag.inference.stream import file_windows
    from wildtag.runtime import configure_threads

    cores = os.cpu_count() or 1
    results = {"uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
               "cores": cores, "torch": torch.__version__, "cpu_bf16": cpu_has_bf16(), "minutes": args.minutes,
               "models": {}}
    wav = long_recording(args.work / f"long_{int(args.minutes)}min_48k.wav", args.minutes)
    audio_s = sf.info(wav).duration
    print(f"{wav}: {audio_s / 60:.1f} min; {results['uptime']}", flush=True)
    for name in args.models:
        recipe, overrides = MODELS[name]
        run = train(name, recipe, overrides, args.work)
        configure_threads(0)
        probe = create_scorer(run, device="cpu")
        pre = probe.preprocessing
        sr, window_s = int(pre["sample_rate"]), float(pre["window_s"])
        hop_s = float(pre["inference"]["hop_s"])
        row: dict = {"window_s": window_s, "hop_s": hop_s, "sample_rate": sr,
                     "params": sum(p.numel() for m in load_ensemble(run).models for p in m.parameters())}
        decode_s, n_windows = decode_only(wav, sr, window_s, hop_s)
        row["decode_x"] = audio_s / decode_s
        bound_n = int(args.bound_minutes * 60 / hop_s)
        windows = [w for _, (_, w) in zip(range(bound_n), file_windows(wav, sr, window_s, hop_s), strict=False)]
        batches = [torch.from_numpy(np.stack(windows[i : i + 64])) for i in range(0, len(windows), 64)]
        bound_audio_s = len(windows) / n_windows * audio_s
        frontend = probe.ensemble.models[0].frontend
        with torch.inference_mode():
            started = time.perf_counter()
            for wave in batches:
                frontend(wave)
        row["frontend_x"] = bound_audio_s / (time.perf_counter() - started)
        variants = {"fp32": dict(channels_last=False), "fp32_channels_last": dict(channels_last=True),
                    "bf16_channels_last": dict(channels_last=True, precision="bf16")}
        if not cpu_has_bf16():  # emulated: 4x to 7x slower than fp32 here (run of 2026-12-02 12:36)
            del variants["bf16_channels_last"]
        for label, kw in variants.items():
            scorer = create_scorer(run, device="cpu", **kw)
            row[f"model_{label}_x"] = bound_audio_s / model_only(scorer, batches)
        ref = create_scorer(run, device="cpu", channels_last=False).scores(torch.cat(batches[:4]))
        bf = create_scorer(run, device="cpu", precision="bf16").scores(torch.cat(batches[:4]))
        cl = create_scorer(run, device="cpu", channels_last=True).scores(torch.cat(batches[:4]))
        row["bf16_max_abs_diff"] = float((bf - ref).abs().max())
        row["channels_last_max_abs_diff"] = float((cl - ref).abs().max())
        frontend = probe.stream_frontend()
        if frontend is not None:
            torch.set_num_threads(1)  # as in a decode worker
            row["stream_x"] = audio_s / stream_only(wav, sr, window_s, hop_s, frontend)
            torch.set_num_threads(cores)
            with torch.no_grad():
                images = [frontend.scaled(wave) for wave in batches]
            row["model_images_x"] = bound_audio_s / model_only(probe, images)
            row["images_max_abs_diff"] = float((probe.scores(torch.cat(images[:4])) - ref).abs().max())
        for setting in args.settings:
            workers, threads = (int(x) for x in setting[1:].split("t"))
            order = ["old", "new", "new", "old"] if setting == "w1t1" else ["old", "new"]
            for variant in order:
                torch.set_num_threads(threads)
                scorer = create_scorer(run, device="cpu")
                scorer = PerWindow(scorer) if variant == "old" else scorer
                started = time.perf_counter()
                predict(run, [wav], args.work / "out" / f"{name}_{variant}", scorer=scorer, num_workers=workers,
                        overwrite=True, show_progress=False)
                x = audio_s / (time.perf_counter() - started)
                row.setdefault(f"predict_{setting}_{variant}_x", []).append(round(x, 1))
                print(name, setting, variant, f"{x:.1f}x", flush=True)
        results["models"][name] = row
        print(name, json.dumps(row, indent=1), flush=True)
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["uptime_end"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    (args.work / "results.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
