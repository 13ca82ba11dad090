"""Build the bundled demo set (src/wildtag/example_data/insects) from InsectSet32 (CC BY 4.0).

Four species, eight recordings each (five to train on, one to pick the best epoch, two held out for
the final test, taken from the dataset's published validation split where it has two), each cut to its first 6 s and
resampled to 22.05 kHz mono FLAC to keep the package small. Run from the repository root:

    python scripts/make_demo_data.py ../shared/data/insectset32
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import soundfile as sf
import soxr

SPECIES = ["Grylluscampestris", "Chorthippusbiguttulus", "Nemobiussylvestris", "Platypleuraplumosa"]
PER_SPECIES, HELD_OUT, SECONDS, RATE = 8, 2, 6.0, 22050


def main(source: Path, target: Path) -> None:
    labels = pd.read_csv(source / "labels.csv")
    rows = []
    (target / "audio").mkdir(parents=True, exist_ok=True)
    for species in SPECIES:
        # held-out clips come from the published validation split, training clips from its train split
        pool = labels[labels.species == species]
        ordered = pd.concat([pool[pool.split == "validation"], pool[pool.split == "train"].iloc[::-1]])
        test = ordered.head(HELD_OUT)
        train = pool[pool.split == "train"].drop(test.index, errors="ignore").head(PER_SPECIES - HELD_OUT)
        for split, part in (("train", train.head(-1)), ("validation", train.tail(1)), ("test", test)):
            for file in part.file:
                audio, rate = sf.read(source / file, dtype="float32", frames=int(SECONDS * 44100))
                audio = soxr.resample(audio, rate, RATE)
                name = Path(file).name
                sf.write(target / "audio" / name, audio, RATE, subtype="PCM_16")
                rows.append({"file": f"audio/{name}", "species": species, "split": split})
    pd.DataFrame(rows).to_csv(target / "labels.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parents[1] / "src/wildtag/example_data/insects")
