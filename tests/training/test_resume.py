"""``kill -9`` in the middle of training, then resume: the same weights and metrics as a run never stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import torch

from wildtag.training.fit import fit

# The child trains the same recipe and kills itself with SIGKILL in the middle of epoch 2 (0-based 1),
# after epoch 1's checkpoints are on disk: nothing gets to clean up, as with `kill -9`.
CHILD = textwrap.dedent("""
    import os, signal, sys
    import lightning as L
    from wildtag.config import load_config
    from wildtag.training import fit as fit_module

    class KillMidEpoch(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            if trainer.current_epoch == 1 and trainer.fit_loop.epoch_loop.batch_progress.current.completed == 3:
                os.kill(os.getpid(), signal.SIGKILL)

    make = fit_module._trainer
    def trainer_that_dies(*args, **kwargs):
        trainer = make(*args, **kwargs)
        trainer.callbacks.append(KillMidEpoch())
        return trainer
    fit_module._trainer = trainer_that_dies
    fit_module.fit(load_config(sys.argv[1]), sys.argv[2], show_progress=False)
""")


def _mixing_config(tmp_path, tone_labels, make_tiny_config):
    # mixing and dropout draw random numbers in every step: both must continue where they stopped
    return make_tiny_config(tmp_path, tone_labels, "trainer.epochs=3", "augment.mixing.name=mixup",
                            "model.input_dropout=0.1")


def test_killed_and_resumed_run_equals_the_uninterrupted_one(tmp_path, tone_labels, make_tiny_config):
    cfg = _mixing_config(tmp_path, tone_labels, make_tiny_config)
    straight = fit(cfg, tmp_path / "straight", show_progress=False)

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(cfg.to_yaml())
    killed = tmp_path / "killed"
    child = subprocess.run([sys.executable, "-c", CHILD, str(recipe), str(killed)], capture_output=True,
                           text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    stopped = torch.load(killed / "fold-0/checkpoints/last.ckpt", weights_only=True)
    assert stopped["epoch"] == 0 and not (killed / "metrics.json").exists()

    fit(None, killed, resume=True, show_progress=False)
    a = torch.load(straight / "fold-0/checkpoints/last.ckpt", weights_only=True)
    b = torch.load(killed / "fold-0/checkpoints/last.ckpt", weights_only=True)
    assert (a["epoch"], a["global_step"]) == (b["epoch"], b["global_step"]) == (2, 24)
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
    assert json.loads((killed / "metrics.json").read_text()) == json.loads((straight / "metrics.json").read_text())
