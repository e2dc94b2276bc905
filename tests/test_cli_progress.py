"""Progress as a user sees it (issue 16): bars with time left in a terminal, plain lines in CI or
behind `| tee`, where nothing used to print until the end."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from playbook.cli.progress import BarReporter, LineReporter, RateColumn, reporter
from playbook.runner import QuietReporter


def test_without_a_terminal_a_stage_prints_lines_with_the_time_left() -> None:
    written = io.StringIO()
    tally = LineReporter(Console(file=written, width=200), every_s=0).stage("round 1", 3)
    tally.advance()
    tally.add(1)  # work found on the way
    for _ in range(3):
        tally.advance()
    lines = written.getvalue().splitlines()
    assert [line.split(" in ")[0] for line in lines] == [
        "round 1: 1/3",
        "round 1: 2/4",
        "round 1: 3/4",
        "round 1: 4/4",
    ]
    assert all(line.endswith("left") for line in lines[:-1]) and "left" not in lines[-1]


def test_lines_wait_between_prints_but_a_stage_always_ends_with_one() -> None:
    written = io.StringIO()
    tally = LineReporter(Console(file=written, width=200), every_s=3600).stage("eval", 5)
    for _ in range(5):
        tally.advance()
    assert written.getvalue().splitlines() == ["eval: 5/5 in 0 s"]


def test_which_progress_where() -> None:
    plain = Console(file=io.StringIO())
    with reporter(plain, quiet=True) as chosen:
        assert isinstance(chosen, LineReporter)  # --json in CI still shows progress on stderr
    terminal = Console(file=io.StringIO(), force_terminal=True)
    with reporter(terminal) as chosen:
        assert isinstance(chosen, BarReporter)
    with reporter(terminal, quiet=True) as chosen:
        assert isinstance(chosen, QuietReporter)


class RecordingReporter:
    """Every stage's total as announced, and every change made to it afterwards."""

    def __init__(self) -> None:
        self.stages: list[RecordingTally] = []

    def stage(self, name: str, total: int) -> RecordingTally:
        self.stages.append(RecordingTally(name, total))
        return self.stages[-1]


class RecordingTally:
    def __init__(self, name: str, total: int) -> None:
        self.name, self.total, self.done, self.added = name, total, 0, 0

    def advance(self, count: int = 1) -> None:
        self.done += count

    def add(self, more: int) -> None:
        self.added += more


async def test_a_learning_rounds_total_is_fixed_from_its_start(
    tmp_path: Path, make_config: Callable[..., Path]
) -> None:
    # Bug (issue 16): the bar's total grew with every scenario found, so its time left was
    # always too short and the bar went backwards.
    from playbook.config import load_config
    from playbook.runs import learn
    from playbook.workspace import Workspace

    workspace = Workspace.open(load_config(make_config(tmp_path)))
    recorded = RecordingReporter()
    try:
        result = await learn(workspace, recorded)
    finally:
        await workspace.aclose()
    rounds = [s for s in recorded.stages if s.name.startswith("round")]
    assert [s.name for s in rounds] == ["round 1", "round 2"]
    assert all(s.total == 8 and s.done == 8 and s.added == 0 for s in rounds), vars(rounds[0])
    assert sum(r.scenarios for r in result.rounds) > 8  # more scenarios than the total counts


def test_lines_and_bars_show_the_rate() -> None:
    written = io.StringIO()
    tally = LineReporter(Console(file=written, width=200), every_s=0).stage("eval", 2)
    tally.started -= 4  # as if the stage had run for 4 seconds
    tally.advance()
    assert written.getvalue().strip() == "eval: 1/2 in 4 s, 15.0/min, about 4 s left"
    clock = [0.0]
    bar = Progress(RateColumn(), get_time=lambda: clock[0], console=Console(file=io.StringIO()))
    task = bar.add_task("round 1", total=10)
    for second in (1.0, 2.0, 3.0):
        clock[0] = second
        bar.advance(task, 2)
    assert RateColumn().render(bar.tasks[0]).plain == "2.0/s"
