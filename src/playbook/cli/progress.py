"""Progress on stderr for every long command: in a terminal a bar per stage with its rate and
time left; elsewhere (CI, `| tee`, a log file) plain lines, so that a long run is never silent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

if TYPE_CHECKING:
    from playbook.runner import Reporter

LINE_EVERY_S = 30.0  # without a terminal, one line per stage at most this often, and at its end


class BarReporter:
    """A rich progress bar per stage."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    def stage(self, name: str, total: int) -> BarTally:
        return BarTally(self._progress, self._progress.add_task(name, total=total))


class BarTally:
    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress, self._task = progress, task

    def advance(self, count: int = 1) -> None:
        self._progress.advance(self._task, count)

    def add(self, more: int) -> None:
        total = self._progress.tasks[self._task].total or 0
        self._progress.update(self._task, total=total + more)


class LineReporter:
    """Progress as plain lines, for logs and CI where no bar can be drawn."""

    def __init__(self, console: Console, every_s: float = LINE_EVERY_S) -> None:
        self._console, self._every_s = console, every_s

    def stage(self, name: str, total: int) -> LineTally:
        return LineTally(self._console, name, total, self._every_s)


class LineTally:
    def __init__(self, console: Console, name: str, total: int, every_s: float) -> None:
        self._console, self._every_s = console, every_s
        self.name, self.total, self.done = name, total, 0
        self.started = self.shown = time.monotonic()

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self.done >= self.total or now - self.shown >= self._every_s:
            self.shown = now
            self._console.print(self._line(now), markup=False, highlight=False)

    def add(self, more: int) -> None:
        self.total += more

    def _line(self, now: float) -> str:
        elapsed = now - self.started
        line = f"{self.name}: {self.done}/{self.total} in {elapsed:.0f} s"
        if elapsed >= 1 and self.done:  # a rate over less than a second says nothing
            line += f", {rate_text(self.done / elapsed)}"
        if self.done < self.total:
            left = elapsed / max(self.done, 1) * (self.total - self.done)
            line += (
                f", about {left / 60:.0f} min left" if left >= 90 else f", about {left:.0f} s left"
            )
        return line


def rate_text(per_second: float) -> str:
    """A rate people read at a glance: per second when fast, per minute when slow."""
    if per_second >= 1:
        return f"{per_second:.1f}/s"
    return f"{per_second * 60:.1f}/min"


class RateColumn(ProgressColumn):
    """How many a stage completes per second (or minute), as the bar's rate."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(rate_text(speed) if speed else "", style="progress.data.speed")


@contextmanager
def reporter(console: Console, quiet: bool = False) -> Iterator[Reporter]:
    """Bars in a terminal (none when `quiet`, e.g. with --json), lines anywhere else."""
    if not console.is_terminal:
        yield LineReporter(console)
        return
    if quiet:
        from playbook.runner import QuietReporter  # the runner brings asyncio: only when needed

        yield QuietReporter()
        return
    columns = (TextColumn("{task.description:<32}"), BarColumn(), MofNCompleteColumn())
    times = (
        TaskProgressColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, *times, console=console) as progress:
        yield BarReporter(progress)
