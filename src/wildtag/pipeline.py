"""Pipelines: a seed system from training to its last post-processing step, one wildtag command per stage.

    >>> pipe = load_pipeline("birdclef21", ["labels=train.csv", "audio_root=audio", "epochs=3"])
    >>> [s.name for s in pipe.stages][:2]
    ['train', 'thresholds']
    >>> run_pipeline(pipe, Path("work/bc21"))           # a second call skips every finished stage

A pipeline is a YAML file (packaged ones in ``wildtag/pipelines/``; the first comment line describes it)::

    name: birdclef21
    params: {labels: train.csv, epochs: 12, train_set: []}     # what `wildtag run --set KEY=VALUE` changes
    stages:
      train:                                                   # runs `wildtag train birdclef21 --set ...
        command: train                                         #      --out OUT/train`
        args: [birdclef21]
        set: ["data.labels=${labels}", "trainer.epochs=${epochs}", "${train_set}"]
      thresholds:
        command: thresholds
        args: ["${stages.train.out}/fold-0/oof.parquet", --metric, row_f1]

A stage is the command line ``wildtag COMMAND ARGS... [--set S]... --out OUT`` and means exactly what that
command means: it runs in-process through the CLI. ``${name}`` is a parameter (a list parameter standing
alone splices its items), ``${stages.X.out}`` the output of an earlier stage X (which makes X a dependency).
``out`` defaults to the stage's name inside the pipeline folder; ``when: ${param}`` (or a list of them) keeps
a stage only when each is not empty (an evaluation for labels one may not have). Stages repeated per item of a list
(``foreach``) are :class:`Rounds`; ``${stages.R.X.all}`` splices the outputs of X in every round of R.

A stage is skipped when its output exists and its stamp (``OUT.stage.json`` beside it) records the same key:
a hash of the command line, the fingerprints of the files and folders it names (content for files, names,
sizes and times for folders; the recipe file of ``train``) and the completion tokens of the stages it reads.
So a second run skips everything, a changed recipe or input reruns the stages that depend on it, and an
interrupted pipeline resumes at the stage that did not finish (``train --resume`` for a half-trained run,
predict's own journal for predictions). What it is not: a scheduler; stages run one after another.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock
    fcntl = None  # type: ignore[assignment]

from wildtag.config import ConfigError
from wildtag.errors import CommandLineError
from wildtag.recipebook import describe
from wildtag.suggest import did_you_mean

SUFFIX = ".yaml"
STAMP_SUFFIX = ".stage.json"
STAGE_KEYS = {"command", "args", "set", "out", "inputs", "when"}
ROUNDS_KEYS = {"foreach", "first", "stages"}
REFERENCE = re.compile(r"\$\{([^}]*)\}")
FULL_HASH_MAX_BYTES = 64 * 2**20  # larger files (audio) are fingerprinted by size and time, not content
RESUMABLE = {"train", "predict", "predict-oof"}  # commands that continue their own interrupted output
NOT_INPUT_KEYS = ("cache_dir",)  # recipe keys naming folders that are written, not read, by a stage  # commands that continue their own interrupted output


class PipelineNotFoundError(FileNotFoundError):
    """Neither a pipeline file nor the name of a packaged pipeline; the message lists close names."""


class StageFailedError(CommandLineError):
    """A stage's command failed; the message names the stage and says how to resume."""


@dataclass(frozen=True)
class Stage:
    """One stage as written: a wildtag command, its arguments, recipe overrides and its output path."""

    name: str
    command: str
    args: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()
    out: str = ""
    inputs: tuple[str, ...] = ()
    when: tuple[str, ...] = ()  # the stage exists only when each of these (e.g. ``${test_labels}``) is not empty


@dataclass(frozen=True)
class Rounds:
    """Stages repeated once per item of the list parameter ``foreach`` (FAT2019's pseudo-label rounds).

    In a round, ``${item}`` is the item, ``${round}`` its number (from 1), ``${stages.X.out}`` this round's X
    and ``${previous.X.out}`` the previous round's X, or in round 1 the stage ``first`` maps X to. After the
    rounds, ``${stages.NAME.X.out}`` is the last round's X (``first``'s with no rounds)."""

    name: str
    foreach: str
    stages: tuple[Stage, ...]
    first: dict[str, str]


