"""Files an import writes for a user to review: written whole or not at all, never half."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class ImportFileError(Exception):
    """A file to import that cannot be used; the message names the file, the record or line and
    the field at fault. Nothing has been written when it is raised."""


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename it over `path` in one step.

    A crash or a full disk leaves the old file (or none), never a truncated one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_text(path: Path, what: str) -> str:
    """The file's text, or an ImportFileError saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ImportFileError(f"{what} {path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{what} {path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ImportFileError(f"{what} {path}: cannot be read ({exc.strerror})") from None
