"""A playbook for teams: what serving from PostgreSQL costs against a SQLite file, and what
serving replicas add, measured side by side in one run.

A 10,000-entry playbook is written to a SQLite file and copied (`playbook db copy`'s code) to a
throwaway PostgreSQL server on this machine. Then, in front of one loopback upstream (the
simulated student, its own process):

- latency: one `playbook serve` on the file and one on the database, with requests sent to the
  upstream directly and through each proxy, interleaved; the added latency (proxy p50 minus
  direct p50) on PostgreSQL over the one on SQLite;
- throughput: requests per second with CONCURRENCY requests in flight through one replica on
  the database, then spread over three replicas on the same database; 3 over 1.

Every replica runs on this one machine (2 shared cores here), beside the upstream, PostgreSQL
and the client: the replica ratio says what a replica costs and whether one database keeps up,
not what replicas on their own hosts would gain.

    .venv/bin/python bench/bench_teams.py [--entries 10000] [--requests 300] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from bench_proxy import KEY, WARMUP, build_playbook, chat_body, serve_process, timed
from common import emit, percentile, progress, sim_server

from playbook.pgtest import TemporaryPostgres
from playbook.store.copy import copy_playbook
from playbook.store.core import Store

CONCURRENCY = 8
REPLICAS = 3


def latencies(direct: str, proxies: dict[str, str], requests: int) -> dict[str, list[float]]:
    """Milliseconds per request on each path, interleaved, the order rotating every request."""
    body = chat_body()
    urls = {"direct": direct, **proxies}
    times: dict[str, list[float]] = {name: [] for name in urls}
    names = list(urls)
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as client:
        for _ in range(WARMUP):
            for url in urls.values():
                timed(client, url, body)
        for i in range(requests):
            order = names[i % len(names) :] + names[: i % len(names)]
            for name in order:
                times[name].append(timed(client, urls[name], body))
    return times


async def requests_per_second(urls: list[str], requests: int, concurrency: int) -> float:
    """Requests per second with `concurrency` in flight, spread round-robin over `urls`."""
    body, left = chat_body(), requests
    targets = itertools.cycle(urls)
    headers = {"Authorization": f"Bearer {KEY}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                url = next(targets)
                (await client.post(f"{url}/chat/completions", json=body)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.perf_counter() - started)


def best_rates(
    one: list[str], many: list[str], requests: int, concurrency: int
) -> tuple[float, float]:
    """(one replica, several) requests per second: best of two alternating rounds each."""
    rates: dict[str, list[float]] = {"one": [], "many": []}
    for _ in range(2):
        for name, urls in (("one", one), ("many", many)):
            rates[name].append(asyncio.run(requests_per_second(urls, requests, concurrency)))
    return max(rates["one"]), max(rates["many"])


def run(
    entries: int = 10_000,
    requests: int = 300,
    concurrency: int = CONCURRENCY,
    throughput_requests: int = 600,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder, TemporaryPostgres() as postgres:
        file = Path(folder) / "playbook.db"
        build_playbook(file, entries)
        url = postgres.new_database()
        started = time.perf_counter()
        with Store.open(file) as source, Store.open(url) as target:
            copy_playbook(source, target)
        copy_s = time.perf_counter() - started
        progress(f"teams: {entries} entries written, copied to PostgreSQL in {copy_s:.1f} s")
        with ExitStack() as stack:
            upstream = stack.enter_context(sim_server()).base_url
            on_file = stack.enter_context(serve_process(file, upstream))
            replicas = [
                stack.enter_context(serve_process(url, upstream))  # type: ignore[arg-type]
                for _ in range(REPLICAS)
            ]
            assert on_file.entries() == replicas[0].entries() == entries
            progress("teams: latency, direct / SQLite / PostgreSQL, interleaved")
            proxies = {"sqlite": f"{on_file.base}/v1", "postgresql": f"{replicas[0].base}/v1"}
            times = latencies(upstream, proxies, requests)
            progress(f"teams: throughput, 1 vs {REPLICAS} replicas, {concurrency} in flight")
            urls = [f"{r.base}/v1" for r in replicas]
            one, many = best_rates(urls[:1], urls, throughput_requests, concurrency)
    p50 = {name: percentile(values, 50) for name, values in times.items()}
    p99 = {name: percentile(values, 99) for name, values in times.items()}
    added = {name: p50[name] - p50["direct"] for name in ("sqlite", "postgresql")}
    result = {
        "entries": entries,
        "copy_s": round(copy_s, 2),
        "direct_p50_ms": round(p50["direct"], 3),
        "sqlite_added_p50_ms": round(added["sqlite"], 3),
        "postgresql_added_p50_ms": round(added["postgresql"], 3),
        "postgresql_added_p99_ms": round(p99["postgresql"] - p99["direct"], 3),
        "sqlite_added_p99_ms": round(p99["sqlite"] - p99["direct"], 3),
        "added_ratio_postgresql_to_sqlite": round(added["postgresql"] / added["sqlite"], 3)
        if added["sqlite"] > 0
        else None,
        "p50_ratio_postgresql_to_sqlite": round(p50["postgresql"] / p50["sqlite"], 3),
        "rps_1_replica": round(one, 1),
        f"rps_{REPLICAS}_replicas": round(many, 1),
        f"rps_ratio_{REPLICAS}_to_1": round(many / one, 3),
    }
    print(
        f"{entries} entries: added p50 SQLite {added['sqlite']:.2f} ms, PostgreSQL "
        f"{added['postgresql']:.2f} ms; {one:.0f} req/s on 1 replica, {many:.0f} on {REPLICAS}"
    )
    return {"teams": result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--throughput-requests", type=int, default=600)
    args = parser.parse_args()
    emit(run(args.entries, args.requests, args.concurrency, args.throughput_requests))


if __name__ == "__main__":
    main()
