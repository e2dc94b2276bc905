"""A request body read as JSON the way the proxy can forward it: strict UTF-8, no lone
surrogates (they cannot be encoded again), no NaN, and no nesting deeper than a real chat
request needs (Python's parser and encoder recurse, and a deep body would crash them)."""

from __future__ import annotations

import json
import re
from typing import Any

from playbook.server.errors import bad_request

MAX_DEPTH = 128  # a tool's JSON schema nests a dozen levels; this is far past any real request
# A \u escape of a UTF-16 surrogate: legal JSON, but unpaired it cannot become UTF-8 again.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def parsed_json(raw: bytes) -> Any:
    """The value of `raw`, or a 400 ApiError saying what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(f"the request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise _too_deep() from None
    except ValueError:
        raise bad_request("the request body is not valid JSON") from None
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _depth_over(value, MAX_DEPTH):
        raise _too_deep()
    if _SURROGATE_ESCAPE.search(raw) and not _encodable(value):
        raise bad_request(
            "the request body has a lone UTF-16 surrogate (\\ud800-\\udfff) in a string; "
            "send valid Unicode text"
        )
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_deep() -> Exception:
    return bad_request(f"the request body is nested deeper than {MAX_DEPTH} levels")


def _depth_over(value: Any, limit: int) -> bool:
    """True if arrays and objects nest deeper than `limit` (iterative: no recursion to blow)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
