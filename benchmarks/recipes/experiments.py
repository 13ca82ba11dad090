"""What the recipe benchmark trains: each recipe, unchanged except for the overrides listed here.

Overrides are of three kinds only: where the data is (paths, split column); a CPU-sized backbone
(``tiny_cnn`` for the recipes' ImageNet backbones, a narrower ``fat2019_cnn2d``); and sizes that follow
from the data (sample rate, window length, FFT and hop, tile widths in the same proportion to the window
as the recipe's). The budget is a fixed number of epochs per experiment, chosen so that each trains in
about two to four minutes on two CPU cores. Every other part of a recipe (frontend kind, head, loss,
augmentation, mixing, schedule, tiles) is the recipe's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Experiment:
    name: str
    recipe: str
    data: str  # "insects" | "bats" | "soundscapes"
    overrides: tuple[str, ...]
    ablation: str | None = None  # "group: arm" for ablation rows
    # Inference-only tile variants (label -> widths in frames, or None for the whole window), scored
    # with the same trained weights on the held-out recordings.
    tile_variants: dict[str, list[int] | None] = field(default_factory=dict)


CPU_TINY = "model.backbone={name: tiny_cnn}"

# --- clip-label recipes on InsectSet32 (205 train / 51 validation clips, 32 species) -----------------------
BIRDCLEF = (CPU_TINY, "model.frontend.n_mels=64", "model.frontend.hop_length=640",
            "sampler.train.samples_per_epoch=256", "trainer.epochs=20", "trainer.batch_size=32")
FAT_2D = ("model.backbone.base_width=16", "model.frontend.n_mels=64", "audio.window_s=5.0",
          "inference.hop_s=5.0", "sampler.train.samples_per_epoch=256", "trainer.epochs=16",
          "augment.waveform_off_epoch=14", "trainer.batch_size=20")
FAT_1D = ("audio.window_s=5.0", "inference.hop_s=5.0", "sampler.train.samples_per_epoch=256",
          "trainer.epochs=20", "augment.waveform_off_epoch=18")

# --- box recipes on the bat calls (250 kHz; calls of 1.5 to 30 ms) ----------------------------------------
BAT = ("audio.sample_rate=250000", CPU_TINY)
# LWLRAP is 1.0 at every epoch for box crops (each validation crop knows only its own class), so the best
# checkpoint must be picked by mAP over TP and FP crops. The recipe monitors valid/map_macro itself since
# commit bf71b0e; the runs in results.json were made before, with this override.
BOX_MONITOR = "trainer.monitor=valid/map_macro"
BAT_MIXOVER = (*BAT, BOX_MONITOR, "audio.window_s=0.04", "model.frontend.n_fft=512",
               "model.frontend.hop_length=64", "model.box_crop={out_bins: 64, out_frames: 64}",
               "inference.hop_s=0.02", "trainer.epochs=20")
# 256 frames of hop 256 (the recipe: 1024 frames of hop 640); tiles 16/32/64 = the recipe's 64/128/256 of 1024
BAT_DL = (*BAT, "audio.window_s=0.262144", "model.frontend.n_fft=1024", "model.frontend.hop_length=256",
          "model.frontend.n_mels=64", "model.frontend.f_min=10000.0", "inference.hop_s=0.131072",
          "inference.tiles.widths_frames=[16, 32, 64]", "trainer.epochs=10")
BAT_KERAS = (*BAT, "audio.window_s=0.128", "model.frontend.n_fft=1024", "model.frontend.hop_length=256",
             "model.frontend.n_mels=64", "model.frontend.f_min=10000.0", "inference.hop_s=0.064",
             "trainer.epochs=12", "trainer.batch_size=32")

# --- box recipes on the insect soundscapes (32 kHz; inserted sounds of 1 to 3 s) ---------------------------
SC = ("audio.sample_rate=32000", CPU_TINY)
SC_MIXOVER = (*SC, BOX_MONITOR, "audio.window_s=3.0", "model.box_crop={out_bins: 64, out_frames: 64}",
              "inference.hop_s=1.0", "trainer.epochs=24")
# 512 frames of hop 640 (half the recipe's 1024); tiles 32/64/128 = the recipe's 64/128/256 of 1024, halved
SC_DL = (*SC, "audio.window_s=10.24", "model.frontend.n_mels=64", "inference.hop_s=5.12",
         "inference.tiles.widths_frames=[32, 64, 128]", "trainer.epochs=10")
SC_KERAS = (*SC, "audio.window_s=5.0", "inference.hop_s=2.5", "model.frontend.n_mels=64",
            "trainer.epochs=12", "trainer.batch_size=16")

TILES_BAT = {"16+32+64 (recipe)": [16, 32, 64], "32 only": [32], "whole window": None}
TILES_SC = {"32+64+128 (recipe)": [32, 64, 128], "64 only": [64], "whole window": None}

EXPERIMENTS: list[Experiment] = [
    Experiment("birdclef21-insects", "birdclef21", "insects", BIRDCLEF),
    Experiment("fat2019_lsep-insects", "fat2019_lsep", "insects", FAT_2D,
               "fat2019 loss/coord: LSEP, coord on"),
    Experiment("fat2019_lsep-insects-bce", "fat2019_lsep", "insects", (*FAT_2D, "loss={name: bce}"),
               "fat2019 loss/coord: BCE, coord on"),
    Experiment("fat2019_lsep-insects-nocoord", "fat2019_lsep", "insects",
               (*FAT_2D, "model.frontend.freq_coord=false"), "fat2019 loss/coord: LSEP, coord off"),
    Experiment("fat2019_lsep_stft1d-insects", "fat2019_lsep_stft1d", "insects", FAT_1D),
    Experiment("rfcx_tp_fp_mixover-bats", "rfcx_tp_fp_mixover", "bats", BAT_MIXOVER),
    Experiment("rfcx_dl_pipeline-bats", "rfcx_dl_pipeline", "bats", BAT_DL, tile_variants=TILES_BAT),
    Experiment("rfcx_keras_attention-bats", "rfcx_keras_attention", "bats", BAT_KERAS),
    Experiment("rfcx_tp_fp_mixover-soundscapes", "rfcx_tp_fp_mixover", "soundscapes", SC_MIXOVER,
               "mixover mixing/coord: mixover, coord on"),
    Experiment("rfcx_tp_fp_mixover-soundscapes-mixup", "rfcx_tp_fp_mixover", "soundscapes",
               (*SC_MIXOVER, "augment.mixing={name: mixup, alpha: 4.0, p: 1.0}"),
               "mixover mixing/coord: mixup, coord on"),
    Experiment("rfcx_tp_fp_mixover-soundscapes-nomix", "rfcx_tp_fp_mixover", "soundscapes",
               (*SC_MIXOVER, "augment.mixing=null"), "mixover mixing/coord: no mixing, coord on"),
    Experiment("rfcx_tp_fp_mixover-soundscapes-nocoord", "rfcx_tp_fp_mixover", "soundscapes",
               (*SC_MIXOVER, "model.frontend.freq_coord=false"), "mixover mixing/coord: mixover, coord off"),
    Experiment("rfcx_dl_pipeline-soundscapes", "rfcx_dl_pipeline", "soundscapes", SC_DL,
               tile_variants=TILES_SC),
    Experiment("rfcx_keras_attention-soundscapes", "rfcx_keras_attention", "soundscapes", SC_KERAS),
]

# Seconds-long smoke settings (--quick): the same experiments, a handful of items for one epoch.
QUICK = ("trainer.epochs=1", "sampler.train.samples_per_epoch=16", "augment.waveform_off_epoch=null")
