"""Archive-runner benchmark: many short files and one long file, journal on and off, in one process.

    WILDTAG_SHARED_DATA=/work/shared/data OMP_NUM_THREADS=1 python benchmarks/archive/run.py --work /tmp/wt-archive

Builds, from real clips (InsectSet32 in the shared data, else the bundled example clips), 2,000 WAV files of
0.5-3 s (44.1 kHz PCM16, cut at random from the clips) and one 3-hour WAV (the clips end to end). The model
is the demo recipe's architecture (tiny CNN, 22.05 kHz log-mel, 2-s windows, hop 1 s), untrained: speed does
not depend on the weights. Then:

1. in this process, after one unmeasured pass over 100 of the short files (one-off costs) and with every file
   read into the page cache, interleaved
   (on/off, then off/on, ...), ``predict`` with the journal (shards, manifest, assembly from the shards)
   and without it (``journal=False``: rows go straight into the outputs), ``--repeats`` times on the short
   files and ``--long-repeats`` times on the long file: the journal's overhead is the ratio of the two walls, and the time
   spent inside the journal's own operations (commits, manifest, reading shards back) is timed directly; CPU seconds (this process and its decode workers) are recorded beside the walls,
   as they depend far less on what else runs on a shared machine;
2. ``wildtag predict`` in a fresh process per data set, for its wall (start-up included) and peak RSS
   (``VmHWM`` of the process, and of its decode worker), writing Raven tables too (one per recording and the combined one).

The in-process runs write detections as CSV only, so that the journal's cost is compared against a baseline
that is not mostly per-file table writing.

Results go to ``WORK/results.json`` and are printed as Markdown rows for the README.
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

REPO = Path(__file__).resolve().parents[2]


def source_clips() -> list[Path]:
    shared = Path(os.environ.get("WILDTAG_SHARED_DATA", REPO.parent / "shared" / "data")) / "insectset32" / "audio"
    clips = sorted(shared.glob("*.flac")) if shared.is_dir() else []
    return clips or sorted((REPO / "src" / "wildtag" / "example_data" / "insects" / "audio").glob("*.flac"))


def _mono_44k(path: Path) -> np.ndarray:
    from wildtag.audio import load

    return load(path, sample_rate=44100)


def build_short_files(folder: Path, n: int, clips: list[Path], seed: int = 0) -> float:
    """``n`` WAVs of 0.5-3 s cut from the clips, in 20 site folders; their total seconds."""
    rng = np.random.default_rng(seed)
    audio = [_mono_44k(c) for c in clips[:64]]
    total = 0.0
    for i in range(n):
        x = audio[int(rng.integers(len(audio)))]
        length = min(len(x), int(rng.uniform(0.5, 3.0) * 44100))
        start = int(rng.integers(0, len(x) - length + 1))
        path = folder / f"site_{i % 20:02d}" / f"20240501_{i // 60 % 24:02d}{i % 60:02d}00_{i:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, x[start : start + length], 44100, subtype="PCM_16")
        total += length / 44100
    return total


def build_long_file(path: Path, hours: float, clips: list[Path]) -> float:
    """One WAV of ``hours`` made of the clips end to end (44.1 kHz PCM16); its seconds."""
    target = int(hours * 3600 * 44100)
    written = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(path, "w", 44100, 1, "PCM_16") as out:
        while written < target:
            for clip in clips:
                x = _mono_44k(clip)[: target - written]
                out.write(x)
                written += len(x)
                if written >= target:
                    break
    return written / 44100


def demo_model(folder: Path) -> Path:
    """An untrained run with the demo recipe's architecture and inference settings (read from the recipe)."""
    from wildtag.config import load_config
    from wildtag.models.card import InferenceDefaults, ModelCard, Provenance
    from wildtag.testing import write_model_run

    cfg = load_config("demo", check=False)
    card = ModelCard(
        sample_rate=cfg.audio.sample_rate, window_s=cfg.audio.window_s,
        class_names=tuple(f"species_{k}" for k in range(4)),
        frontend=cfg.model.frontend.spec(), backbone=cfg.model.backbone.spec(), head=cfg.model.head.spec(),
        inference=InferenceDefaults(window_s=cfg.audio.window_s, hop_s=cfg.inference.hop_s,
                                    aggregate=cfg.inference.aggregate.spec()),
        provenance=Provenance(wildtag_version="bench", created="2026-12-02T00:00:00Z"),
    )
    return write_model_run(folder, card)


