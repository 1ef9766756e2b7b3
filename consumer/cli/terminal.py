"""What the commands show a person at a terminal while they work: progress (count, rate, time
left) on stderr, silent when stderr is not a terminal, so logs, pipes and CI output keep only the
result lines (counted with consumer/tools/wording.py)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second, as rich measures it over the last half minute of updates."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-/s" if speed is None else f"{speed:,.1f}/s", style="progress.data.speed")


def progress_bar(*, enabled: bool = True, console: Console | None = None) -> Progress:
    """A bar with the count done (of the total when known), the rate and the time left, on
    stderr; disabled when asked, or when stderr is not a terminal."""
    console = console or Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not (enabled and console.is_terminal),
        transient=True,
    )
