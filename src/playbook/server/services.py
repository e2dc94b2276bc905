"""What every route reaches: the parts of one running server, built when the app starts."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from playbook.server.auth import KeyCheck
from playbook.server.live import LivePlaybook
from playbook.server.metrics import Metrics
from playbook.server.proxy import ChatProxy
from playbook.server.recording import ServedLog
from playbook.server.settings import ServeSettings
from playbook.store.core import Store


@dataclass(frozen=True)
class Services:
    settings: ServeSettings
    store: Store
    playbook: LivePlaybook
    proxy: ChatProxy
    served: ServedLog
    keys: KeyCheck
    metrics: Metrics


def services(request: Request) -> Services:
    """The running server's parts; a router added later (e.g. the audit UI) uses them too."""
    found: Services = request.app.state.services
    return found
