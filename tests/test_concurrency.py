"""One playbook, three writers at once: a learn run, the serving proxy (recording every request)
and a reviewer. No "database is locked" reaches anyone and no write is lost."""

import subprocess
import sys
import threading
from pathlib import Path

import httpx

from playbook.embed import HashEmbedder
from playbook.server import ServeSettings, create_app
from playbook.sim.server import create_openai_app
from playbook.store.core import Store
from playbook.testing import FunctionChat, serve_app

PLAYBOOK = str(Path(sys.executable).with_name("playbook"))
KEY = "sk-concurrency-test-123456"


def test_learn_serve_and_review_write_one_playbook_at_once(tmp_path: Path) -> None:
    subprocess.run([PLAYBOOK, "init", str(tmp_path)], check=True, capture_output=True)
    db = tmp_path / "playbook.db"
    Store.open(db).close()  # the schema exists before the three start
    upstream = create_openai_app({"student": FunctionChat(lambda r: "Happy to help.")})
    errors: list[BaseException] = []
    learning = subprocess.Popen(
        [PLAYBOOK, "learn", "--config", "playbook.toml", "--json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with Store.open(db) as server_store, Store.open(db) as reviewer_store:
        with serve_app(upstream) as upstream_url:
            settings = ServeSettings(
                playbook=db,
                upstream_url=f"{upstream_url}/v1",
                api_keys=frozenset({KEY}),
                approved_only=False,
                reload_interval=0.05,
            )
            with serve_app(create_app(settings, server_store, HashEmbedder())) as url:
                reviews = run_reviewer(reviewer_store, learning, errors)
                statuses = hammer_proxy(url, learning)
                reviews.join(timeout=60)
        _, err = learning.communicate(timeout=300)
        assert learning.returncode == 0, err
        assert "locked" not in err and not errors, (err, errors)
        assert statuses and set(statuses) == {200}
        served = wait_for_served(server_store, len(statuses))
        assert served == len(statuses)  # every served request was recorded
        actions = reviews.actions
        recorded = sum(len(reviewer_store.reviews(e.id)) - 1 for e in reviewer_store.entries())
        assert actions > 0 and recorded == actions  # every review was recorded


def run_reviewer(
    store: Store, learning: subprocess.Popen[str], errors: list[BaseException]
) -> threading.Thread:
    """Approves and rejects entries in turn for as long as the learn run goes on."""

    def review() -> None:
        try:
            while learning.poll() is None:
                for entry in store.entries(statuses=["proposed", "approved"])[:5]:
                    status = "rejected" if entry.id % 2 else "approved"
                    store.set_status(entry.id, status, "reviewer", "concurrency test")
                    thread.actions += 1  # type: ignore[attr-defined]
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=review)
    thread.actions = 0  # type: ignore[attr-defined]
    thread.start()
    return thread


def hammer_proxy(url: str, learning: subprocess.Popen[str]) -> list[int]:
    body = {"model": "student", "messages": [{"role": "user", "content": "I want a full refund"}]}
    statuses: list[int] = []
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {KEY}"}) as client:
        while learning.poll() is None or len(statuses) < 5:
            statuses.append(client.post(f"{url}/v1/chat/completions", json=body).status_code)
    return statuses


def wait_for_served(store: Store, expected: int) -> int:
    """Served requests are written in the background; give the writer a moment."""
    import time

    deadline = time.monotonic() + 10
    while (count := store.served_stats().requests) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return count
