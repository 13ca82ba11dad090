"""A non-editable ``pip install .`` outside the checkout ships the recipes: ``wildtag recipes`` lists them all and
``wildtag train NAME`` finds one.

Offline and quick: the fresh venv gets no dependencies of its own (``--no-deps``); a ``.pth`` file lets it see
the running environment's packages (torch, timm, setuptools), and the build runs without isolation.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def sh(*args: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv outside the checkout with wildtag installed from a copy of the source tree; its bin/."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    venv = root / "venv"
    made = sh(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    purelib = sh(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root).stdout.strip()
    (Path(purelib) / "_running_env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    done = sh(python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", source,
              cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    return venv / "bin"


def test_the_installed_package_is_not_the_checkout(installed):
    where = sh(installed / "python", "-c", "import wildtag; print(wildtag.__file__)", cwd=installed)
    package = Path(where.stdout.strip()).parent
    assert package.is_relative_to(installed.parent) and not package.is_relative_to(REPO)
    assert (package / "example_data" / "insects" / "labels.csv").is_file()  # the demo's data ships too


def test_wildtag_recipes_lists_every_recipe(installed):
    done = sh(installed / "wildtag", "recipes", cwd=installed.parent)
    assert done.returncode == 0, done.stderr
    listed = [line.split()[0] for line in done.stdout.splitlines()]
    assert listed == sorted(p.stem for p in (REPO / "src" / "wildtag" / "recipes").glob("*.yaml"))


def test_train_finds_a_packaged_recipe_by_name(installed, tmp_path):
    labels = tmp_path / "no-labels-here.csv"
    done = sh(installed / "wildtag", "train", "birdclef21", "--set", f"data.labels={labels}",
              "--out", tmp_path / "run", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "no such recipe" not in done.stderr
    assert str(labels) in done.stderr  # past the recipe and its checks, at the data
