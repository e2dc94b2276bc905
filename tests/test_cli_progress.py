"""Progress as a user sees it (issue 16): bars with time left in a terminal, plain lines in CI or
behind `| tee`, where nothing used to print until the end."""

from __future__ import annotations

import io

from rich.console import Console

from playbook.cli_progress import BarReporter, LineReporter, reporter
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
