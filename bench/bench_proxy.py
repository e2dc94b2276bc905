"""The serving proxy's cost: chat-completion latency through `playbook serve` against the same
loopback upstream called directly, with a 10,000-entry playbook, measured in one run.

The upstream is the simulated student (`playbook simulate`) and the proxy is `playbook serve`,
each in its own process, as a user runs them; one HTTP client sends the same chat-application
prompt (system prompt with the policy, a three-turn conversation) to both, interleaved, after a
warm-up. Added latency is the proxy's percentile minus the direct one; the throughput ratio is
requests per second through the proxy over direct, with several requests in flight.

With --gate, a second `playbook serve` with a config naming the airline example's domain (two
goals, so its goal gate reads each conversation's goal; retrieval otherwise as without a config)
is measured afterwards beside direct calls and the first proxy, interleaved: `gate_added_p50_ms`.
The synthetic entries are of either goal, by their topic.

With --litellm, the LiteLLM proxy (installed into build/litellm once, no database) then stands
in front of the same upstream too, and the three paths are measured again, interleaved:
`added_ratio_to_litellm` is playbook serve's added p50 over LiteLLM's in that second round.
LiteLLM is started only after the first round: on 2 cores its own work (a request through it
takes about 10 ms) spills into the other paths' latencies, and the direct p50 then rose from
about 0.9 to 1.3-1.9 ms.

    .venv/bin/python bench/bench_proxy.py [--entries 10000] [--requests 500] [--concurrency 8]
                                          [--litellm] [--gate]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from common import (
    available_bytes,
    emit,
    free_port,
    percentile,
    playbook_command,
    progress,
    sim_server,
    stop,
    wait_until_ready,
)
from litellm_proxy import LiteLLM, Unavailable, installed, litellm_server
from pydantic import TypeAdapter

from playbook.domain import load_domain
from playbook.embed.static import StaticEmbedder
from playbook.neighbours import APPROXIMATE_FROM
from playbook.roles import Roles, prompt_environment
from playbook.sim.models import SimWorld
from playbook.store.core import Store
from playbook.store.migrations import schema
from playbook.types import ROLES, Attempt, Persona, Provenance, Scenario, Turn, Verdict
from playbook.workspace import example_domain

KEY = "sk-bench-proxy-000000001"
WARMUP = 50
READY_TIMEOUT_S = 1200  # loading and indexing a million entries on a busy machine
INSERT_ROWS = 20_000
# Memory `serve` may peak at per entry while it trains its approximate index (vectors thrice).
BYTES_PER_ENTRY = 4_000  # rows per transaction while building the playbook
CONCURRENCY = 8
CITIES = ("Boston", "Denver", "Lisbon", "Osaka", "Lima", "Oslo", "Perth", "Quito", "Accra")
TOPICS = (
    "I want a full refund for my restricted ticket",
    "my flight was cancelled and nobody told me",
    "my suitcase never arrived",
    "I was charged twice for my seat",
    "I need to change my flight because my mother is in hospital",
    "can my dog travel with me in the cabin",
    "the upgrade I paid for was not honoured",
    "my connection was missed because of your delay",
)
MOODS = ("This is outrageous!", "I am confused.", "Please help.", "I am very worried.", "Now!")
AGENT = ("I am sorry to hear that.", "Let me check your booking.", "I understand.")
GUIDELINES = (
    "Acknowledge the customer's feelings in one sentence first.",
    "Explain the relevant policy briefly and plainly.",
    "Offer the alternatives the policy allows: travel credit or one paid rebooking.",
    "Ask one clarifying question if the request is unclear.",
    "Give the exact figures and terms that apply.",
    "Keep the reply short and to the point.",
    "Never promise a full refund; hold the policy politely.",
)

REFUND = Persona("bench", "refund_restricted_ticket", "driver", "frustrated", True)
BAGGAGE = Persona("bench", "delayed_baggage_compensation", "driver", "frustrated", True)
_SCENARIO = TypeAdapter(Scenario)
_PROVENANCE = TypeAdapter(Provenance).dump_python(
    Provenance("bench", 1, "", Attempt((), "", Verdict(1, "")), ()), mode="json"
)


def synthetic_turns(rng: random.Random) -> tuple[Turn, ...]:
    flight = f"flight {rng.choice('ABCDEFG')}{rng.randint(100, 9999)} to {rng.choice(CITIES)}"
    return (
        Turn("customer", f"{rng.choice(TOPICS)} on {flight}. {rng.choice(MOODS)}"),
        Turn("agent", rng.choice(AGENT)),
        Turn("customer", f"{rng.choice(MOODS)} Booking {rng.randint(10**5, 10**6)}."),
    )


def build_playbook(path: Path, entries: int, seed: int = 7, first: int = 0) -> None:
    """`entries` approved entries embedded by the default embedder, inserted in batches (learning
    adds them one by one); `first` numbers them after those already there."""
    Store.open(path).close()  # creates the schema
    rng, embedder = random.Random(seed), StaticEmbedder.bundled()
    engine = sa.create_engine(f"sqlite:///{path}")
    for start in range(first, first + entries, INSERT_ROWS):
        rows = [
            entry_row(i, synthetic_turns(rng), rng.sample(GUIDELINES, rng.randint(2, 5)), embedder)
            for i in range(start, min(start + INSERT_ROWS, first + entries))
        ]
        with engine.begin() as conn:
            conn.execute(schema.entries.insert(), rows)
    engine.dispose()


def entry_row(
    i: int, turns: tuple[Turn, ...], guidance: list[str], embedder: StaticEmbedder
) -> dict[str, Any]:
    """The row `Store.add_entry` would write for this scenario and guidance."""
    scenario = Scenario(BAGGAGE if "suitcase" in turns[0].text else REFUND, turns)
    return {
        "run_id": "bench",
        "round": 1,
        "scenario": _SCENARIO.dump_python(scenario, mode="json"),
        "scenario_text": scenario.text(),
        "goal": scenario.persona.goal,
        "guidance": guidance,
        "provenance": _PROVENANCE,
        "embedding": embedder.vector(scenario.text()).astype("<f4").tobytes(),
        "embedding_model": embedder.id,
        "status": "approved",
        "content_key": hashlib.sha256(f"bench-{i}".encode()).hexdigest(),
        "created_at": datetime.now(UTC),
    }


def chat_body() -> dict[str, Any]:
    """A chat application's request: its own system prompt (role, policy) and a conversation."""
    domain = load_domain(example_domain("airline"))
    student = SimWorld(domain).model("student")
    roles = Roles(domain, student, student, student, student, prompt_environment())
    turns = synthetic_turns(random.Random(12345))
    messages = [{"role": m.role, "content": m.content} for m in roles.agent_messages(turns)]
    return {"model": "student", "messages": messages, "seed": 1}


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[bytes]
    base: str  # http://127.0.0.1:<port>
    ready_s: float  # from launch to the first answer of /healthz
    launched: float  # time.perf_counter() at launch

    def entries(self) -> int:
        return int(self.health()["entries"])

    def health(self) -> dict[str, Any]:
        found: dict[str, Any] = httpx.get(f"{self.base}/healthz").json()
        return found

    def wait_until_settled(self) -> float:
        """Seconds from launch until the playbook is searched the way its size calls for: a
        large one is searched exactly from the start, approximately once its index is trained."""
        while self.health()["search"] != "approximate":
            if time.perf_counter() - self.launched > READY_TIMEOUT_S:
                raise RuntimeError(f"not searched approximately within {READY_TIMEOUT_S} s")
            time.sleep(0.02)
        return round(time.perf_counter() - self.launched, 3)


