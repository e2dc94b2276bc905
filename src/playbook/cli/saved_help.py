"""`playbook --help` without importing typer: typer's own top-level help, saved in help.txt.

After adding a command or changing the first line of one's docstring, save it again with
`python -m playbook.cli.saved_help` (tests/test_cli_help.py fails until then). The text is what
typer prints on a terminal of 80 columns or more (click wraps help to the terminal, at most 78
columns); on a narrower terminal, or whenever the saved text might differ, typer answers. That
includes other releases of typer or rich than the ones it was saved with (named on its first
line, which the Makefile installs), since they may format help otherwise.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

HELP_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "help.txt")
SAVED_PROG = "playbook"  # the program name the saved text was made with
FULL_WIDTH = 80  # click's max_width: from this many columns on, its help text is the same
# The libraries whose releases decide how the help looks (typer carries its own copy of click).
FORMATTERS = ("typer", "rich")


def print_saved_help(args: Sequence[str], help_file: str = HELP_FILE) -> bool:
    """Print typer's top-level help if `args` asks for it and the saved text is exactly what
    typer would print here; False, having printed nothing, otherwise."""
    prog = _program_name()
    if list(args) != ["--help"] or prog is None or _completing() or _columns() < FULL_WIDTH:
        return False
    with open(help_file, encoding="utf-8", newline="") as file:
        made_with, _, text = file.read().partition("\n")
    if not all(_installed(pin) for pin in made_with.split()):
        return False
    usage, _, rest = text.partition("\n")
    usage = usage.replace(f"Usage: {SAVED_PROG} ", f"Usage: {prog} ", 1)
    if len(usage) > FULL_WIDTH - 2:  # click would wrap the usage line
        return False
    sys.stdout.write(f"{usage}\n{rest}")
    sys.stdout.flush()
    return True


def typer_help(prog: str = SAVED_PROG, columns: int = FULL_WIDTH) -> str:
    """What typer itself prints for `PROG --help` on a terminal this wide, from a fresh
    interpreter as a user runs it (what help.txt saves, and what tests compare it with)."""
    import subprocess

    code = f"import sys; sys.argv[0] = {prog!r}; from playbook.cli.app import app; app()"
    env = {k: v for k, v in os.environ.items() if not _completion_variable(k)}
    env["COLUMNS"] = str(columns)
    done = subprocess.run(
        [sys.executable, "-c", code, "--help"], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def saved_text(help_file: str = HELP_FILE) -> str:
    """The saved help, without the line naming the releases it was made with."""
    with open(help_file, encoding="utf-8", newline="") as file:
        return file.read().partition("\n")[2]


def _installed(pin: str) -> bool:
    """True when `name==version` is the release Python would import: its dist-info folder is
    beside the first copy of the package on the path (importlib.metadata would take longer
    than everything else `--help` does)."""
    name, _, version = pin.partition("==")
    for path in sys.path:
        if os.path.isdir(os.path.join(path or ".", name)):
            return os.path.isdir(os.path.join(path or ".", f"{name}-{version}.dist-info"))
    return False


def _releases() -> str:
    """The installed releases of the libraries that format the help: `typer==0.29.2 rich==...`."""
    from importlib.metadata import version

    return " ".join(f"{name}=={version(name)}" for name in FORMATTERS)


def _program_name() -> str | None:
    """click's name for a script or entry point: the file name of argv[0]. None for
    `python -m`, which click names otherwise (typer answers then)."""
    main = sys.modules.get("__main__")
    if getattr(main, "__package__", None) not in (None, ""):
        return None
    name = os.path.basename(sys.argv[0])
    return name if name and not any(c.isspace() for c in name) else None


def _completing() -> bool:
    """Shell completion (or typer's test switch for it) is on: typer answers."""
    return any(_completion_variable(name) for name in os.environ)


def _completion_variable(name: str) -> bool:
    return (name.startswith("_") and name.endswith("_COMPLETE")) or name.startswith("_TYPER")


def _columns() -> int:
    """The terminal's width as click reads it (`shutil.get_terminal_size`, whose import alone
    would cost more than the rest of this module): COLUMNS, else the terminal, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        size = os.get_terminal_size(sys.__stdout__.fileno()) if sys.__stdout__ else None
    except (ValueError, OSError):
        size = None
    return (size.columns if size else 0) or FULL_WIDTH


if __name__ == "__main__":
    with open(HELP_FILE, "w", encoding="utf-8", newline="") as saved:
        saved.write(f"{_releases()}\n{typer_help()}")
    print(f"saved typer's `playbook --help` in {HELP_FILE}")