def peak_rss_mb(reset: bool = False) -> float | None:
    """This process's peak resident memory (``VmHWM``) in MB; ``reset`` starts a new peak (Linux >= 4.0).

    Not ``getrusage``: Linux keeps ``ru_maxrss`` across ``execve``, so a child would report its parent's peak.
    """
    try:
        if reset:
            Path("/proc/self/clear_refs").write_text("5")
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class JournalClock:
    """Seconds spent inside the journal's own operations (commit, manifest, reading shards back)."""

    def __init__(self):
        from wildtag.inference import journal

        self.seconds = 0.0
        for owner, name in ((journal.ArchiveJournal, "_commit"), (journal.ArchiveJournal, "_part"),
                            (journal.ArchiveJournal, "_read_manifest"), (journal.ArchiveJournal, "done")):
            setattr(owner, name, self._timed(getattr(owner, name)))

    def _timed(self, method):
        clock = self

        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                clock.seconds += time.perf_counter() - started
        return wrapper


def in_process(run: Path, data: Path, out: Path, journal: bool, clock: JournalClock, workers: int) -> dict:
    import shutil

    from wildtag.inference.predict import predict

    shutil.rmtree(out, ignore_errors=True)
    before = clock.seconds
    peak_rss_mb(reset=True)
    cpu = os.times()
    started = time.perf_counter()
    summary = predict(run, [data], out, journal=journal, num_workers=workers, detect=True, threshold=0.5,
                      formats=["csv"], show_progress=False)
    wall = time.perf_counter() - started
    now = os.times()  # CPU seconds of this process and of its (joined) decode workers: less load-dependent
    cpu_s = sum(getattr(now, f) - getattr(cpu, f) for f in ("user", "system", "children_user", "children_system"))
    return {"journal": journal, "wall_s": wall, "cpu_s": cpu_s, "journal_ops_s": clock.seconds - before, "peak_rss_mb": peak_rss_mb(),
            "recordings": summary.n_recordings, "audio_s": summary.audio_s, "windows": summary.n_windows,
            "files_per_s": summary.n_recordings / wall, "x_real_time": summary.audio_s / wall}


