"""The pipeline runner (wildtag.pipeline, wildtag.pipeline_run): stages skipped by key, reruns of what depends
on a change, dry runs that touch nothing, resumption after a failed or killed stage. Real, fast commands (ensemble, evaluate,
thresholds) run in-process; a recording runner stands in for train where only the command line matters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from wildtag.cli import app
from wildtag.config import ConfigError
from wildtag.errors import CommandLineError
from wildtag.pipeline import load_pipeline, resolve
from wildtag.pipeline_run import plan, read_stamp, run_pipeline

TOY = {
    "name": "toy",
    "params": {"p1": "", "p2": "", "labels": "", "oof": "", "method": "mean"},
    "stages": {
        "combine": {"command": "ensemble", "args": ["${p1}", "${p2}", "--method", "${method}"]},
        "score": {"command": "evaluate", "args": ["${stages.combine.out}/recordings.csv", "${labels}"],
                  "out": "score.json"},
        "cut": {"command": "thresholds", "args": ["${oof}"]},
    },
}


@pytest.fixture
def toy(tmp_path) -> tuple[Path, list[str]]:
    """The toy pipeline file and the overrides that point it at two prediction folders, labels and OOF."""
    rng = np.random.default_rng(0)
    for name in ("p1", "p2"):
        (tmp_path / name).mkdir()
        pd.DataFrame({"recording": ["x", "y", "z"], "a": rng.random(3), "b": rng.random(3)}).to_csv(
            tmp_path / name / "recordings.csv", index=False)
    pd.DataFrame({"file": ["x", "y", "z"], "label": ["a", "b", "a"]}).to_csv(tmp_path / "labels.csv", index=False)
    truth = rng.random((40, 2)) > 0.5
    pd.DataFrame({"a": truth[:, 0] * 0.6 + 0.2, "b": rng.random(40), "target:a": truth[:, 0] * 1.0,
                  "target:b": truth[:, 1] * 1.0}).to_parquet(tmp_path / "oof.parquet")
    path = tmp_path / "toy.yaml"
    path.write_text("# A toy pipeline.\n" + yaml.safe_dump(TOY, sort_keys=False))
    sets = [f"p1={tmp_path / 'p1'}", f"p2={tmp_path / 'p2'}", f"labels={tmp_path / 'labels.csv'}",
            f"oof={tmp_path / 'oof.parquet'}"]
    return path, sets


def actions(steps) -> dict[str, str]:
    return {s.stage.name: s.action for s in steps}


def tree(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``folder`` with its modification time and content."""
    return {str(p): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_second_run_skips_everything(toy, tmp_path):
    path, sets = toy
    out = tmp_path / "work"
    first = run_pipeline(load_pipeline(path, sets), out, echo=lambda _: None)
    assert actions(first) == {"combine": "run", "score": "run", "cut": "run"}
    assert (out / "combine" / "recordings.csv").is_file() and (out / "cut" / "thresholds.csv").is_file()
    assert json.loads((out / "score.json").read_text())["n_samples"] == 3
    assert read_stamp(out / "score.json")["state"] == "done"
    before = tree(out)
    second = run_pipeline(load_pipeline(path, sets), out, echo=lambda _: None)
    assert actions(second) == {"combine": "skip", "score": "skip", "cut": "skip"}
    after = tree(out)
    for name in ("pipeline.json", ".pipeline.lock"):  # rewritten by every run
        after.pop(str(out / name)), before.pop(str(out / name))
    assert after == before


def test_a_changed_input_or_parameter_reruns_what_depends_on_it_only(toy, tmp_path):
    path, sets = toy
    out = tmp_path / "work"
    run_pipeline(load_pipeline(path, sets), out, echo=lambda _: None)
    labels = pd.read_csv(tmp_path / "labels.csv")
    labels.loc[2, "label"] = "b"
    labels.to_csv(tmp_path / "labels.csv", index=False)
    steps = plan(load_pipeline(path, sets), out)
    assert actions(steps) == {"combine": "skip", "score": "run", "cut": "skip"}
    assert steps[1].reason == "changed: labels.csv"
    assert actions(run_pipeline(load_pipeline(path, sets), out, echo=lambda _: None)) == {
        "combine": "skip", "score": "run", "cut": "skip"}

    p1 = tmp_path / "p1" / "recordings.csv"
    pd.read_csv(p1).assign(a=0.5).to_csv(p1, index=False)  # an input of the first stage: both dependents rerun
    steps = plan(load_pipeline(path, sets), out)
    assert actions(steps) == {"combine": "run", "score": "run", "cut": "skip"}
    assert steps[1].reason == "after combine"
    assert actions(run_pipeline(load_pipeline(path, sets), out, echo=lambda _: None)) == {
        "combine": "run", "score": "run", "cut": "skip"}

    ranked = load_pipeline(path, [*sets, "method=rank"])
    assert plan(ranked, out)[0].reason == "changed: arguments"
    assert actions(run_pipeline(ranked, out, echo=lambda _: None)) == {"combine": "run", "score": "run", "cut": "skip"}
    assert json.loads((out / "combine" / "ensemble.json").read_text())["method"] == "rank"
    assert actions(run_pipeline(ranked, out, force=["cut"], echo=lambda _: None))["cut"] == "run"


def test_dry_run_touches_nothing(toy, tmp_path):
    path, sets = toy
    out = tmp_path / "work"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--dry-run", *sum((["--set", s] for s in sets), [])])
    assert result.exit_code == 0, result.output
    assert not out.exists()
    assert "run     combine  (not run yet)" in result.output and "run     score  (after combine)" in result.output
    assert f"wildtag thresholds {tmp_path / 'oof.parquet'} --out {out / 'cut'}" in result.output

    run_pipeline(load_pipeline(path, sets), out, echo=lambda _: None)
    (tmp_path / "labels.csv").write_text("file,label\nx,b\ny,b\nz,a\n")
    before = tree(tmp_path)
    steps = plan(load_pipeline(path, sets), out)
    assert actions(steps) == {"combine": "skip", "score": "run", "cut": "skip"}
    assert tree(tmp_path) == before


def test_a_failed_stage_resumes_where_it_stopped(toy, tmp_path):
    path, sets = toy
    out = tmp_path / "work"
    oof = tmp_path / "oof.parquet"
    good = oof.read_bytes()
    pd.DataFrame({"a": [0.1, 0.9]}).to_parquet(oof)  # no target columns: thresholds refuses it
    with pytest.raises(CommandLineError, match="target"):
        run_pipeline(load_pipeline(path, sets), out, echo=lambda _: None)
    assert read_stamp(out / "cut")["state"] == "started"
    assert read_stamp(out / "score.json")["state"] == "done"
    oof.write_bytes(good)
    assert actions(run_pipeline(load_pipeline(path, sets), out, echo=lambda _: None)) == {
        "combine": "skip", "score": "skip", "cut": "run"}
    assert (out / "cut" / "thresholds.csv").is_file()


def test_a_killed_stage_reruns_and_its_half_output_is_replaced(toy, tmp_path):
    path, sets = toy
    out = tmp_path / "work"
    from wildtag.pipeline_run import invoke

    def killed_in_score(argv):
        if argv[0] == "evaluate":
            (out / "score.json").write_text("{half")
            raise KeyboardInterrupt
        invoke(argv)

    with pytest.raises(KeyboardInterrupt):
        run_pipeline(load_pipeline(path, sets), out, runner=killed_in_score, echo=lambda _: None)
    steps = plan(load_pipeline(path, sets), out)
    assert [(s.action, s.reason) for s in steps] == [("skip", "up to date"), ("run", "interrupted"),
                                                      ("run", "not run yet")]
    run_pipeline(load_pipeline(path, sets), out, echo=lambda _: None)
    assert json.loads((out / "score.json").read_text())["n_samples"] == 3


def test_train_resumes_its_run_and_a_changed_recipe_reruns_its_dependents(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: r\n")
    pipe = {"name": "t", "params": {"recipe": str(recipe), "epochs": 3},
            "stages": {"fit": {"command": "train", "args": ["${recipe}"], "set": ["trainer.epochs=${epochs}"]},
                       "scores": {"command": "predict", "args": ["${stages.fit.out}", str(tmp_path)]},
                       "other": {"command": "thresholds", "args": [str(tmp_path / "x.parquet")]}}}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(pipe, sort_keys=False))
    out = tmp_path / "work"
    calls: list[list[str]] = []

    def fake(argv, kill_train=False):
        calls.append(list(argv))
        target = Path(argv[argv.index("--out") + 1]) if "--out" in argv else Path(argv[-1])
        target.mkdir(parents=True, exist_ok=True)
        (target / "config.yaml").write_text("x")
        if kill_train and argv[0] == "train":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_pipeline(load_pipeline(path), out, runner=lambda a: fake(a, kill_train=True), echo=lambda _: None)
    assert plan(load_pipeline(path), out)[0].action == "resume"
    run_pipeline(load_pipeline(path), out, runner=fake, echo=lambda _: None)
    assert calls[1] == ["train", "--resume", str(out / "fit")]
    assert calls[2][:2] == ["predict", str(out / "fit")]

    calls.clear()
    recipe.write_text("name: r\nseed: 1\n")  # the recipe file is an input of train
    steps = run_pipeline(load_pipeline(path), out, runner=fake, echo=lambda _: None)
    assert actions(steps) == {"fit": "run", "scores": "run", "other": "skip"}
    assert steps[0].reason == "changed: r.yaml"
    assert calls[0] == ["train", str(recipe), "--set", "trainer.epochs=3", "--out", str(out / "fit")]


def test_a_packaged_recipe_name_is_fingerprinted_by_its_file(tmp_path):
    pipe = {"name": "t", "stages": {"fit": {"command": "train", "args": ["demo"]}}}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(pipe, sort_keys=False))
    (step,) = plan(load_pipeline(path), tmp_path / "w")
    assert [Path(p).name for p in step.inputs] == ["demo.yaml"]


