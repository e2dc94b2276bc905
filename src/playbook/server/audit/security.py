"""Who may use the audit UI, and how each request proves it.

A browser signs in with the reviewer key and gets a signed, HttpOnly, SameSite=Strict session
cookie that holds the reviewer's name and a CSRF token (never the key); every form POST must
carry that token. A script sends `Authorization: Bearer <reviewer key>` instead: a header a
foreign page cannot make a browser send, so it needs no CSRF token.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from playbook.server.audit.settings import AuditSettings

COOKIE = "playbook_audit"
REVIEWER_HEADER = "X-Playbook-Reviewer"  # a script's reviewer name; "api" when absent
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
# Scripts only from our own file: model-written text that slipped through escaping still could
# not run. Inline styles are allowed (the pages use them; a style cannot run code).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,80}$")


class AuditError(Exception):
    """An answer other than the page asked for: status and a message for the reviewer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInRequired(AuditError):
    def __init__(self) -> None:
        super().__init__(
            401,
            "sign in first, or send 'Authorization: Bearer <reviewer key>' (PLAYBOOK_REVIEWER_KEY)",
        )


@dataclass(frozen=True)
class Session:
    reviewer: str | None  # None until signed in
    csrf: str


@dataclass(frozen=True)
class Reviewer:
    """A signed-in person (with the session's CSRF token) or a script (bearer, no token)."""

    name: str
    csrf: str | None


class Gate:
    def __init__(self, settings: AuditSettings) -> None:
        self._key = settings.reviewer_key.encode()
        self._max_age = settings.session_seconds
        self._signer = URLSafeTimedSerializer(settings.session_secret, salt="playbook-audit")
        # Sessions signed out before they expire: a signed cookie stays valid by itself, so a
        # copy of it must be refused here. In memory is enough: the session secret is new in
        # every process (unless given), so a restart ends every session anyway.
        self._signed_out: dict[str, float] = {}  # session token -> when its cookie expires
        self.throttle = SignInThrottle()

    def sign_out(self, session: Session) -> None:
        now = time.monotonic()
        self._signed_out = {t: end for t, end in self._signed_out.items() if end > now}
        self._signed_out[session.csrf] = now + self._max_age

    def key_matches(self, given: str) -> bool:
        # Constant time: how long a refusal takes says nothing about how close a guess was.
        return hmac.compare_digest(given.encode(), self._key)

    def session(self, request: Request) -> Session | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        try:
            data = self._signer.loads(token, max_age=self._max_age)
        except BadSignature:  # includes expired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        if data["csrf"] in self._signed_out:
            return None
        reviewer = data.get("reviewer")
        return Session(reviewer if isinstance(reviewer, str) else None, data["csrf"])

    def reviewer(self, request: Request) -> Reviewer:
        """Who is asking; SignInRequired (or a 401 for a wrong bearer key) if nobody is."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme:
            name = reviewer_name(request.headers.get(REVIEWER_HEADER) or "api")
            client = request.client.host if request.client else "unknown"
            self.throttle.check(client, name)  # a script guessing keys is throttled too
            if scheme.lower() != "bearer" or not self.key_matches(token.strip()):
                self.throttle.failed(client, name)
                raise AuditError(401, "wrong reviewer key in the Authorization header")
            return Reviewer(name, None)
        session = self.session(request)
        if session is None or session.reviewer is None:
            raise SignInRequired()
        return Reviewer(session.reviewer, session.csrf)

    def check_csrf(self, reviewer: Reviewer, token: str) -> None:
        """Refuse a cookie-authenticated change that does not carry the session's token."""
        if reviewer.csrf is None:
            return  # bearer: not something another site can make a browser send
        if not token or not hmac.compare_digest(token.encode(), reviewer.csrf.encode()):
            raise AuditError(
                403, "the form's security token is missing or stale; reload the page and retry"
            )

    def issue(self, response: Response, request: Request, session: Session) -> None:
        cookie = self._signer.dumps({"reviewer": session.reviewer, "csrf": session.csrf})
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=self._max_age,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )


class SignInThrottle:
    """Failed sign-ins counted per client address and per reviewer name over a window; past
    the limit every sign-in from that address or as that name is refused until the window
    passes, the right key included (else guessing would just go on)."""

    def __init__(self, limit: int = 5, window_seconds: float = 900.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._failures: dict[str, list[float]] = {}

    def check(self, client: str, name: str) -> None:
        """AuditError 429 if `client` or `name` failed too often within the window."""
        now = time.monotonic()
        for key, what in (
            (f"client:{client}", f"from {client}"),
            (_name_key(name), f"as {name!r}"),
        ):
            recent = [t for t in self._failures.get(key, []) if t > now - self.window]
            self._failures[key] = recent
            if len(recent) >= self.limit:
                wait = max(1, round((recent[0] + self.window - now) / 60))
                raise AuditError(
                    429,
                    f"too many failed sign-ins {what}; try again in {wait} minute"
                    f"{'s' if wait != 1 else ''}",
                )

    def failed(self, client: str, name: str) -> None:
        now = time.monotonic()
        for key in (f"client:{client}", _name_key(name)):
            self._failures.setdefault(key, []).append(now)
        if len(self._failures) > 10_000:  # a flood of names: keep only keys still in the window
            self._failures = {
                k: v for k, v in self._failures.items() if v and v[-1] > now - self.window
            }


def _name_key(name: str) -> str:
    return "name:" + " ".join(name.split()).casefold()


def new_session(reviewer: str | None = None) -> Session:
    return Session(reviewer, secrets.token_urlsafe(32))


def clear(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


def reviewer_name(name: str) -> str:
    """A name to record on reviews: 1-80 printable characters."""
    name = " ".join(name.split())
    if not _NAME.match(name):
        raise AuditError(400, "give your name (1 to 80 characters) so reviews say who made them")
    return name


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/entries"
    return target


def sign_in_url(request: Request) -> str:
    """The sign-in page, coming back here afterwards (to the entries, after a refused POST)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/signin?next=" + quote(target if request.method == "GET" else "/entries", safe="")


def wants_json(request: Request) -> bool:
    """A script or a JSON twin, rather than a browser page."""
    path = request.url.path
    return (
        path.endswith(".json")
        or "authorization" in request.headers
        or request.headers.get("content-type", "").startswith("application/json")
        or "text/html" not in request.headers.get("accept", "text/html")
    )
