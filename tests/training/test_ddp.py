"""DDP on CPU: two gloo processes train one fold together, each on its own share of every epoch."""

import torch

from wildtag.training import datamodule
from wildtag.training.datamodule import EpochShuffleSampler


def test_training_sampler_gives_each_rank_a_disjoint_share_of_the_epoch(monkeypatch):
    sampler = EpochShuffleSampler(11, seed=0)
    sampler.set_epoch(3)
    whole = list(sampler)
    shares = []
    for rank in (0, 1):
        monkeypatch.setattr(datamodule, "_shard", lambda rank=rank: (rank, 2))
        shares.append(list(sampler))
        assert len(sampler) == len(shares[-1])
    assert set(shares[0]).isdisjoint(shares[1])
    assert sorted(shares[0] + shares[1]) == sorted(whole)
    assert {epoch for epoch, _ in whole} == {3}  # the epoch still reaches the dataset (augmentation seeds)
    valid = EpochShuffleSampler(11, seed=0, shuffle=False)
    assert list(valid) == [(0, i) for i in range(11)]  # validation is never sharded


def test_two_cpu_processes_train_a_fold_and_the_checkpoint_loads(make_tiny_config, tone_labels, tmp_path):
    from wildtag.inference.loading import load_ensemble
    from wildtag.training.fit import fit

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    single = fit(make_tiny_config(tmp_path / "a", tone_labels, "trainer.epochs=1"), tmp_path / "single",
                 show_progress=False)
    ddp = fit(make_tiny_config(tmp_path / "b", tone_labels, "trainer.epochs=1", "trainer.devices=2",
                               "trainer.strategy=ddp", "trainer.accelerator=cpu"), tmp_path / "ddp",
              show_progress=False)
    steps = {name: torch.load(next(run.glob("fold-*/checkpoints/last.ckpt")), weights_only=False)["global_step"]
             for name, run in (("single", single), ("ddp", ddp))}
    assert steps["ddp"] * 2 == steps["single"]  # each of the two ranks stepped through half of the epoch
    ensemble = load_ensemble(ddp)
    scores = ensemble.scores(torch.randn(3, 16000))
    assert scores.shape == (3, 2) and torch.isfinite(scores).all()
    oof = next(ddp.glob("fold-*/oof.parquet"))
    import pandas as pd

    assert len(pd.read_parquet(oof)) == len(pd.read_parquet(next(single.glob("fold-*/oof.parquet"))))