@dataclass(frozen=True)
class Pipeline:
    """A loaded pipeline: its stages in order and its parameters (defaults with ``--set`` applied)."""

    name: str
    description: str
    path: Path
    params: dict[str, Any]
    stages: tuple[Stage | Rounds, ...]


@dataclass(frozen=True)
class ResolvedStage:
    """A stage with every reference filled in: the exact command line, its output and what it reads."""

    name: str
    command: str
    argv: tuple[str, ...]
    out: Path
    deps: tuple[str, ...]
    files: tuple[Path, ...]


@dataclass
class StagePlan:
    """What a run would do with one stage: ``action`` is skip, run, resume or blocked, with the reason."""

    stage: ResolvedStage
    action: str
    reason: str
    key: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    deps: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- finding and loading

def pipelines_dir() -> Path:
    """The folder of the packaged pipelines (inside the installed package)."""
    return Path(str(resources.files("wildtag") / "pipelines"))


def pipeline_names() -> list[str]:
    """Names of the packaged pipelines, sorted."""
    return sorted(p.stem for p in pipelines_dir().glob(f"*{SUFFIX}"))


def list_pipelines() -> list[tuple[str, str]]:
    """``(name, description)`` of every packaged pipeline, sorted by name."""
    return [(name, describe(pipelines_dir() / f"{name}{SUFFIX}")) for name in pipeline_names()]


