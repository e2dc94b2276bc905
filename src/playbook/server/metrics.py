"""Prometheus metrics of one app, in a registry of its own (never the process-wide default), so
that a process can hold many apps, as tests do."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = CONTENT_TYPE_LATEST
# From a cache-speed proxy hop to a slow model's long answer.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """Requests, latency, upstream errors and guidance served."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "playbook_requests",
            "HTTP requests answered, by endpoint and status code.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "playbook_request_duration_seconds",
            "Time from request to the last byte of the answer (whole streams included).",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "playbook_upstream_errors",
            "Chat completions the upstream failed: timeout, connection, status, stream.",
            ["kind"],
            registry=self.registry,
        )
        self.entries_served = Counter(
            "playbook_entries_served",
            "Playbook entries whose guidance was put into a request.",
            registry=self.registry,
        )
        self.guided_requests = Counter(
            "playbook_guided_requests",
            "Chat completions that carried guidance from at least one entry.",
            registry=self.registry,
        )
        self.entries_loaded = Gauge(
            "playbook_entries_loaded",
            "Servable entries in the index (after the approval gate).",
            registry=self.registry,
        )
        self.reloads = Counter(
            "playbook_reloads", "Times the playbook index was rebuilt.", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request, until the last byte of its answer is sent.

    Pure ASGI rather than a Starlette BaseHTTPMiddleware: it adds microseconds, and streams
    pass through untouched.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app fails before answering

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            endpoint = _endpoint(scope)
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)


def _endpoint(scope: Scope) -> str:
    """The matched route's template (e.g. /entries/{id}); unmatched paths share one label, so
    that probing random URLs cannot grow the number of series."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "other"
