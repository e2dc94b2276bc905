"""Bearer-key authentication for the API routes: a key from the server's configured set, or,
when none is configured (allowed on loopback only), no key at all."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from playbook.server.errors import unauthorized


class KeyCheck:
    """Compares in constant time, so response timing says nothing about how close a guess was."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = tuple(key.encode() for key in keys)

    @property
    def open(self) -> bool:
        """True when no key is configured and every request is let in."""
        return not self._keys

    def require(self, authorization: str | None) -> None:
        """Raise a 401 ApiError unless `authorization` is `Bearer <a configured key>`."""
        if self.open:
            return
        scheme, _, token = (authorization or "").partition(" ")
        given = token.strip().encode()
        if scheme.lower() != "bearer" or not given:
            raise unauthorized()
        # Every key is compared (no early exit), for the same reason as compare_digest.
        matches = [hmac.compare_digest(given, key) for key in self._keys]
        if not any(matches):
            raise unauthorized()