def test_list_parameters_splice_and_overrides_append(toy):
    path, sets = toy
    pipe = load_pipeline(path, [*sets, "method=rank"])
    assert pipe.params["method"] == "rank"
    doc = {"name": "s", "params": {"extra": ["a=1"], "n": 2},
           "stages": {"fit": {"command": "train", "args": ["demo", "${extra}"], "set": ["x=${n}", "${extra}"]}}}
    spliced = tmp_path_yaml(path.parent, doc)
    pipe = load_pipeline(spliced, ["extra+=b={name: c}", "n=5"])
    (stage,) = resolve(pipe, Path("w"))
    assert stage.argv == ("train", "demo", "a=1", "b={name: c}", "--set", "x=5", "--set", "a=1", "--set",
                          "b={name: c}", "--out", "w/fit")


def tmp_path_yaml(folder: Path, doc: dict) -> Path:
    path = folder / f"{doc['name']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.parametrize("doc, overrides, message", [
    (TOY, ["methd=rank"], "no parameter 'methd' \\(did you mean 'method'\\?\\)"),
    ({"name": "e", "stages": {"a": {"command": "ensemble", "args": ["${stages.b.out}"]}, "b": {"command": "ensemble"}}},
     [], "no earlier stage 'b'"),
    ({"name": "e", "stages": {"a": {"command": "ensembel", "args": ["x"]}}}, [], "did you mean 'ensemble'"),
    ({"name": "e", "stages": {"a": {"command": "ensemble", "args": ["x", "--methd", "rank"]}}}, [], "--methd"),
    ({"name": "e", "stages": {"a": {"command": "ensemble", "arg": ["x"]}}}, [], "unknown key 'arg'"),
    ({"name": "e", "params": {"l": [1]}, "stages": {"a": {"command": "ensemble", "args": ["x${l}"]}}}, [],
     "is a list"),
])
def test_bad_pipelines_are_refused_before_anything_runs(tmp_path, doc, overrides, message):
    path = tmp_path_yaml(tmp_path, doc)
    with pytest.raises(ConfigError, match=message):
        run_pipeline(load_pipeline(path, overrides), tmp_path / "w", echo=lambda _: None)
    assert not (tmp_path / "w").exists()


