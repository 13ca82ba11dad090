from __future__ import annotations

import pickle

import pytest
import torch

from wildtag.config import ConfigError
from wildtag.models import create_tagger
from wildtag.training.fit import fit
from wildtag.training.transfer import init_from


def _weights(run, name="best.ckpt"):
    state = torch.load(run / "fold-0" / "checkpoints" / name, map_location="cpu", weights_only=True)["state_dict"]
    return {k.removeprefix("model."): v for k, v in state.items()}


def _tiny_model(cfg, class_names):
    spec = {"frontend": cfg.model.frontend.spec(), "backbone": cfg.model.backbone.spec(),
            "head": cfg.model.head.spec()}
    return create_tagger(spec, num_classes=len(class_names), sample_rate=cfg.audio.sample_rate,
                         window_s=cfg.audio.window_s, class_names=class_names)


def test_init_from_copies_the_backbone_and_the_rows_of_kept_classes(tiny_run, tmp_path, tone_labels,
                                                                    make_tiny_config):
    source = _weights(tiny_run)  # classes ["high", "low"]
    model = _tiny_model(make_tiny_config(tmp_path, tone_labels), ["low", "new"])
    fresh_row = model.head.fc.weight[1].detach().clone()
    counts = init_from(model, tiny_run, ["low", "new"])
    state = model.state_dict()
    assert counts["kept_classes"] == 1 and counts["class_rows"] == 2  # fc.weight and fc.bias
    for key in ("backbone.blocks.0.conv1.weight", "backbone.blocks.3.bn2.running_var"):
        assert torch.equal(state[key], source[key]), key
    assert torch.equal(state["head.fc.weight"][0], source["head.fc.weight"][1])  # "low" moved from row 1 to 0
    assert torch.equal(state["head.fc.bias"][0], source["head.fc.bias"][1])
    assert torch.equal(state["head.fc.weight"][1], fresh_row)  # "new" keeps its fresh initialisation
    assert not any(torch.equal(state["head.fc.weight"][1], row) for row in source["head.fc.weight"])


def test_fine_tuning_with_a_frozen_backbone_changes_only_the_head(tiny_run, tmp_path, tone_labels,
                                                                  make_tiny_config):
    cfg = make_tiny_config(tmp_path, tone_labels, "trainer.epochs=1", f"model.init_from={tiny_run}",
                           "model.freeze_backbone_epochs=1")
    tuned = _weights(fit(cfg, tmp_path / "tuned", show_progress=False), "last.ckpt")
    source = _weights(tiny_run)
    backbone = [k for k in source if k.startswith("backbone.")]
    assert backbone and all(torch.equal(tuned[k], source[k]) for k in backbone)  # BatchNorm statistics too
    assert not torch.equal(tuned["head.fc.weight"], source["head.fc.weight"])


class _Marker:
    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_checkpoint_carrying_code_is_refused_without_running_it(tmp_path, tone_labels, make_tiny_config):
    marker = tmp_path / "pwned"
    evil = _Marker()
    evil.path = str(marker)
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"state_dict": {}, "payload": evil}))
    model = _tiny_model(make_tiny_config(tmp_path, tone_labels), ["a"])
    with pytest.raises(ConfigError, match="evil.ckpt"):
        init_from(model, path, ["a"])
    assert not marker.exists()
