"""`playbook serve`: an OpenAI-compatible endpoint that puts the playbook's guidance into each
request and forwards it to the upstream student.

The names below load on first use: `playbook serve` reads its settings and starts loading the
playbook before it imports the web stack (fastapi, uvicorn), so that the two overlap.
"""

from typing import TYPE_CHECKING, Any

from playbook.server.settings import Overrides, ServeSettings, resolve_settings

if TYPE_CHECKING:
    from playbook.server.app import create_app
    from playbook.server.proxy import ENTRIES_HEADER

__all__ = ["ENTRIES_HEADER", "Overrides", "ServeSettings", "create_app", "resolve_settings"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from playbook.server.app import create_app

        return create_app
    if name == "ENTRIES_HEADER":
        from playbook.server.proxy import ENTRIES_HEADER

        return ENTRIES_HEADER
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
