"""Pipelines: a seed system from training to its last post-processing step, one wildtag command per stage.

    >>> pipe = load_pipeline("birdclef21", ["labels=train.csv", "audio_root=audio", "epochs=3"])
    >>> [s.name for s in pipe.stages][:2]
    ['cnn', 'oof']
    >>> run_pipeline(pipe, Path("work/bc21"))   # wildtag.pipeline_run; a second call skips every finished stage

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
This module reads and resolves pipeline files; :mod:`wildtag.pipeline_run` plans and runs them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from wildtag.config import ConfigError
from wildtag.recipebook import describe
from wildtag.suggest import did_you_mean

SUFFIX = ".yaml"
STAGE_KEYS = {"command", "args", "set", "out", "inputs", "when"}
ROUNDS_KEYS = {"foreach", "first", "stages"}
REFERENCE = re.compile(r"\$\{([^}]*)\}")
NOT_INPUT_KEYS = ("cache_dir",)  # recipe keys naming folders that are written, not read, by a stage  # commands that continue their own interrupted output


class PipelineNotFoundError(FileNotFoundError):
    """Neither a pipeline file nor the name of a packaged pipeline; the message lists close names."""


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
