"""The three data sets the recipe benchmark trains on, built from the real recordings in ../shared/data.

- ``insect_clip_labels``: InsectSet32 clip labels in the columns each clip recipe reads (published split).
- ``bat_time_split``: the Whombat bat boxes; every recording cut in two at a gap between calls (the
  earlier part trains, the later part validates), plus false-positive boxes (other species' bands at a
  recording's call times).
- ``insect_soundscapes``: longer recordings made by adding real InsectSet32 clips at known times onto
  quiet noise, with true-positive boxes, false-positive boxes (confirmed absences) and everything else
  unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from wildtag.audio import load
from wildtag.labels import make_events, read_raven, write_table

# Six acoustically different species with at least two validation clips each (tonal crickets, a broadband
# cicada, grasshoppers, bush crickets).
SOUNDSCAPE_SPECIES = (
    "Grylluscampestris", "Platypleuracfcatenata", "Chorthippusbiguttulus",
    "Pholidopteragriseoaptera", "Oecanthuspellucens", "Tettigoniaviridissima",
)
EVENT_COLUMNS = ["recording_id", "t0_s", "t1_s", "f0_hz", "f1_hz", "label", "present", "split"]


def insect_clip_labels(insect_root: Path, out_dir: Path) -> dict[str, Path]:
    """``birdclef.csv`` (filename, primary_label, secondary_labels, split) and ``fat.csv`` (fname, labels,
    split) over all 256 InsectSet32 clips with their published train/validation split."""
    labels = pd.read_csv(insect_root / "labels.csv")
    out_dir.mkdir(parents=True, exist_ok=True)
    birdclef = out_dir / "birdclef.csv"
    pd.DataFrame({"filename": labels.file, "primary_label": labels.species,
                  "secondary_labels": ["[]"] * len(labels), "split": labels.split}
                 ).to_csv(birdclef, index=False)
    fat = out_dir / "fat.csv"
    pd.DataFrame({"fname": labels.file, "labels": labels.species, "split": labels.split}
                 ).to_csv(fat, index=False)
    return {"birdclef": birdclef, "fat": fat}


@dataclass
class BoxData:
    """An events table (with a ``split`` column) and the folder of the recordings it names."""

    events: Path
    audio_dir: Path
    valid_audio: list[Path]
    summary: dict


def _cut_time(calls: pd.DataFrame, share: float) -> float:
    """A time between two calls near ``share`` of the annotated span, so that no box is cut."""
    calls = calls.sort_values("t0_s")
    ends = calls.t1_s.cummax().to_numpy()[:-1]
    starts = calls.t0_s.to_numpy()[1:]
    gaps = np.flatnonzero(starts > ends)
    if len(gaps) == 0:
        raise ValueError(f"recording {calls.recording_id.iloc[0]}: no gap between calls to cut at")
    target = share * calls.t1_s.max()
    k = gaps[np.argmin(np.abs(ends[gaps] - target))]
    return float((ends[k] + starts[k]) / 2)


def bat_time_split(bat_root: Path, out_dir: Path, *, train_share: float = 0.65, fp_per_call: int = 2,
                   seed: int = 0) -> BoxData:
    """Cut each bat recording into ``<id>_train`` and ``<id>_valid`` FLACs (native rate) with shifted boxes.

    Each recording holds one species and each species one recording, so folds over recordings would
    validate on species the model never heard; a time split keeps every species on both sides. Every
    call also gets ``fp_per_call`` false-positive boxes: other species (drawn at random) in their median
    band at the call's time, i.e. confirmed absences at a moment when a bat calls.
    """
    rng = np.random.default_rng(seed)
    audio_dir = out_dir / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    tables = [read_raven(p) for p in sorted(bat_root.glob("*.selections.txt"))]
    calls = pd.concat([t for t in tables if len(t)], ignore_index=True)
    bands = calls.groupby("label")[["f0_hz", "f1_hz"]].median()
    rows, valid_audio = [], []
    for rid, rec_calls in calls.groupby("recording_id", sort=True):
        wave, rate = sf.read(bat_root / "audio" / f"{rid}.flac", dtype="float32")
        cut_s = _cut_time(rec_calls, train_share)
        cut = int(round(cut_s * rate))
        for part, (lo, hi), offset_s in (("train", (0, cut), 0.0), ("valid", (cut, len(wave)), cut_s)):
            # no dots in the new ids: evaluate_files matches recordings by file stem
            name = f"{rid.replace('.', '-')}_{part}"
            sf.write(audio_dir / f"{name}.flac", wave[lo:hi], rate, subtype="PCM_16")
            if part == "valid":
                valid_audio.append(audio_dir / f"{name}.flac")
            side = rec_calls[(rec_calls.t0_s >= offset_s) & (rec_calls.t1_s <= offset_s + (hi - lo) / rate)]
            split = "train" if part == "train" else "validation"
            for call in side.itertuples():
                t0, t1 = call.t0_s - offset_s, call.t1_s - offset_s
                rows.append((name, t0, t1, call.f0_hz, call.f1_hz, call.label, True, split))
                others = [s for s in bands.index if s != call.label]
                for other in rng.choice(others, size=fp_per_call, replace=False):
                    rows.append((name, t0, t1, bands.f0_hz[other], bands.f1_hz[other], other, False, split))
    table = make_events(pd.DataFrame(rows, columns=EVENT_COLUMNS))
    events = write_table(table, out_dir / "events.csv")
    summary = _summary(table)
    return BoxData(events, audio_dir, valid_audio, summary)


def _summary(table: pd.DataFrame) -> dict:
    return {split: {"recordings": int(part.recording_id.nunique()), "tp_boxes": int(part.present.sum()),
                    "fp_boxes": int((~part.present).sum()), "classes": int(part.label.nunique())}
            for split, part in table.groupby("split")}


def energy_band_hz(wave: np.ndarray, sample_rate: int, lo_share: float = 0.05, hi_share: float = 0.95,
                   min_hz: float = 200.0) -> tuple[float, float]:
    """The band holding the middle 90% of a sound's spectral energy above ``min_hz`` (mean power spectrum)."""
    n_fft = 1024
    frames = np.lib.stride_tricks.sliding_window_view(wave, n_fft)[:: n_fft // 2]
    power = (np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2).mean(axis=0)
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    power, freqs = power[freqs >= min_hz], freqs[freqs >= min_hz]
    cumulative = np.cumsum(power) / power.sum()
    f0 = float(freqs[np.searchsorted(cumulative, lo_share)])
    f1 = float(freqs[min(np.searchsorted(cumulative, hi_share), len(freqs) - 1)])
    return f0, max(f1, f0 + sample_rate / n_fft)


def _rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-20))


