"""The proxy in front of an upstream that misbehaves in every way at once (rate limits, 500s,
stalls, garbage, cut-off streams): every request ends, promptly, in a proper answer or error."""

import json
from typing import Any

import httpx

from playbook.sim.faults import FaultPlan, with_faults
from playbook.sim.server import create_openai_app
from playbook.testing import FunctionChat, serve_app

KEY = "sk-proxy-test-0123456789"
BODY: dict[str, Any] = {
    "model": "student",
    "messages": [{"role": "user", "content": "I demand a full refund for my ticket!"}],
}


def outcome(client: httpx.Client, url: str, stream: bool) -> tuple[int, str]:
    """The status and how the body ended: "answer", "error" (OpenAI shape) or "error event"."""
    with client.stream("POST", f"{url}/v1/chat/completions", json={**BODY, "stream": stream}) as r:
        text = r.read().decode()
    if r.status_code != 200:
        assert "error" in json.loads(text), text
        return r.status_code, "error"
    if not stream:
        return 200, "answer" if json.loads(text)["choices"] else "empty"
    events = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    if events and events[-1] == "[DONE]":
        return 200, "answer"
    assert "error" in json.loads(events[-1]), text  # a broken stream says so at its end
    return 200, "error event"


def test_every_request_ends_in_an_answer_or_a_proper_error(start_proxy: Any) -> None:
    plan = FaultPlan(
        rate_limit=0.15,
        server_error=0.15,
        slow=0.1,
        garbage=0.15,
        cut=0.15,
        slow_seconds=5,
        seed=11,
    )
    upstream = with_faults(create_openai_app({"student": FunctionChat(lambda r: "Sure.")}), plan)
    seen: set[tuple[int, str]] = set()
    with serve_app(upstream) as base:
        url = start_proxy(upstream_url=f"{base}/v1", timeout=0.3)
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(headers=headers, timeout=10) as client:  # never hangs past this
            for number in range(60):
                seen.add(outcome(client, url, stream=number % 2 == 1))
    assert sum(plan.injected.values()) >= 20
    assert {status for status, _ in seen} <= {200, 429, 502, 504}
    assert {(200, "answer"), (429, "error"), (502, "error"), (504, "error")} <= seen
