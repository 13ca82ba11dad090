"""The recipes that ship inside the package: list, show, copy, and find one by name or path.

    >>> [r.name for r in list_recipes()][:2]
    ['birdclef21', 'demo']
    >>> find_recipe("birdclef21").name
    'birdclef21.yaml'

A recipe is a YAML file in ``wildtag/recipes/``; its first comment line is its one-line description.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from wildtag.suggest import did_you_mean

SUFFIX = ".yaml"


class RecipeNotFoundError(FileNotFoundError):
    """Neither an existing file nor the name of a packaged recipe; the message lists close names."""


@dataclass(frozen=True)
class RecipeInfo:
    """One packaged recipe: its name (the file stem), its file and the first line of its comments."""

    name: str
    path: Path
    description: str


def recipes_dir() -> Path:
    """The folder of the packaged recipes (inside the installed package)."""
    return Path(str(resources.files("wildtag") / "recipes"))


def recipe_names() -> list[str]:
    """Names of the packaged recipes, sorted."""
    return sorted(p.stem for p in recipes_dir().glob(f"*{SUFFIX}"))


def describe(path: Path) -> str:
    """The first comment line of a recipe file, without the ``#``; empty when it has none."""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            return stripped.lstrip("#").strip()
        if stripped:
            return ""
    return ""


def list_recipes() -> list[RecipeInfo]:
    """Every packaged recipe with its description, sorted by name."""
    return [RecipeInfo(name, recipe_path(name), describe(recipe_path(name))) for name in recipe_names()]


def recipe_path(name: str) -> Path:
    """The file of the packaged recipe ``name`` (``birdclef21`` or ``birdclef21.yaml``)."""
    stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
    path = recipes_dir() / f"{stem}{SUFFIX}"
    if os.sep in stem or "/" in stem or not path.is_file():
        names = recipe_names()
        hint = did_you_mean(Path(stem).name, names, cutoff=0.5)
        raise RecipeNotFoundError(
            f"{name}: no such recipe file, nor a packaged recipe{hint}; "
            f"packaged recipes: {', '.join(names)} (see `wildtag recipes`)"
        )
    return path


def find_recipe(name_or_path: str | os.PathLike[str]) -> Path:
    """A recipe file: ``name_or_path`` itself when that file exists, else the packaged recipe of that name."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    if path.exists():
        raise RecipeNotFoundError(f"{path}: is a folder, not a recipe file")
    return recipe_path(str(name_or_path))


def copy_recipe(name: str, dest: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write an editable copy of the packaged recipe ``name`` to ``dest`` (a file, or a folder to put it in)."""
    source = recipe_path(name)
    target = Path(dest)
    if target.is_dir():
        target = target / source.name
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target}: already exists (pass overwrite=True / --overwrite to replace it)")
    from wildtag.fileio import write_text_atomic

    write_text_atomic(target, source.read_text(encoding="utf-8"))
    return target
