"""Three `playbook serve` processes on one PostgreSQL database, as a team runs them behind a load
balancer: a reviewer approves, then edits, an entry through one replica while clients keep
asking all three. Every replica serves the new text within a second of the review (polling is
set to 30 s, so the database's change notifications are what carry it), no request fails, and
every request served is recorded exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from playbook.chat.base import ChatRequest
from playbook.domain import example_domain
from playbook.embed import HashEmbedder
from playbook.pgtest import free_port
from playbook.sim.server import create_openai_app
from playbook.store.core import Store
from playbook.testing import FunctionChat, serve_app
from playbook.types import Attempt, Entry, Persona, Provenance, Scenario, Turn, Verdict

REFUND_TEXT = "I demand a full refund for my restricted ticket, this is outrageous!"
REFUND_GUIDANCE = (
    "Acknowledge the customer's frustration before anything else.",
    "Offer travel credit or one paid rebooking; never promise a refund.",
)
BAGGAGE_TEXT = "My suitcase never arrived in Boston and I need my medication from it."
BAGGAGE_GUIDANCE = ("Apologise for the lost bag.", "Give the baggage claim reference number.")
KEY = "sk-replica-test-000001"
REVIEWER_KEY = "rk-replica-test-0123456789abcdef"
# A reviewer's edit is checked before it is served (the student re-run with it on the entry's
# scenario): a rewording that keeps what the guidance does, with a mark to see it served by.
EDITED = (
    "Acknowledge the customer's frustration before anything else.",
    "Offer travel credit (voucher REPLICA-42) or one paid rebooking; never promise a refund.",
)
REPLICAS = 3
CLIENTS_PER_REPLICA = 2
START_TIMEOUT = 90.0  # a loaded 2-core machine; only stops a broken start from hanging


def echo_system(request: ChatRequest) -> str:
    """The student answers with the system prompt it got: the guidance shows in every answer."""
    return "\n".join(m.content for m in request.messages if m.role == "system")


@dataclass
class Answer:
    replica: int
    sent: float
    received: float
    status: int
    text: str


def add_entry(store: Store, text: str, guidance: tuple[str, ...], status: str = "proposed") -> int:
    persona = Persona("p1", "refund_restricted_ticket", "driver", "frustrated", demanding=True)
    baseline = Attempt((), "No.", Verdict(1, "Unhelpful."))
    provenance = Provenance(
        "r1", 1, "reference", baseline, (Attempt(guidance, "ok", Verdict(4, "ok")),)
    )
    entry = Entry(None, Scenario(persona, (Turn("customer", text),)), guidance, provenance, status)
    embedder = HashEmbedder()
    return store.add_entry(entry, embedder.vector(text), embedder.id)


def source_path() -> dict[str, str]:
    return {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}


@pytest.fixture
def upstream() -> Iterator[str]:
    with serve_app(
        create_openai_app({"student": FunctionChat(echo_system, name="student")})
    ) as url:
        yield url + "/v1"


def start_replicas(stack: ExitStack, url: str, upstream: str, folder: Path) -> list[str]:
    urls, processes = [], []
    for number in range(REPLICAS):
        port = free_port()
        config = folder / f"replica{number}.toml"
        config.write_text(
            f'domain = "{example_domain("airline")}"\nplaybook = "{url}"\n'
            + "".join(f'[models.{r}]\nspec = "sim:{r}"\n' for r in ("student", "teacher"))
            + "".join(f'[models.{r}]\nspec = "sim:{r}"\n' for r in ("customer", "judge"))
            + '[embedder]\nspec = "hash"\n'
            + f'[serve]\nupstream_base_url = "{upstream}"\nport = {port}\n'
            + "approved_only = true\nreload_interval = 30\n"
        )
        command = [str(Path(sys.executable).parent / "playbook"), "serve", "--config", str(config)]
        env = {
            "PLAYBOOK_API_KEYS": KEY,
            "PLAYBOOK_REVIEWER_KEY": REVIEWER_KEY,
            "PATH": "",
            **source_path(),
        }
        log = (folder / f"replica{number}.log").open("w")
        process = subprocess.Popen(command, env=env, stderr=log, stdout=log, text=True)
        stack.callback(stop, process)
        processes.append(process)
        urls.append(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + START_TIMEOUT
    for number, (process, base) in enumerate(zip(processes, urls, strict=True)):
        while True:
            assert process.poll() is None, (folder / f"replica{number}.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "a replica did not start"
            time.sleep(0.1)
    return urls


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # Ctrl-C: the served log is written before it exits
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def ask(base: str) -> tuple[int, str]:
    body = {"model": "student", "messages": [{"role": "user", "content": REFUND_TEXT}]}
    answer = httpx.post(
        f"{base}/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    )
    if answer.status_code != 200:
        return answer.status_code, answer.text
    return 200, str(answer.json()["choices"][0]["message"]["content"])


def review(base: str, path: str, body: dict[str, object]) -> float:
    """POST a review as a script does (the reviewer key); the time it was saved."""
    headers = {"Authorization": f"Bearer {REVIEWER_KEY}", "X-Playbook-Reviewer": "Rita"}
    httpx.post(f"{base}{path}", json=body, headers=headers, timeout=30).raise_for_status()
    return time.monotonic()


def test_three_replicas_serve_a_review_within_a_second_and_log_every_request(
    postgres_url: str, upstream: str, tmp_path: Path
) -> None:
    with Store.open(postgres_url) as store:
        refund = add_entry(store, REFUND_TEXT, REFUND_GUIDANCE)  # proposed: not served yet
        add_entry(store, BAGGAGE_TEXT, BAGGAGE_GUIDANCE, status="approved")
    answers: list[Answer] = []
    done = threading.Event()

    with ExitStack() as stack:
        urls = start_replicas(stack, postgres_url, upstream, tmp_path)

        def client(replica: int) -> None:
            while not done.is_set():
                sent = time.monotonic()
                status, text = ask(urls[replica])
                answers.append(Answer(replica, sent, time.monotonic(), status, text))

        threads = [
            threading.Thread(target=client, args=(r,), daemon=True)
            for r in range(REPLICAS)
            for _ in range(CLIENTS_PER_REPLICA)
        ]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        approving = time.monotonic()
        approved = review(urls[0], f"/entries/{refund}/approve", {})
        time.sleep(2.5)
        editing = time.monotonic()
        edited = review(urls[0], f"/entries/{refund}/edit", {"guidance": list(EDITED)})
        time.sleep(2.5)
        done.set()
        for thread in threads:
            thread.join(60)
        stack.close()  # the replicas stop (Ctrl-C) and write their served logs

    assert answers and all(a.status == 200 for a in answers), [
        (a.replica, a.status, a.text[:200]) for a in answers if a.status != 200
    ]
    old, new = REFUND_GUIDANCE[1], EDITED[1]
    for replica in range(REPLICAS):
        mine = [a for a in answers if a.replica == replica]
        before = [a for a in mine if a.received < approving]  # answered before the review
        assert before and all(old not in a.text for a in before), f"replica {replica}: no gate"
        # Sent a second after the approval was saved, answered before the edit was sent.
        after_approval = [a for a in mine if a.sent >= approved + 1.0 and a.received < editing]
        after_edit = [a for a in mine if a.sent >= edited + 1.0]
        assert after_approval and after_edit, f"replica {replica} answered too few requests"
        assert all(old in a.text for a in after_approval), [
            (round(a.sent - approved, 3), a.text[:40]) for a in after_approval if old not in a.text
        ]
        assert all(new in a.text and old not in a.text for a in after_edit), [
            (round(a.sent - edited, 3), a.text[:40]) for a in after_edit if new not in a.text
        ]

    with Store.open(postgres_url) as store:
        logged = store.served(limit=len(answers) + 100)
    assert len(logged) == len(answers), (len(logged), len(answers))
    assert len({r.id for r in logged}) == len(logged)
    guided = sum(1 for a in answers if old in a.text or new in a.text)
    assert sum(1 for r in logged if r.entry_ids == (refund,)) == guided