def test_an_output_no_pipeline_wrote_is_never_replaced(toy, tmp_path):
    path, sets = toy
    (tmp_path / "work" / "combine").mkdir(parents=True)
    (tmp_path / "work" / "combine" / "mine.txt").write_text("keep")
    assert plan(load_pipeline(path, sets), tmp_path / "work")[0].action == "blocked"
    with pytest.raises(FileExistsError, match="no pipeline wrote it"):
        run_pipeline(load_pipeline(path, sets), tmp_path / "work", echo=lambda _: None)
    assert (tmp_path / "work" / "combine" / "mine.txt").read_text() == "keep"


def test_cli_lists_and_shows_the_packaged_pipelines():
    listed = CliRunner().invoke(app, ["run", "--list"])
    assert listed.exit_code == 0, listed.output
    names = [line.split()[0] for line in listed.output.splitlines()]
    assert "birdclef21" in names
    shown = CliRunner().invoke(app, ["run", "birdclef21", "--show"])
    assert "stages:" in shown.output
    missing = CliRunner().invoke(app, ["run", "birdclef"])
    assert missing.exit_code != 0 and "did you mean 'birdclef21'" in str(missing.exception)


def test_rounds_unroll_chain_through_previous_and_feed_the_stage_after_them(toy, tmp_path):
    path, sets = toy
    doc = {"name": "loop", "params": {"p1": "", "p2": "", "labels": "", "oof": "", "rounds": ["mean", "rank"]},
           "stages": {
               "start": {"command": "ensemble", "args": ["${p1}", "${p2}"]},
               "mix": {"foreach": "${rounds}", "first": {"model": "start"}, "stages": {
                   "model": {"command": "ensemble", "args": ["${previous.model.out}", "${p2}", "--method", "${item}"]},
                   "score": {"command": "evaluate", "args": ["${stages.model.out}/recordings.csv", "${labels}"],
                             "out": "score-${round}.json"}}},
               "final": {"command": "evaluate", "args": ["${stages.mix.model.out}/recordings.csv", "${labels}"],
                         "out": "final.json"}}}
    loop = tmp_path_yaml(tmp_path, doc)
    out = tmp_path / "work"
    steps = plan(load_pipeline(loop, sets), out)
    assert [s.stage.name for s in steps] == ["start", "mix-1.model", "mix-1.score", "mix-2.model", "mix-2.score",
                                             "final"]
    assert steps[1].stage.argv[:3] == ("ensemble", str(out / "start"), str(tmp_path / "p2"))
    assert steps[3].stage.argv[1] == str(out / "mix-1" / "model")
    assert steps[4].stage.out == out / "mix-2" / "score-2.json"
    assert steps[5].stage.deps == ("mix-2.model",)
    run_pipeline(load_pipeline(loop, sets), out, echo=lambda _: None)
    assert json.loads((out / "mix-2" / "model" / "ensemble.json").read_text())["method"] == "rank"
    one = load_pipeline(loop, [*sets, "rounds=[mean]"])
    assert actions(plan(one, out)) == {"start": "skip", "mix-1.model": "skip", "mix-1.score": "skip", "final": "run"}
    none = load_pipeline(loop, [*sets, "rounds=[]"])
    assert plan(none, out)[-1].stage.deps == ("start",)


def test_a_second_run_in_the_same_folder_is_refused_while_the_first_holds_it(toy, tmp_path):
    import subprocess
    import sys

    from wildtag.inference.journal import OutputLockedError

    path, sets = toy
    out = tmp_path / "work"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.lockf(fd, fcntl.LOCK_EX); os.write(fd, b'pid 1 test'); print('held', flush=True); time.sleep(60)"),
        str(out / ".pipeline.lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputLockedError, match="another `wildtag run`"):
            run_pipeline(load_pipeline(path, sets), out, echo=lambda _: None)
        assert not (out / "combine").exists()
    finally:
        holder.kill()
        holder.wait()
    assert actions(run_pipeline(load_pipeline(path, sets), out, echo=lambda _: None))["combine"] == "run"
