"""`playbook logs` and the audit UI's calls page: the recorded model calls of a run, filtered by
run and role, with prompt, answer, tokens, latency, cost and cache hits."""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from playbook.server.audit import AuditSettings, create_audit_app
from playbook.store.core import Store

PLAYBOOK = str(Path(sys.executable).with_name("playbook"))
REVIEWER_KEY = "rk-logs-test-0123456789abcdef"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PLAYBOOK, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=os.environ
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A playbook learned twice on one persona (the second run answered from the cache)."""
    folder = tmp_path_factory.mktemp("logs")
    assert run("init", cwd=folder).returncode == 0
    config = folder / "playbook.toml"
    config.write_text(config.read_text().replace("rounds = 3", "rounds = 1"))
    for _ in range(2):
        learned = run("learn", "--limit", "1", cwd=folder)
        assert learned.returncode == 0, learned.stderr
    return folder


def logs(folder: Path, *args: str) -> list[dict[str, object]]:
    result = run("logs", "--json", *args, cwd=folder)
    assert result.returncode == 0, result.stderr
    calls: list[dict[str, object]] = json.loads(result.stdout)
    return calls


def test_logs_are_the_runs_calls_filtered_by_run_and_role(folder: Path) -> None:
    with Store.open(folder / "playbook.db", create=False) as store:
        first, second = (r.id for r in store.runs())
        judged = store.call_stats(first)["judge"].calls
    judge = logs(folder, "--run", first, "--role", "judge", "-n", "0")
    assert len(judge) == judged and {c["role"] for c in judge} == {"judge"}
    assert {c["run_id"] for c in judge} == {first}
    call = judge[0]
    assert call["messages"] and "SkyWays" in str(call["messages"])  # the prompt as sent
    assert call["answer"] and int(str(call["input_tokens"])) > 0
    assert not call["cached"] and float(str(call["latency_ms"])) >= 0
    assert [c["id"] for c in judge] == sorted(c["id"] for c in judge)  # a log: oldest first

    latest = logs(folder, "--run", "latest", "-n", "3")
    assert len(latest) == 3 and {c["run_id"] for c in latest} == {second}
    assert all(c["cached"] for c in latest)  # the repeat run was answered from the cache
    assert latest[-1]["id"] == max(c["id"] for c in logs(folder, "-n", "0"))


def test_logs_reads_as_text_and_mistakes_are_one_line(folder: Path) -> None:
    text = run("logs", "-n", "1", "--role", "teacher", cwd=folder)
    assert text.returncode == 0, text.stderr
    assert "## call" in text.stdout and "· teacher ·" in text.stdout
    assert "### prompt" in text.stdout and "### answer" in text.stdout
    assert "tokens in" in text.stdout and "cache hit (not paid)" in text.stdout

    typo = run("logs", "--role", "techer", cwd=folder)
    assert typo.returncode == 2 and "did you mean 'teacher'" in typo.stderr
    missing = run("logs", "--run", "nope", cwd=folder)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    absent = run("logs", "--playbook", "elsewhere.db", cwd=folder)
    assert absent.returncode == 2 and not (folder / "elsewhere.db").exists()


def test_the_audit_calls_page_and_its_json_twin(folder: Path) -> None:
    with Store.open(folder / "playbook.db", create=False) as store:
        first = store.runs()[0].id
        app = create_audit_app(store, AuditSettings(REVIEWER_KEY))
        transport = httpx.ASGITransport(app=app)
        bearer = {"Authorization": f"Bearer {REVIEWER_KEY}"}

        async def fetch() -> tuple[httpx.Response, httpx.Response, httpx.Response, int]:
            async with httpx.AsyncClient(transport=transport, base_url="http://audit") as client:
                page = await client.get(f"/calls?run={first}&role=teacher", headers=bearer)
                twin = await client.get(f"/calls.json?run={first}&role=teacher", headers=bearer)
                locked = await client.get("/calls.json")
                return page, twin, locked, store.call_stats(first)["teacher"].calls

        import asyncio

        page, twin, locked, teacher_calls = asyncio.run(fetch())
    assert locked.status_code in (401, 303)  # the calls hold prompts: reviewers only
    assert page.status_code == 200 and "Model calls of run" in page.text
    calls = twin.json()["calls"]
    assert len(calls) == min(teacher_calls, 50) and {c["role"] for c in calls} == {"teacher"}
    assert calls[0]["answer"] and "<pre>" in page.text