def find_pipeline(name_or_path: str | os.PathLike[str]) -> Path:
    """A pipeline file: ``name_or_path`` itself when that file exists, else the packaged pipeline of that name."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    stem = path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.name
    packaged = pipelines_dir() / f"{stem}{SUFFIX}"
    if path.parent == Path(".") and packaged.is_file():
        return packaged
    names = pipeline_names()
    raise PipelineNotFoundError(f"{name_or_path}: no such pipeline file, nor a packaged pipeline"
                                f"{did_you_mean(stem, names, cutoff=0.5)}; packaged pipelines: {', '.join(names)} "
                                f"(see `wildtag run --list`)")


def load_pipeline(name_or_path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Pipeline:
    """Read and check a pipeline; ``overrides`` are ``KEY=VALUE`` (YAML value) or ``KEY+=TEXT`` (append to a
    list parameter) for its ``params``."""
    path = find_pipeline(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a pipeline is a mapping with name, params and stages")
    unknown = set(raw) - {"name", "params", "stages"}
    if unknown:
        bad = sorted(unknown)[0]
        raise ConfigError(f"{path}: unknown key {bad!r}{did_you_mean(bad, ['name', 'params', 'stages'])}")
    params = dict(raw.get("params") or {})
    for override in overrides:
        _apply_override(params, override, path)
    stages_raw = raw.get("stages")
    if not isinstance(stages_raw, dict) or not stages_raw:
        raise ConfigError(f"{path}: 'stages' must be a mapping of stage name to {{command, args, ...}}")
    stages = tuple(_stage(str(name), spec, path) for name, spec in stages_raw.items())
    return Pipeline(str(raw.get("name") or path.stem), describe(path), path, params, stages)


def _apply_override(params: dict[str, Any], override: str, path: Path) -> None:
    if "=" not in override:
        raise ConfigError(f"--set {override!r}: expected KEY=VALUE or KEY+=VALUE")
    key, value = override.split("=", 1)
    append = key.endswith("+")
    key = key.rstrip("+").strip()
    if key not in params:
        raise ConfigError(f"--set {override!r}: {path.name} has no parameter {key!r}"
                          f"{did_you_mean(key, params)}; its parameters: {', '.join(params)}")
    if append:
        if not isinstance(params[key], list):
            raise ConfigError(f"--set {key}+=...: parameter {key!r} is not a list")
        params[key] = [*params[key], value]
    else:
        try:
            params[key] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            params[key] = value


def _stage(name: str, spec: Any, path: Path) -> Stage | Rounds:
    if isinstance(spec, dict) and "foreach" in spec:
        return _rounds(name, spec, path)
    if not isinstance(spec, dict) or "command" not in spec:
        raise ConfigError(f"{path}: stage {name!r} needs a 'command' (a wildtag command such as train), "
                          f"or 'foreach' and 'stages' for rounds")
    if "." in name or "/" in name:
        raise ConfigError(f"{path}: stage {name!r}: a stage name has no '.' or '/'")
    unknown = set(spec) - STAGE_KEYS
    if unknown:
        bad = sorted(unknown)[0]
        raise ConfigError(f"{path}: stage {name!r}: unknown key {bad!r}{did_you_mean(bad, STAGE_KEYS)}")
    for key in ("args", "set", "inputs"):
        if not isinstance(spec.get(key, []), list):
            raise ConfigError(f"{path}: stage {name!r}: {key!r} must be a list")
    as_text = lambda items: tuple(str(item) for item in items)  # noqa: E731
    return Stage(name, str(spec["command"]), as_text(spec.get("args", [])), as_text(spec.get("set", [])),
                 str(spec.get("out") or name), as_text(spec.get("inputs", [])),
                 as_text(when if isinstance(when := spec.get("when") or [], list) else [when]))


def _rounds(name: str, spec: dict[str, Any], path: Path) -> Rounds:
    unknown = set(spec) - ROUNDS_KEYS
    if unknown:
        bad = sorted(unknown)[0]
        raise ConfigError(f"{path}: rounds {name!r}: unknown key {bad!r}{did_you_mean(bad, ROUNDS_KEYS)}")
    foreach = REFERENCE.fullmatch(str(spec["foreach"]))
    if not foreach:
        raise ConfigError(f"{path}: rounds {name!r}: foreach names a list parameter, as ${{rounds}}")
    inner = spec.get("stages")
    if not isinstance(inner, dict) or not inner:
        raise ConfigError(f"{path}: rounds {name!r} needs 'stages' (the stages of one round)")
    stages = [_stage(str(n), s, path) for n, s in inner.items()]
    if any(isinstance(s, Rounds) for s in stages):
        raise ConfigError(f"{path}: rounds {name!r}: rounds do not nest")
    first = {str(k): str(v) for k, v in (spec.get("first") or {}).items()}
    return Rounds(name, foreach.group(1), tuple(stages), first)  # type: ignore[arg-type]


# ---------------------------------------------------------------- references

Scope = dict[str, tuple[str, Path]]  # a name as written -> (the stage's full name, its output)


def _fill(text: str, params: dict[str, Any], stages: Scope, previous: Scope, where: str,
          deps: set[str], every: dict[str, list[tuple[str, Path]]] | None = None) -> list[str]:
    """``text`` with its references filled in; a list parameter standing alone becomes its items, and so
    does ``${stages.ROUNDS.X.all}`` (the outputs of X in every round)."""
    whole = REFERENCE.fullmatch(text)
    if whole and whole.group(1).startswith("stages.") and whole.group(1).endswith(".all"):
        name = whole.group(1)[len("stages."):-len(".all")]
        if name not in (every or {}):
            raise ConfigError(f"{where}: ${{{whole.group(1)}}}: no earlier rounds stage {name!r}"
                              f"{did_you_mean(name, every or {})} (rounds R, stage X: ${{stages.R.X.all}})")
        deps.update(full for full, _ in every[name])  # type: ignore[index]
        return [str(path) for _, path in every[name]]  # type: ignore[index]
    if whole and not whole.group(1).startswith(("stages.", "previous.")):
        value = _param(whole.group(1), params, where)
        if isinstance(value, list):
            return [str(v) for v in value]

    def one(match: re.Match[str]) -> str:
        ref = match.group(1)
        for prefix, scope in (("stages.", stages), ("previous.", previous)):
            if ref.startswith(prefix):
                name = ref[len(prefix):-len(".out")] if ref.endswith(".out") else ""
                if name not in scope:
                    what = "no earlier stage" if prefix == "stages." else "no stage of the previous round"
                    raise ConfigError(f"{where}: ${{{ref}}}: {what} {name or ref!r}{did_you_mean(name, scope)} "
                                      f"(a stage's output is ${{{prefix}NAME.out}})")
                deps.add(scope[name][0])
                return str(scope[name][1])
        value = _param(ref, params, where)
        if isinstance(value, (list, dict)):
            raise ConfigError(f"{where}: ${{{ref}}} is a list; it can only stand alone as one argument")
        return "" if value is None else str(value)

    return [REFERENCE.sub(one, text)]


def _param(name: str, params: dict[str, Any], where: str) -> Any:
    if name not in params:
        raise ConfigError(f"{where}: ${{{name}}}: no parameter {name!r}{did_you_mean(name, params)}")
    return params[name]


def resolve(pipe: Pipeline, out_dir: Path) -> list[ResolvedStage]:
    """Every stage's exact command line, output path, dependencies and the outside paths it names; rounds
    are unrolled (stage ``X`` of round 2 of ``noisy`` is ``noisy-2.X``, its output ``OUT/noisy-2/X``)."""
    scope: Scope = {}
    every: dict[str, list[tuple[str, Path]]] = {}
    resolved: list[ResolvedStage] = []
    for entry in pipe.stages:
        if entry.name in scope:
            raise ConfigError(f"{pipe.path}: stage {entry.name!r} appears twice")
        if isinstance(entry, Stage):
            where = f"{pipe.path.name}: stage {entry.name!r}"
            if not all(_fill(w, pipe.params, scope, {}, where, set())[0].strip() for w in entry.when):
                continue  # a stage for an optional input that was not given
            resolved.append(_resolve_stage(entry, entry.name, out_dir, pipe.params, scope, {}, where, every))
            scope[entry.name] = (entry.name, resolved[-1].out)
            continue
        items = _param(entry.foreach, pipe.params, f"{pipe.path.name}: rounds {entry.name!r}")
        if not isinstance(items, list):
            raise ConfigError(f"{pipe.path.name}: rounds {entry.name!r}: ${{{entry.foreach}}} is not a list")
        missing = [s for s in entry.first.values() if s not in scope]
        if missing:
            raise ConfigError(f"{pipe.path.name}: rounds {entry.name!r}: first names no earlier stage {missing[0]!r}")
        previous: Scope = {local: scope[name] for local, name in entry.first.items()}
        for index, item in enumerate(items, 1):
            params = {**pipe.params, "item": item, "round": index}
            current: Scope = {}
            for stage in entry.stages:
                full = f"{entry.name}-{index}.{stage.name}"
                step = _resolve_stage(stage, full, out_dir / f"{entry.name}-{index}", params,
                                      {**scope, **current}, previous, f"{pipe.path.name}: stage {full!r}")
                resolved.append(step)
                current[stage.name] = (full, step.out)
                every.setdefault(f"{entry.name}.{stage.name}", []).append((full, step.out))
            previous = {**previous, **current}
        for local, target in previous.items():  # after the rounds: the last round's (or first's) outputs
            scope[f"{entry.name}.{local}"] = target
    return resolved


def _resolve_stage(stage: Stage, full: str, folder: Path, params: dict[str, Any], scope: Scope,
                   previous: Scope, where: str, every: dict[str, list[tuple[str, Path]]] | None = None,
                   ) -> ResolvedStage:
    deps: set[str] = set()
    out = folder / _fill(stage.out, params, scope, previous, where, deps)[0]
    argv, files = [stage.command], []
    for items, flag in ((stage.args, None), (stage.sets, "--set")):
        for item in items:
            before = set(deps)
            for token in _fill(item, params, scope, previous, where, deps, every):
                argv.extend([flag, token] if flag else [token])
                if deps == before:
                    files.extend(_named_paths(token))
    for item in stage.inputs:
        files.extend(Path(t) for t in _fill(item, params, scope, previous, where, deps))
    if stage.command == "train" and stage.args and not stage.args[0].startswith("-"):
        files.extend(_recipe_file(argv[1]))
    argv.extend(["--out", str(out)])
    return ResolvedStage(full, stage.command, tuple(argv), out, tuple(sorted(deps)), tuple(dict.fromkeys(files)))


def _named_paths(token: str) -> list[Path]:
    """The existing file or folder a token names: the token itself, or the VALUE of ``KEY=VALUE`` (not a
    cache folder, which the stage itself writes and other stages share)."""
    if "=" in token and token.split("=", 1)[0].strip().endswith(NOT_INPUT_KEYS):
        return []
    found = []
    for candidate in (token, token.split("=", 1)[1] if "=" in token else None):
        if not candidate or candidate.startswith("-"):
            continue
        try:
            if Path(candidate).exists():
                found.append(Path(candidate))
        except OSError:  # a name too long for the file system is no path
            continue
    return found


def _recipe_file(recipe: str) -> list[Path]:
    from wildtag.recipebook import RecipeNotFoundError, find_recipe

    try:
        return [find_recipe(recipe)]
    except RecipeNotFoundError:
        return []  # train itself reports it when the stage runs; validate() reports it before


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
        return _run_stages(stages, force, runner or (lambda argv: invoke(argv, debug=debug)), echo)


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
