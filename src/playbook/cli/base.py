"""What every `playbook` command shares: the consoles, the one error boundary, the sync shim, and
how a command finds its config and its playbook.

It imports nothing heavy, so that `playbook --help` and a mistake in a config file answer at
once: the model clients, the database layer and the server load only once a command needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from playbook.errors import UserError

if TYPE_CHECKING:
    from playbook.config import Config
    from playbook.location import Location
    from playbook.store.core import Store

T = TypeVar("T")
err = Console(stderr=True)
out = Console(soft_wrap=True)
INTERRUPTED = 130  # the shell's code for a process ended by Ctrl-C (128 + SIGINT)


def error_line(message: str) -> None:
    """One line on stderr, never wrapped (a log or a test reads it whole), never markup."""
    err.print(f"[red]error:[/red] {escape(message)}", markup=True, highlight=False, soft_wrap=True)


def emit(summary: T, as_json: bool, show: Callable[[T], None]) -> None:
    """A command's result: one JSON value on stdout with --json (for a script), else `show`n."""
    if as_json:
        import json

        print(json.dumps(summary))
    else:
        show(summary)


@contextmanager
def user_errors() -> Iterator[None]:
    """The one error boundary: an error the user can act on ends in one line and exit code 2."""
    try:
        yield
    except UserError as exc:
        error_line(str(exc))
        raise typer.Exit(2) from None


def run(work: Callable[[], Coroutine[Any, Any, T]], *, fast_loop: bool = False) -> T:
    """The one sync shim: run the coroutine inside the error boundary. `fast_loop`: on uvloop
    where it is installed (a server's request path costs about a fifth less CPU on it)."""
    import asyncio

    with user_errors(), asyncio.Runner(loop_factory=_loop_factory(fast_loop)) as runner:
        return runner.run(work())


def _loop_factory(fast: bool) -> Callable[[], Any] | None:
    if not fast:
        return None
    try:
        import uvloop
    except ImportError:  # not on Windows
        return None
    factory: Callable[[], Any] = uvloop.new_event_loop
    return factory


def load_config(config: Path | None) -> Config:
    """The config given, else `playbook.toml` in the current folder; read and checked.
    PLAYBOOK_DATABASE_URL, if set, names the playbook instead of the file's `playbook`."""
    import os

    from playbook.config import find_config, with_database_url
    from playbook.config import load_config as read

    with user_errors():
        return with_database_url(read(find_config(config, Path.cwd())), os.environ)


def playbook_path(config: Path | None, playbook: str | None) -> Location:
    """`--playbook` (a file or a postgresql:// URL), else PLAYBOOK_DATABASE_URL, else the
    playbook named by the config (given, or `playbook.toml` here)."""
    import os

    from playbook.config import DEFAULT_CONFIG
    from playbook.location import DATABASE_URL_ENV, parse_location

    with user_errors():
        try:
            if playbook is not None:
                return parse_location(playbook)
            if config is None and os.environ.get(DATABASE_URL_ENV, "").strip():
                return parse_location(os.environ[DATABASE_URL_ENV].strip())
        except ValueError as exc:
            raise UserError(f"playbook {playbook}: {exc}") from None
        if config is None and not DEFAULT_CONFIG.is_file():
            raise UserError("which playbook? give --playbook DB or --config FILE")
    return load_config(config).playbook


def open_playbook(config: Path | None, playbook: str | None) -> Store:
    """An existing playbook, to read: a mistyped path is an error, and nothing is created."""
    from playbook.store.core import Store

    path = playbook_path(config, playbook)
    with user_errors():
        return Store.open(path, create=False)
