"""Why a connection to a model server failed, in a few words: shared by the SDK backend and the
proxy's start-up check of its upstream, which must not import the SDK to say it."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

# Connection failures that mean "wrong address or server down", not a passing fault.
UNREACHABLE = ("connection refused", "host name not found", "TLS handshake failed")


def connection_reason(exc: BaseException) -> str:
    """The root cause in a few words, from the chain of causes (SDK -> its transport -> socket
    error)."""
    innermost = "connection error"
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "host name not found"
        if isinstance(cause, ssl.SSLError):
            return "TLS handshake failed"
        innermost = str(cause) or innermost
    return innermost


def timed_out(exc: BaseException) -> bool:
    """True when a timeout is what ended the request: one in its chain of causes. (The SDK's
    aiohttp transport reports every connection failure, refused or dropped, as a timeout.)"""
    return isinstance(exc, TimeoutError) or any(isinstance(c, TimeoutError) for c in _causes(exc))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """What raised `exc`, what raised that, and so on."""
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        yield cause
        cause = cause.__cause__ or cause.__context__
