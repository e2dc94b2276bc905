"""`playbook serve`: an OpenAI-compatible endpoint that puts the playbook's guidance into each
request and forwards it to the upstream student."""

from playbook.server.app import create_app
from playbook.server.proxy import ENTRIES_HEADER
from playbook.server.settings import Overrides, ServeSettings, resolve_settings

__all__ = ["ENTRIES_HEADER", "Overrides", "ServeSettings", "create_app", "resolve_settings"]