def fresh_process(run: Path, data: Path, out: Path, workers: int) -> dict:
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    code = (
        "import resource, sys, time\n"
        "started = time.perf_counter()\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from run import peak_rss_mb\n"
        "from wildtag.cli import main\n"
        f"sys.argv = ['wildtag', 'predict', {str(run)!r}, {str(data)!r}, '--out', {str(out)!r}, '--quiet',"
        f" '--workers', '{workers}', '--threshold', '0.5', '--format', 'csv', '--format', 'raven']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "own = int(peak_rss_mb() * 1024)\n"
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(time.perf_counter() - started, own, kids)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall, own, kids = done.stdout.split()[-3:]
    summary = json.loads((out / "summary.json").read_text())
    return {"wall_s": float(wall), "peak_rss_mb": int(own) / 1024, "worker_peak_rss_mb": int(kids) / 1024,
            "recordings": summary["n_recordings"], "audio_s": summary["audio_s"],
            "files_per_s": summary["n_recordings"] / float(wall), "x_real_time": summary["audio_s"] / float(wall)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/wildtag-archive-bench"))
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--long-repeats", type=int, default=2, help="journal on/off pairs on the long file")
    parser.add_argument("--short-only", action="store_true", help="only the in-process runs on the short files")
    args = parser.parse_args()
    from wildtag.runtime import configure_scoring

    configure_scoring()  # in-process runs get the process settings `wildtag predict` makes
    work = args.work
    clips = source_clips()
    short, long = work / "short", work / "long" / "survey_3h.wav"
    if not short.is_dir():
        build_short_files(short, args.files, clips)
    if not long.exists():
        build_long_file(long, args.hours, clips)
    run = demo_model(work / "run")
    clock = JournalClock()
    results = {"uptime_before": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
               "cpus": os.cpu_count(), "source_clips": str(clips[0].parent), "in_process": [], "fresh_process": []}
    # not measured: the first predict in a process pays one-off costs (allocator, kernels), and the first
    # pass over the files reads them from disk into the page cache
    # (a pass over one site's 100 files; every file is read into the page cache before each data set)
    in_process(run, short / "site_00", work / "out" / "warm", False, clock, args.workers)
    sets = [("2000 short files", short, args.repeats), (f"{args.hours:g}-hour file", long.parent, args.long_repeats)]
    for name, data, repeats in sets[:1] if args.short_only else sets:
        for path in sorted(data.rglob("*.wav")):  # no measured run reads a file from disk
            with open(path, "rb") as handle:
                while handle.read(1 << 24):
                    pass
        for repeat in range(repeats):
            for journal in ((True, False) if repeat % 2 == 0 else (False, True)):
                row = in_process(run, data, work / "out" / f"{name}-{journal}", journal, clock, args.workers)
                results["in_process"].append({"data": name, **row})
                print(json.dumps(results["in_process"][-1]), flush=True)
        if args.short_only:
            continue
        results["fresh_process"].append({"data": name, **fresh_process(run, data, work / "out" / f"{name}-cli",
                                                                      args.workers)})
        print(json.dumps(results["fresh_process"][-1]), flush=True)
    results["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    results["bench_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))


def markdown(results: dict) -> str:
    lines = ["| data | journal | wall s (median) | files/s | x real time | journal's own ops s | overhead vs off | "
             "CPU s (median) | CPU overhead vs off | peak RSS MB |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["data"] for r in results["in_process"]):
        rows = [r for r in results["in_process"] if r["data"] == name]
        off = float(np.median([r["wall_s"] for r in rows if not r["journal"]]))
        cpu_off = float(np.median([r.get("cpu_s", np.nan) for r in rows if not r["journal"]]))
        for journal in (True, False):
            mine = [r for r in rows if r["journal"] == journal]
            wall = float(np.median([r["wall_s"] for r in mine]))
            cpu = float(np.median([r.get("cpu_s", np.nan) for r in mine]))
            ops = float(np.median([r["journal_ops_s"] for r in mine]))
            lines.append(f"| {name} | {'on' if journal else 'off'} | {wall:.1f} | {mine[0]['recordings'] / wall:.1f} | "
                         f"{mine[0]['audio_s'] / wall:.0f} | {ops:.2f} ({100 * ops / wall:.1f} %) | "
                         f"{'' if not journal else f'{100 * (wall - off) / off:+.1f} %'} | {cpu:.1f} | "
                         f"{'' if not journal else f'{100 * (cpu - cpu_off) / cpu_off:+.1f} %'} | "
                         f"{max(r['peak_rss_mb'] or 0 for r in mine):.0f} |")
    lines += ["", "| data (fresh `wildtag predict`) | wall s | files/s | x real time | peak RSS MB | decode worker MB |",
              "|---|---|---|---|---|---|"]
    for r in results["fresh_process"]:
        lines.append(f"| {r['data']} | {r['wall_s']:.1f} | {r['files_per_s']:.1f} | {r['x_real_time']:.0f} | "
                     f"{r['peak_rss_mb']:.0f} | {r['worker_peak_rss_mb']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
