"""The server's OpenAPI schema, fuzzed with schemathesis: valid and invalid requests, with and
without a key; the server never answers 500 (nor any 5xx: the upstream here is healthy)."""

from collections.abc import Callable
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

KEY = "sk-proxy-test-0123456789"


def check_operation(operation: Any, mode: GenerationMode) -> tuple[list[str], int]:
    """Send fuzzed cases for one operation; the problems found and the requests sent."""
    problems: list[str] = []
    sent = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def send(case: Any) -> None:
        nonlocal sent
        sent += 1
        for headers in ({"Authorization": f"Bearer {KEY}"}, {}):
            response = case.call(headers=headers, timeout=10)
            if response.status_code >= 500:
                problems.append(f"{case.method} {case.path} -> {response.status_code}")
            elif response.status_code >= 400 and "error" not in response.json():
                problems.append(f"{case.method} {case.path}: not an OpenAI-style error")

    try:
        send()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, operation.path  # nothing to get wrong in it
    return problems, sent


def test_no_request_gets_a_server_error(start_proxy: Callable[..., str]) -> None:
    url = start_proxy()
    document = httpx.get(f"{url}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=url)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/chat/completions", "/v1/guidance"}
    results = [check_operation(op, mode) for op in operations for mode in GenerationMode]
    problems = [problem for found, _ in results for problem in found]
    assert not problems, problems[:10]
    assert sum(sent for _, sent in results) >= 100