@contextmanager
def serve_process(playbook: Path, upstream: str, *args: str) -> Iterator[Served]:
    """`playbook serve` in a child process, as a user runs it, once it answers."""
    port = free_port()
    command = ("serve", "--playbook", str(playbook), "--upstream", upstream, "--port", str(port))
    env = {**os.environ, "PLAYBOOK_API_KEYS": KEY}
    launched = time.perf_counter()
    process = subprocess.Popen(
        playbook_command(*command, *args),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        ready = wait_until_ready(f"{base}/healthz", process, READY_TIMEOUT_S)
        yield Served(process, base, ready, launched)
    finally:
        stop(process)


def timed(client: httpx.Client, url: str, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    response = client.post(f"{url}/chat/completions", json=body)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed


def latencies(paths: dict[str, str], requests: int) -> dict[str, list[float]]:
    """Milliseconds per request on each path (name: base URL), interleaved, with each path
    going first equally often."""
    body, names = chat_body(), list(paths)
    found: dict[str, list[float]] = {name: [] for name in names}
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as client:
        for _ in range(WARMUP):
            for name in names:
                timed(client, paths[name], body)
        for i in range(requests):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                found[name].append(timed(client, paths[name], body))
    return found


async def requests_per_second(url: str, requests: int, concurrency: int) -> float:
    body, left = chat_body(), requests
    headers = {"Authorization": f"Bearer {KEY}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                (await client.post(f"{url}/chat/completions", json=body)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.perf_counter() - started)


def throughput_ratio(
    direct: str, proxy: str, requests: int, concurrency: int
) -> tuple[float, float]:
    """(direct, proxy) requests per second: best of two alternating rounds each."""
    rates: dict[str, list[float]] = {"direct": [], "proxy": []}
    for _ in range(2):
        for name, url in (("direct", direct), ("proxy", proxy)):
            rates[name].append(asyncio.run(requests_per_second(url, requests, concurrency)))
    return max(rates["direct"]), max(rates["proxy"])


def summary(
    alone: list[float], through: list[float], rates: tuple[float, float]
) -> dict[str, float]:
    p = {
        name: {q: percentile(v, q) for q in (50, 99)} for name, v in (("d", alone), ("p", through))
    }
    return {
        "direct_p50_ms": round(p["d"][50], 3),
        "proxy_p50_ms": round(p["p"][50], 3),
        "added_p50_ms": round(p["p"][50] - p["d"][50], 3),
        "added_p99_ms": round(p["p"][99] - p["d"][99], 3),
        "ratio_p50": round(p["p"][50] / p["d"][50], 3),
        "throughput_ratio": round(rates[1] / rates[0], 3),
    }


def print_table(entries: int, result: dict[str, Any], found: dict[str, list[float]]) -> None:
    requests = len(found["direct"])
    print(f"chat completion latency, {entries} entries, {requests} requests per path (ms)")
    print(f"{'path':<11}{'p50':>9}{'p90':>9}{'p99':>9}")
    for name, values in found.items():
        print(f"{name:<11}" + "".join(f"{percentile(values, q):>9.2f}" for q in (50, 90, 99)))
    print(
        f"added p50 {result['added_p50_ms']:.2f} ms, p99 {result['added_p99_ms']:.2f} ms; "
        f"ratio p50 {result['ratio_p50']:.2f}; throughput ratio {result['throughput_ratio']:.2f}"
    )
    if "litellm_added_p50_ms" in result:
        print(
            f"LiteLLM (a second round, the three interleaved) added p50 "
            f"{result['litellm_added_p50_ms']:.2f} ms; playbook serve's "
            f"{result['added_p50_beside_litellm_ms']:.2f} ms, "
            f"{result['added_ratio_to_litellm']:.2f}x"
        )
    if "gate_added_p50_ms" in result:
        print(
            f"with the goal gate (a second round) added p50 {result['gate_added_p50_ms']:.2f} ms; "
            f"without, beside it {result['added_p50_beside_gate_ms']:.2f} ms"
        )
    if "litellm" in result and "litellm_added_p50_ms" not in result:
        print(f"LiteLLM not measured: {result['litellm']['skipped']}")


def gate_config(folder: Path, playbook: Path) -> Path:
    """A config whose domain has two goals (the goal gate on), retrieval as without a config."""
    path = folder / "gate.toml"
    models = "".join(f'[models.{role}]\nspec = "sim:{role}"\n' for role in ROLES)
    domain = example_domain("airline")
    path.write_text(f'domain = "{domain}"\nplaybook = "{playbook}"\n{models}')
    return path


def gate_figures(alone: list[float], through: list[float], gated: list[float]) -> dict[str, float]:
    """What the goal gate adds: the gated proxy's added p50 beside the ungated one's."""
    direct = percentile(alone, 50)
    return {
        "added_p50_beside_gate_ms": round(percentile(through, 50) - direct, 3),
        "gate_added_p50_ms": round(percentile(gated, 50) - direct, 3),
    }


def litellm_figures(
    alone: list[float], through: list[float], rival: list[float]
) -> dict[str, float]:
    """LiteLLM's added p50 beside ours, measured together, and ours as a share of it."""
    direct = percentile(alone, 50)
    ours, theirs = percentile(through, 50) - direct, percentile(rival, 50) - direct
    return {
        "added_p50_beside_litellm_ms": round(ours, 3),
        "litellm_p50_ms": round(percentile(rival, 50), 3),
        "litellm_added_p50_ms": round(theirs, 3),
        "added_ratio_to_litellm": round(ours / theirs, 3) if theirs > 0 else None,
    }


@contextmanager
def rival(wanted: bool, folder: Path, upstream: str) -> Iterator[LiteLLM | Unavailable | None]:
    """The LiteLLM proxy in front of `upstream` if `wanted`, or why it is not there."""
    if not wanted:
        yield None
        return
    command = installed()
    if isinstance(command, Unavailable):
        yield command
        return
    with litellm_server(command, folder, upstream, "student", KEY) as server:
        yield server if isinstance(server, Unavailable) else answering(server)


def answering(server: LiteLLM) -> LiteLLM | Unavailable:
    """The server if it answers a chat request through to the upstream, else why not."""
    headers = {"Authorization": f"Bearer {KEY}"}
    try:
        url = f"{server.base_url}/chat/completions"
        httpx.post(url, json=chat_body(), headers=headers, timeout=60).raise_for_status()
    except httpx.HTTPError as exc:
        return Unavailable(f"litellm did not answer a chat request: {exc}")
    return server


def run(
    entries: int,
    requests: int,
    concurrency: int = CONCURRENCY,
    litellm: bool = False,
    gate: bool = False,
) -> dict[str, Any]:
    """Measure and print the table; the figures, keyed as run_all.py reads them."""
    needed = entries * BYTES_PER_ENTRY
    if needed > available_bytes():
        progress(f"proxy: {entries} entries skipped, needs ~{needed / 1e9:.1f} GB of memory")
        return {"proxy": {f"entries_{entries}": {"skipped": f"needs ~{needed / 1e9:.1f} GB"}}}
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        playbook = Path(folder) / "playbook.db"
        started = time.perf_counter()
        build_playbook(playbook, entries)
        progress(f"built {entries} entries in {time.perf_counter() - started:.1f} s")
        upstream = stack.enter_context(sim_server())
        served = stack.enter_context(serve_process(playbook, upstream.base_url))
        if entries >= APPROXIMATE_FROM:
            progress(f"waiting for the approximate index ({served.wait_until_settled()} s)")
        paths = {"direct": upstream.base_url, "proxy": f"{served.base}/v1"}
        progress(f"serving {served.entries()} entries; measuring {', '.join(paths)}, interleaved")
        found = latencies(paths, requests)
        progress(f"measuring throughput, {concurrency} requests in flight")
        rates = throughput_ratio(upstream.base_url, paths["proxy"], requests, concurrency)
        result: dict[str, Any] = {
            **summary(found["direct"], found["proxy"], rates),
            "proxy_rps": round(rates[1], 1),
            "served_entries": served.entries(),
        }
        if gate:
            config = gate_config(Path(folder), playbook)
            gated = stack.enter_context(
                serve_process(playbook, upstream.base_url, "--config", str(config))
            )
            if entries >= APPROXIMATE_FROM:
                gated.wait_until_settled()
            progress("measuring direct, proxy and proxy with the goal gate, interleaved")
            three = latencies({**paths, "proxy_gate": f"{gated.base}/v1"}, requests)
            result.update(gate_figures(three["direct"], three["proxy"], three["proxy_gate"]))
            found |= {"proxy_gate": three["proxy_gate"]}
        other = stack.enter_context(rival(litellm, Path(folder), upstream.base_url))
        if isinstance(other, Unavailable):
            result["litellm"] = {"skipped": other.reason}
        elif isinstance(other, LiteLLM):
            progress("measuring direct, proxy and litellm, interleaved")
            three = latencies({**paths, "litellm": other.base_url}, requests)
            result.update(litellm_figures(three["direct"], three["proxy"], three["litellm"]))
            found |= {"litellm": three["litellm"]}
    print_table(entries, result, found)
    return {"proxy": {f"entries_{entries}": result}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument(
        "--litellm", action="store_true", help="the LiteLLM proxy too (installed once)"
    )
    parser.add_argument(
        "--gate", action="store_true", help="a proxy with two goals to tell apart too"
    )
    args = parser.parse_args()
    emit(run(args.entries, args.requests, args.concurrency, args.litellm, args.gate))


if __name__ == "__main__":
    main()