def _loudest_segment(clip: np.ndarray, length: int, rng: np.random.Generator, tries: int = 6) -> np.ndarray:
    if len(clip) <= length:
        return clip
    starts = rng.integers(0, len(clip) - length, size=tries)
    return clip[max(starts, key=lambda s: _rms_db(clip[s:s + length])):][:length]


def _pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    noise = np.fft.irfft(spectrum, n)
    return (noise / noise.std()).astype(np.float32)


def _overlaps(t0: float, t1: float, spans: list[tuple[float, float]]) -> bool:
    return any(t0 < b and a < t1 for a, b in spans)


def insect_soundscapes(insect_root: Path, out_dir: Path, *, n_recordings: int = 24, n_valid: int = 8,
                       duration_s: float = 30.0, sample_rate: int = 32000, seed: int = 0) -> BoxData:
    """Soundscapes of real InsectSet32 clips inserted at known times, and their events table.

    Training soundscapes use clips of the published train split, validation soundscapes clips of the
    validation split, so no clip is heard on both sides. Each soundscape: pink noise at -60 dBFS RMS,
    a quiet distractor clip of a species outside the six (-50 dBFS, unlabelled), and 6 to 10 insertions
    (1 to 3 s cut from the loudest part of a clip, RMS -26 dBFS then a random gain of -12..0 dB, 20 ms
    fades) of 3 or 4 of the six species. Boxes: a TP box per insertion (its time; the 5-95% energy band
    of the inserted sound); FP boxes (present=False) for one species absent at each insertion's time, and
    for two species in each of two empty 1.5-s stretches, in that species' median band; the rest unknown.
    """
    rng = np.random.default_rng(seed)
    labels = pd.read_csv(insect_root / "labels.csv")
    audio_dir = out_dir / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    cache: dict[str, np.ndarray] = {}

    def clip(file: str) -> np.ndarray:
        if file not in cache:
            cache[file] = load(insect_root / file, sample_rate=sample_rate)
        return cache[file]

    n = int(duration_s * sample_rate)
    fade = np.linspace(0.0, 1.0, int(0.02 * sample_rate), dtype=np.float32)
    plans = []
    for i in range(n_recordings):
        split = "train" if i < n_recordings - n_valid else "validation"
        pool = labels[labels.split == split]
        distractors = pool[~pool.species.isin(SOUNDSCAPE_SPECIES)].file.to_numpy()
        mix = _pink_noise(n, rng) * 10 ** (-60 / 20)
        quiet = clip(str(rng.choice(distractors)))
        quiet = np.resize(quiet, n) * 10 ** ((-50 - _rms_db(quiet)) / 20)
        mix += quiet.astype(np.float32)
        species = rng.choice(SOUNDSCAPE_SPECIES, size=int(rng.integers(3, 5)), replace=False)
        inserted: list[dict] = []
        for _ in range(int(rng.integers(6, 11))):
            label = str(rng.choice(species))
            seg = _loudest_segment(clip(str(rng.choice(pool[pool.species == label].file))),
                                   int(rng.uniform(1.0, 3.0) * sample_rate), rng).copy()
            seg *= 10 ** ((-26 - _rms_db(seg) + rng.uniform(-12, 0)) / 20)
            seg[: len(fade)] *= fade
            seg[len(seg) - len(fade):] *= fade[::-1]
            own = [(e["t0_s"], e["t1_s"]) for e in inserted if e["label"] == label]
            for _try in range(20):  # a species does not overlap itself
                t0 = float(rng.uniform(0, duration_s - len(seg) / sample_rate))
                if not _overlaps(t0, t0 + len(seg) / sample_rate, own):
                    break
            else:
                continue
            start = int(t0 * sample_rate)
            mix[start:start + len(seg)] += seg
            f0, f1 = energy_band_hz(seg, sample_rate)
            inserted.append({"t0_s": t0, "t1_s": t0 + len(seg) / sample_rate, "f0_hz": f0, "f1_hz": f1,
                             "label": label})
        name = f"soundscape_{i:02d}"
        sf.write(audio_dir / f"{name}.flac", np.clip(mix, -1, 1), sample_rate, subtype="PCM_16")
        plans.append((name, split, inserted))

    tp = pd.DataFrame([{**e, "recording_id": name, "present": True, "split": split}
                       for name, split, inserted in plans for e in inserted])
    bands = tp.groupby(["split", "label"])[["f0_hz", "f1_hz"]].median()
    fp = []
    for name, split, inserted in plans:
        spans = {s: [(e["t0_s"], e["t1_s"]) for e in inserted if e["label"] == s] for s in SOUNDSCAPE_SPECIES}
        every = [(e["t0_s"], e["t1_s"]) for e in inserted]
        moments = [(e["t0_s"], e["t1_s"], 1) for e in inserted]
        for _ in range(2):  # empty stretches: nothing inserted there at all
            for _try in range(50):
                t0 = float(rng.uniform(0, duration_s - 1.5))
                if not _overlaps(t0, t0 + 1.5, every):
                    moments.append((t0, t0 + 1.5, 2))
                    break
        for t0, t1, count in moments:
            absent = [s for s in SOUNDSCAPE_SPECIES
                      if not _overlaps(t0, t1, spans[s]) and (split, s) in bands.index]
            for label in rng.choice(absent, size=min(count, len(absent)), replace=False):
                band = bands.loc[(split, label)]
                fp.append({"recording_id": name, "t0_s": t0, "t1_s": t1, "f0_hz": band.f0_hz,
                           "f1_hz": band.f1_hz, "label": str(label), "present": False, "split": split})
    table = make_events(pd.concat([tp, pd.DataFrame(fp)], ignore_index=True)[EVENT_COLUMNS])
    events = write_table(table, out_dir / "events.csv")
    valid_audio = [audio_dir / f"{name}.flac" for name, split, _ in plans if split == "validation"]
    return BoxData(events, audio_dir, valid_audio, _summary(table))
