"""`playbook --help` answers from typer's saved output (issue 15: typer alone took five times
Python's start-up): the same text, byte for byte, as typer prints, without importing typer."""

import os
import subprocess
import sys
from pathlib import Path

from playbook.cli.saved_help import HELP_FILE, saved_text, typer_help

PLAYBOOK = str(Path(sys.executable).with_name("playbook"))
# Run first in the child: says on stderr, as it exits, whether typer was imported.
LOADED = (
    "import atexit, sys\natexit.register(lambda: print('typer' in sys.modules, file=sys.stderr))"
)


def help_of(command: list[str], columns: int = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_the_saved_help_is_what_typer_prints_now() -> None:
    assert saved_text() == typer_help(), "the commands changed: python -m playbook.cli.saved_help"


def test_help_saved_with_other_releases_of_typer_or_rich_is_not_printed(tmp_path: Path) -> None:
    """Another release may format the help otherwise: typer answers then."""
    made_with, _, text = Path(HELP_FILE).read_text(encoding="utf-8").partition("\n")
    other = tmp_path / "help.txt"

    def printed() -> str:
        code = "from playbook.cli.saved_help import print_saved_help\n"
        code += f"print_saved_help(['--help'], {str(other)!r})"
        return help_of([sys.executable, "-c", code]).stdout

    for pin in made_with.split():
        name = pin.partition("==")[0]
        other.write_text(made_with.replace(pin, f"{name}==0.0.1") + "\n" + text)
        assert printed() == ""
    other.write_text(f"{made_with}\n{text}")
    assert printed().endswith(text.partition("\n")[2])


def test_help_prints_exactly_what_typer_prints_without_importing_typer() -> None:
    shown = help_of([PLAYBOOK, "--help"])
    assert shown.returncode == 0 and shown.stdout == typer_help("playbook", 120)
    # Run as the benchmarks run it (`python -c`): click names the program `-c`, and so do we.
    code = f"{LOADED}\nfrom playbook.cli.main import main; main()"
    shown = help_of([sys.executable, "-c", code, "--help"])
    assert shown.stdout == typer_help("-c", 120)
    assert shown.stderr.split() == ["False"]  # typer never loaded


def test_a_narrow_terminal_gets_typers_own_wrapping() -> None:
    code = f"{LOADED}\nfrom playbook.cli.main import main; main()"
    shown = help_of([sys.executable, "-c", code, "--help"], columns=60)
    assert shown.stdout == typer_help("-c", 60) != typer_help("-c", 120)
    assert shown.stderr.split() == ["True"]  # typer answered


def test_a_command_still_gets_its_help_from_typer() -> None:
    shown = help_of([PLAYBOOK, "learn", "--help"])
    assert shown.returncode == 0 and "--resume" in shown.stdout
