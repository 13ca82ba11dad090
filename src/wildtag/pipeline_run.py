"""Running a resolved pipeline (:mod:`wildtag.pipeline`): fingerprints, stamps, the plan and the runner.

    >>> steps = plan(load_pipeline("fat2019", ["rounds=[1000]"]), Path("work/fat"))   # the dry run
    >>> [(s.stage.name, s.action, s.reason) for s in steps][:1]
    [('curated', 'run', 'not run yet')]
    >>> run_pipeline(load_pipeline("fat2019", ["rounds=[1000]"]), Path("work/fat"))

A stage's key hashes its command line, the fingerprints of the outside paths it names and the completion
tokens of the stages it reads; its stamp ``OUT.stage.json`` records the key, ``started`` before the command
runs and ``done`` with a fresh token after. Each stage runs in this process through the CLI (:func:`invoke`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock
    fcntl = None  # type: ignore[assignment]

from wildtag.config import ConfigError
from wildtag.errors import CommandLineError
from wildtag.pipeline import Pipeline, ResolvedStage, load_pipeline, resolve
from wildtag.suggest import did_you_mean

__all__ = ["StageFailedError", "StagePlan", "fingerprint", "invoke", "load_pipeline", "plan", "plan_stage",
           "read_stamp", "run_pipeline", "stage_key", "stamp_path", "validate"]

STAMP_SUFFIX = ".stage.json"
FULL_HASH_MAX_BYTES = 64 * 2**20  # larger files (audio) are fingerprinted by size and time, not content
RESUMABLE = {"train", "predict", "predict-oof"}  # commands that continue their own interrupted output


class StageFailedError(CommandLineError):
    """A stage's command failed; the message names the stage and says how to resume."""


@dataclass
class StagePlan:
    """What a run would do with one stage: ``action`` is skip, run, resume or blocked, with the reason."""

    stage: ResolvedStage
    action: str
    reason: str
    key: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    deps: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- fingerprints and stamps

