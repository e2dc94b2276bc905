"""The other endpoints: /v1/guidance (no model called), /v1/models, /healthz, /metrics."""

from __future__ import annotations

import re
from typing import Any

import httpx
import openai
import pytest

from playbook.domain import example_domain, load_domain
from playbook.roles import prompt_environment

KEY = "sk-proxy-test-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
REFUND_TEXT = "I demand a full refund for my restricted ticket, this is outrageous!"
LATE_BAG = "My bag arrived a day late and I had to buy clothes."
REFUND_GUIDANCE = [
    "Acknowledge the customer's frustration before anything else.",
    "Offer travel credit or one paid rebooking; never promise a refund.",
]


def metric(text: str, name: str, labels: str = "") -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    pattern = rf"^{re.escape(name)}{re.escape(labels)} (\S+)$"
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else 0.0


def test_guidance_without_calling_any_model(proxy: str, upstream: Any, playbook: Any) -> None:
    body = {"messages": [{"role": "user", "content": REFUND_TEXT}]}
    asked = len(upstream.chat.requests)
    response = httpx.post(f"{proxy}/v1/guidance", json=body, headers=AUTH)
    assert response.status_code == 200
    found = response.json()
    assert found["guidance"] == REFUND_GUIDANCE
    assert [e["id"] for e in found["entries"]] == [playbook.refund]
    assert 0.2 <= found["entries"][0]["score"] <= 1
    assert found["system_prompt_block"].startswith("<guidelines>")
    assert len(upstream.chat.requests) == asked  # no model was asked


def test_guidance_for_an_uncovered_conversation_is_empty(proxy: str) -> None:
    body = {"messages": [{"role": "user", "content": "Hello there"}]}
    found = httpx.post(f"{proxy}/v1/guidance", json=body, headers=AUTH).json()
    assert found == {"guidance": [], "entries": [], "system_prompt_block": ""}


def test_a_served_playbook_coaches_only_the_goals_it_has_entries_for(start_proxy: Any) -> None:
    """Given the domain's goals (`serve --config`), a lost-bag conversation gets nothing from a
    playbook whose entries were all learned for refunds, the nearest one included."""
    goals = load_domain(example_domain("airline")).goals
    bag = {"messages": [{"role": "user", "content": LATE_BAG}]}
    refund = {"messages": [{"role": "user", "content": REFUND_TEXT}]}
    for url, served in ((start_proxy(), True), (start_proxy(goals=goals), False)):
        found = httpx.post(f"{url}/v1/guidance", json=bag, headers=AUTH).json()
        assert bool(found["guidance"]) is served, found
        found = httpx.post(f"{url}/v1/guidance", json=refund, headers=AUTH).json()
        assert found["guidance"] == REFUND_GUIDANCE


def test_the_system_block_is_worded_as_in_learning(proxy: str) -> None:
    """The proxy's block is exactly the block learning puts in the student's system prompt."""
    body = {"messages": [{"role": "user", "content": REFUND_TEXT}]}
    block = httpx.post(f"{proxy}/v1/guidance", json=body, headers=AUTH).json()[
        "system_prompt_block"
    ]
    template = prompt_environment().get_template("agent_system.j2")
    domain = {"agent_role": "an agent", "policy": "No refunds."}
    learning = template.render(domain=domain, guidance=REFUND_GUIDANCE, examples=())
    assert block in learning


def test_models_are_the_upstreams(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["student"]


def test_healthz_needs_no_upstream(start_proxy: Any) -> None:
    url = start_proxy(upstream_url="http://127.0.0.1:9/v1")  # nothing listens there
    health = httpx.get(f"{url}/healthz").json()
    assert health == {"status": "ok", "entries": 2, "search": "exact", "approved_only": False}


def test_metrics_count_requests_and_guidance(client: openai.OpenAI, proxy: str) -> None:
    before = httpx.get(f"{proxy}/metrics").text
    client.chat.completions.create(
        model="student", messages=[{"role": "user", "content": REFUND_TEXT}]
    )
    httpx.post(f"{proxy}/v1/chat/completions", json={})  # no key: 401
    after = httpx.get(f"{proxy}/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    chat = '{endpoint="/v1/chat/completions",status="200"}'
    assert metric(before, "playbook_requests_total", chat) == 0
    assert metric(after.text, "playbook_requests_total", chat) == 1
    refused = '{endpoint="/v1/chat/completions",status="401"}'
    assert metric(after.text, "playbook_requests_total", refused) == 1
    assert metric(after.text, "playbook_entries_served_total") == 1
    assert metric(after.text, "playbook_guided_requests_total") == 1
    assert metric(after.text, "playbook_entries_loaded") == 2
    latency = 'playbook_request_duration_seconds_count{endpoint="/v1/chat/completions"}'
    assert metric(after.text, latency) == 2


def test_metrics_count_upstream_errors(start_proxy: Any) -> None:
    broken = start_proxy(upstream_url="http://127.0.0.1:9/v1")
    failing = openai.OpenAI(base_url=f"{broken}/v1", api_key=KEY, max_retries=0)
    with failing, pytest.raises(openai.InternalServerError):
        failing.chat.completions.create(model="s", messages=[{"role": "user", "content": "x"}])
    text = httpx.get(f"{broken}/metrics").text
    assert metric(text, "playbook_upstream_errors_total", '{kind="connection"}') == 1
    assert (
        metric(text, "playbook_requests_total", '{endpoint="/v1/chat/completions",status="502"}')
        == 1
    )


def test_each_app_has_its_own_metrics(start_proxy: Any, client: openai.OpenAI) -> None:
    client.chat.completions.create(model="student", messages=[{"role": "user", "content": "hi"}])
    fresh = start_proxy()
    text = httpx.get(f"{fresh}/metrics").text
    assert (
        metric(text, "playbook_requests_total", '{endpoint="/v1/chat/completions",status="200"}')
        == 0
    )
