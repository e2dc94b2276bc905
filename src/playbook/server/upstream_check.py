"""`playbook serve` asks its upstream for its model list once at start, so that a wrong address,
a missing /v1, a refused key or an unknown model is said in one line naming the URL, before the
first customer's request fails with a 502."""

from __future__ import annotations

import httpx

from playbook.chat.connection import connection_reason

CHECK_TIMEOUT_S = 5.0


async def upstream_problem(
    base_url: str,
    key: str | None,
    model: str | None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[bool, str]:
    """(answers, one line): whether the upstream answered its model list, and what to say."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = f"{base_url}/models"
    try:
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_S, transport=transport) as client:
            answer = await client.get(url, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # refused, unknown, blackholed
        timed_out = isinstance(exc, httpx.ConnectTimeout)
        reason = "the connection timed out" if timed_out else connection_reason(exc)
        return False, (
            f"upstream {base_url} cannot be reached ({reason}); is it running? "
            "Until it is, chat requests get 502"
        )
    except httpx.TimeoutException:
        # Not necessarily down: a one-at-a-time server (llama.cpp) answers after its current reply
        return False, (
            f"upstream {base_url} did not list its models within {CHECK_TIMEOUT_S:g} s; "
            "it may be busy, or slow to answer chat requests too"
        )
    except httpx.HTTPError as exc:
        return False, f"upstream {base_url} failed: {type(exc).__name__}"
    return _judge_answer(base_url, answer, model)


def _judge_answer(base_url: str, answer: httpx.Response, model: str | None) -> tuple[bool, str]:
    status = answer.status_code
    if status in (401, 403):
        return False, (
            f"upstream {base_url} refused the key ({status}); set serve.upstream_api_key_env "
            "(or the student's api_key_env) to the variable holding it"
        )
    if status == 404 and not base_url.rstrip("/").endswith(("/v1", "/openai")):
        return False, f"upstream {base_url} has no /models (404); try {base_url}/v1"
    if status >= 400:
        return False, f"upstream {base_url} answered {status} to GET /models"
    names = _model_names(answer)
    if model is not None and names and model not in names:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        return False, f"upstream {base_url} has no model {model!r}; it serves {shown}"
    listed = f": {', '.join(names[:5])}" if names else ""
    return True, f"upstream {base_url} answers ({len(names)} models{listed})"


def _model_names(answer: httpx.Response) -> list[str]:
    try:
        data = answer.json().get("data", [])
        return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]
    except (ValueError, AttributeError, TypeError):  # not JSON, not an object, no list of models
        return []