def fingerprint(path: Path) -> str:
    """A file's content hash (size and time beyond :data:`FULL_HASH_MAX_BYTES`); a folder's names, sizes and
    modification times; ``missing`` for nothing."""
    if path.is_file():
        stat = path.stat()
        if stat.st_size > FULL_HASH_MAX_BYTES:
            return f"size:{stat.st_size}:mtime:{stat.st_mtime_ns}"
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return f"sha256:{digest.hexdigest()}"
    if path.is_dir():
        digest = hashlib.sha256()
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = item.stat()
            digest.update(f"{item.relative_to(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return f"tree:{digest.hexdigest()}"
    return "missing"


def stamp_path(out: Path) -> Path:
    """The stamp file of a stage whose output is ``out``: ``OUT.stage.json`` beside it."""
    return out.with_name(out.name + STAMP_SUFFIX)


def read_stamp(out: Path) -> dict[str, Any] | None:
    """The stamp beside ``out``, or None when there is none (or it is unreadable)."""
    path = stamp_path(out)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _write_stamp(out: Path, record: dict[str, Any]) -> None:
    from wildtag.fileio import write_text_atomic

    write_text_atomic(stamp_path(out), json.dumps(record, indent=2) + "\n")


def stage_key(stage: ResolvedStage, tokens: dict[str, str]) -> tuple[str, dict[str, str], dict[str, str]]:
    """The stage's key, the fingerprints of the outside paths it reads and the tokens of the stages it reads."""
    inputs = {str(p): fingerprint(p) for p in stage.files}
    deps = {d: tokens[d] for d in stage.deps}
    record = {"command": list(stage.argv), "inputs": inputs, "deps": deps}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest(), inputs, deps


# ---------------------------------------------------------------- planning and running

def plan_stage(stage: ResolvedStage, tokens: dict[str, str | None], force: bool = False) -> StagePlan:
    """What to do with ``stage`` given the completion tokens of earlier stages (None: it will run first)."""
    pending = [d for d in stage.deps if tokens.get(d) is None]
    if pending:
        return StagePlan(stage, "run", f"after {', '.join(pending)}")
    key, inputs, deps = stage_key(stage, tokens)  # type: ignore[arg-type]
    stamp = read_stamp(stage.out)
    exists = stage.out.exists()

    def step(action: str, reason: str) -> StagePlan:
        return StagePlan(stage, action, reason, key, inputs, deps)

    if stamp is None:
        if exists:
            return step("blocked", f"{stage.out} exists but no pipeline wrote it (no "
                                   f"{stamp_path(stage.out).name}); move it away or choose another --out")
        return step("run", "not run yet")
    if force:
        return step("run", "forced")
    if stamp.get("key") != key:
        return step("run", _what_changed(stamp, stage, inputs, tokens))
    if stamp.get("state") == "done" and exists:
        return step("skip", "up to date")
    if stamp.get("state") == "done":
        return step("run", "output missing")
    return step("resume" if stage.command in RESUMABLE and exists else "run", "interrupted")


def _what_changed(stamp: dict[str, Any], stage: ResolvedStage, inputs: dict[str, str],
                  tokens: dict[str, str | None]) -> str:
    changed = []
    if stamp.get("command") != list(stage.argv):
        changed.append("arguments")
    old = stamp.get("inputs", {})
    changed += [Path(p).name for p, fp in inputs.items() if old.get(p) != fp]
    changed += [f"stage {d}" for d in stage.deps if stamp.get("deps", {}).get(d) != tokens.get(d)]
    return "changed: " + (", ".join(changed) or "key")


def plan(pipe: Pipeline, out_dir: Path, force: Sequence[str] = ()) -> list[StagePlan]:
    """The dry run: what ``run_pipeline`` would do with every stage, touching nothing."""
    stages = resolve(pipe, out_dir)
    _check_force(stages, force)
    validate(stages)
    tokens: dict[str, str | None] = {}
    plans = []
    for stage in stages:
        step = plan_stage(stage, tokens, force=stage.name in force)
        plans.append(step)
        tokens[stage.name] = (read_stamp(stage.out) or {}).get("token") if step.action == "skip" else None
    return plans


def _check_force(stages: Sequence[ResolvedStage], force: Sequence[str]) -> None:
    names = [s.name for s in stages]
    for name in force:
        if name not in names:
            raise CommandLineError(f"--force {name}: no such stage{did_you_mean(name, names)}; stages: "
                                   f"{', '.join(names)}")


def validate(stages: Sequence[ResolvedStage]) -> None:
    """Parse every stage's command line with the CLI before anything runs (unknown commands, options)."""
    import typer

    from wildtag.cli import app

    commands = getattr(typer.main.get_command(app), "commands", {})
    for stage in stages:
        if stage.command == "run":
            raise ConfigError(f"stage {stage.name!r}: a pipeline cannot run a pipeline")
        if stage.command not in commands:
            raise ConfigError(f"stage {stage.name!r}: no wildtag command {stage.command!r}"
                              f"{did_you_mean(stage.command, commands)}; commands: {', '.join(commands)}")
        try:
            commands[stage.command].make_context(stage.command, list(stage.argv[1:]), resilient_parsing=False)
        except typer.TyperException as error:
            raise ConfigError(f"stage {stage.name!r}: wildtag {' '.join(stage.argv)}: {_message(error)}") from None


def _message(error: Exception) -> str:
    format_message = getattr(error, "format_message", None)
    return format_message() if callable(format_message) else str(error)


def invoke(argv: Sequence[str], debug: bool = False) -> None:
    """Run one wildtag command line in this process, as ``wildtag ARGV`` would."""
    import typer

    from wildtag.cli import app

    group = typer.main.get_command(app)
    try:
        code = group.main(args=(["--debug"] if debug else []) + list(argv), prog_name="wildtag",
                          standalone_mode=False)
    except typer.TyperException as error:
        raise CommandLineError(f"wildtag {' '.join(argv)}: {_message(error)}") from None
    except SystemExit as error:
        code = error.code
    if code not in (None, 0):
        raise StageFailedError(f"wildtag {' '.join(argv)} exited with status {code}")


def run_pipeline(pipe: Pipeline, out_dir: Path, *, force: Sequence[str] = (), debug: bool = False,
                 runner: Callable[[Sequence[str]], None] | None = None,
                 echo: Callable[[str], None] = print) -> list[StagePlan]:
    """Run the stages in order, skipping those that are up to date; returns what was done with each.

    ``runner`` runs one command line (default: :func:`invoke`, the CLI in this process)."""
    stages = resolve(pipe, out_dir)
    _check_force(stages, force)
    validate(stages)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _locked(out_dir):
        _write_record(pipe, stages, out_dir)
        done = _run_stages(stages, force, runner or (lambda argv: invoke(argv, debug=debug)), echo)
        _write_training_metrics(stages, out_dir, echo)
        return done


def training_metrics(stages: Sequence[ResolvedStage]) -> list[dict[str, Any]]:
    """One row per train stage that has finished: its out-of-fold metrics (``metrics.json``'s ``overall``),
    in stage order, so that FAT2019-style rounds show where the validation metric stops improving."""
    rows = []
    for stage in stages:
        path = stage.out / "metrics.json"
        if stage.command != "train" or not path.is_file():
            continue
        overall = json.loads(path.read_text()).get("overall", {})
        rows.append({"stage": stage.name, **{k: v for k, v in overall.items() if isinstance(v, (int, float))}})
    return rows


def _write_training_metrics(stages: Sequence[ResolvedStage], out_dir: Path, echo: Callable[[str], None]) -> None:
    """``OUT/training_metrics.csv`` (see :func:`training_metrics`) and one line per train stage."""
    rows = training_metrics(stages)
    if not rows:
        return
    import pandas as pd

    from wildtag.fileio import write_csv_atomic

    table = pd.DataFrame(rows)
    write_csv_atomic(table, out_dir / "training_metrics.csv")
    shown = [c for c in ("lwlrap", "map", "accuracy", "roc_auc") if c in table.columns][:2]
    for row in rows:
        echo(f"  {row['stage']}: " + ", ".join(f"{c} {row[c]:.4f}" for c in shown if c in row))
    echo(f"out-of-fold metrics of every train stage -> {out_dir / 'training_metrics.csv'}")


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """Hold ``OUT/.pipeline.lock`` (a POSIX record lock, released when the process dies) while running."""
    from wildtag.inference.journal import OutputLockedError

    fd = os.open(out_dir / ".pipeline.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "another process"
                raise OutputLockedError(f"{out_dir} is being run by another `wildtag run` ({holder}); wait for "
                                        f"it to end or give another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)


def _run_stages(stages: Sequence[ResolvedStage], force: Sequence[str], run: Callable[[Sequence[str]], None],
                echo: Callable[[str], None]) -> list[StagePlan]:
    tokens: dict[str, str | None] = {}
    done = []
    for index, stage in enumerate(stages, 1):
        step = plan_stage(stage, tokens, force=stage.name in force)
        if step.key is None:  # its dependencies have just run: plan again with their tokens
            raise RuntimeError(f"stage {stage.name}: dependency tokens missing after they ran")  # a bug
        if step.action == "blocked":
            raise FileExistsError(f"stage {stage.name!r}: {step.reason}")
        echo(f"[{index}/{len(stages)}] {step.action} {stage.name}: wildtag {' '.join(stage.argv)}"
             + ("" if step.action == "run" and step.reason == "not run yet" else f"  ({step.reason})"))
        if step.action == "skip":
            tokens[stage.name] = (read_stamp(stage.out) or {}).get("token")
        else:
            tokens[stage.name] = _execute(stage, step, run)
        done.append(step)
    return done


def _execute(stage: ResolvedStage, step: StagePlan, run: Callable[[Sequence[str]], None]) -> str:
    argv = list(stage.argv)
    if step.action == "resume" and stage.command == "train":
        if (stage.out / "config.yaml").is_file():
            argv = ["train", "--resume", str(stage.out)] + (["--quiet"] if "--quiet" in argv else [])
    elif step.action == "run" and stage.out.exists():
        _remove(stage.out)
    record = {"stage": stage.name, "command": list(stage.argv), "key": step.key, "inputs": step.inputs,
              "deps": step.deps, "state": "started", "started_at": time.time()}
    _write_stamp(stage.out, record)
    try:
        run(argv)
    except BaseException:
        import sys

        sys.stderr.write(f"pipeline: stage {stage.name!r} did not finish; rerun the same command to resume it\n")
        raise
    finished = time.time()
    token = hashlib.sha256(f"{step.key}:{finished}".encode()).hexdigest()[:16]
    _write_stamp(stage.out, {**record, "state": "done", "finished_at": finished, "token": token})
    return token


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def _write_record(pipe: Pipeline, stages: Sequence[ResolvedStage], out_dir: Path) -> None:
    """``OUT/pipeline.json``: the pipeline file, its parameters and every stage's command line."""
    from wildtag.fileio import write_text_atomic

    record = {"pipeline": pipe.name, "file": str(pipe.path), "params": pipe.params,
              "stages": {s.name: list(s.argv) for s in stages}}
    write_text_atomic(out_dir / "pipeline.json", json.dumps(record, indent=2, default=str) + "\n")
