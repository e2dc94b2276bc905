"""Files an import writes for a user to review: written whole or not at all, never half."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from playbook.errors import UserError


class ImportFileError(UserError):
    """A file to import that cannot be used; the message names the file, the record or line and
    the field at fault. Nothing has been written when it is raised."""


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename it over `path` in one step.

    A crash or a full disk leaves the old file (or none), never a truncated one; a failed
    write is an ImportFileError naming the file and the reason (full disk, read-only folder).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise _unwritten(path, exc) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise _unwritten(path, exc) from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _unwritten(path: Path, exc: OSError) -> ImportFileError:
    reason = exc.strerror or type(exc).__name__
    return ImportFileError(f"{path}: cannot be written ({reason}); nothing was written")


def parse_json(text: str, where: str) -> Any:
    """The JSON value of `text`, or an ImportFileError: where, the line and what is wrong."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:  # Python's parser recurses per level; a file is not that deep
        raise ImportFileError(f"{where}: nested too deeply to be a real file") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise ImportFileError(f"{where}: not valid JSON ({short(str(exc))})") from None


def short(text: str, limit: int = 120) -> str:
    """A piece of a file quoted in an error message: one line, and short."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_text(path: Path, what: str) -> str:
    """The file's text, or an ImportFileError saying why it cannot be read. A UTF-8 byte order
    mark (which Windows editors and spreadsheet exports write) is not part of the text."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ImportFileError(f"{what} {path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{what} {path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ImportFileError(f"{what} {path}: cannot be read ({exc.strerror})") from None
