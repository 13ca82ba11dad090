"""CI runs exactly the test command the README gives (lint included), so the two cannot drift apart."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text().splitlines()
    at = readme.index("Run the tests:")
    command = next(line.strip() for line in readme[at + 1:] if line.strip())
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))]
    assert ci == [command]
    assert "ruff check ." in command and command.endswith("python -m pytest")
