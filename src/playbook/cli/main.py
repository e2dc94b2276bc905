"""The entry point of `playbook`: the top-level help answers from typer's own output, saved
(`saved_help`); everything else goes to the typer app of `cli.app`.

`playbook --help` is what a new user runs first, and typer alone takes about five times as long
to import as Python takes to start, so this module imports neither typer nor the commands.
"""

from __future__ import annotations

import sys
from typing import Any

from playbook.cli.saved_help import print_saved_help


def main() -> None:
    if print_saved_help(sys.argv[1:]):
        return
    from playbook.cli.app import app
    from playbook.cli.base import INTERRUPTED, err

    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(INTERRUPTED)


def __getattr__(name: str) -> Any:
    # `from playbook.cli.main import app` still works; the app (and typer) load on first use.
    if name == "app":
        from playbook.cli.app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
