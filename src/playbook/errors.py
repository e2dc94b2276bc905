"""The errors a user can act on: the CLI and server show their message in one line.

Every such error subclasses `UserError`, so the one error boundary (the CLI's `_run`) catches
them without importing the modules that raise them: an error in a config file is reported
before the model clients, the database layer or the server are even loaded.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user fixes (a config, a file, an endpoint); the message says how."""
