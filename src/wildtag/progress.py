"""Progress bars with counts and rates for long loops (rich), quiet when not wanted or not a terminal."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")


def make_progress() -> Progress:
    """A rich ``Progress`` showing description, bar, done/total, a ``rate`` field and time left."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("[cyan]{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    )


def progress(items: Iterable[T], description: str, *, total: int | None = None, enabled: bool = True,
             unit: str = "it") -> Iterator[T]:
    """Iterate over ``items`` showing a bar with counts and the rate in ``unit``/s."""
    if not enabled:
        yield from items
        return
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with make_progress() as bar:
        task = bar.add_task(description, total=total, rate="")
        for item in items:
            yield item
            speed = bar.tasks[task].speed
            bar.update(task, advance=1, rate=f"{speed:.1f} {unit}/s" if speed else "")
