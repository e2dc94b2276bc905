"""Framework overhead per call: CPU time llm-playbook spends around a model call, against a bare
`openai` SDK call to the same server, measured side by side in one process.

`playbook simulate` (no delay) runs in another process, so this process's CPU time
(time.process_time) is the client's alone. The same student request is sent, one call at a time,
in blocks that alternate between the variants (so drifts in machine load hit them alike):

- bare: `AsyncOpenAI.chat.completions.create` with the messages the student task would send,
  over the SDK's default transport (httpx; OpenAIChat sends through the SDK's aiohttp one);
- two floors for comparison: the SDK's generic `client.post(...)` (no request-type transform;
  the way OpenAIChat sends the same request, so the recorded variants can cost less than bare)
  and a plain `httpx` POST;
- recorded: the same request through the recorder (cache lookup, call log written to SQLite);
- role task: `Roles.student_reply`, i.e. also prompt rendering and output parsing;
- cache hit: the role task again for requests already answered (served from the call log).

Each call has its own seed, so no request repeats except in the cache-hit variant. The parts of
the overhead are then timed alone, without the network: cache key, cache lookup, call-log write,
prompt rendering.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import httpx
from common import emit, progress, settle, sim_server, write_config
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from playbook.chat.base import ChatRequest, Message
from playbook.config import load_config
from playbook.recorder import cache_key
from playbook.roles import Roles
from playbook.store.core import Store
from playbook.store.records import CallRecord
from playbook.types import Turn, Usage
from playbook.workspace import Workspace

BLOCKS = 6
BLOCK_CALLS = 50
TURNS = (
    Turn("customer", "My flight was cancelled by the storm and I want my money back, all of it."),
    Turn("agent", "I am sorry to hear that. Could you give me your booking reference?"),
    Turn("customer", "It is QX7Y2. The ticket says non-refundable but I still insist."),
)
GUIDANCE = (
    "Acknowledge the customer's frustration before anything else.",
    "Explain briefly that restricted fares are not refundable.",
    "Offer travel credit or one paid rebooking, which the policy allows.",
)

Call = Callable[[int], Awaitable[Any]]


async def cpu_per_call(
    variants: dict[str, Call], blocks: int, block_calls: int
) -> dict[str, float]:
    """Microseconds of this process's CPU per call, blocks of each variant taken in turn."""
    spent = dict.fromkeys(variants, 0.0)
    seed = 0
    for _ in range(blocks):
        for name, call in variants.items():
            started = time.process_time()
            for _ in range(block_calls):
                seed += 1
                await call(seed)
            spent[name] += time.process_time() - started
    return {name: cpu / (blocks * block_calls) * 1e6 for name, cpu in spent.items()}


def _wire(messages: tuple[Message, ...]) -> list[ChatCompletionMessageParam]:
    return [
        cast(ChatCompletionMessageParam, {"role": m.role, "content": m.content}) for m in messages
    ]


def network_variants(
    roles: Roles, client: AsyncOpenAI, http: httpx.AsyncClient
) -> tuple[dict[str, Call], list[int]]:
    """The variants; the role task's seeds are kept so the cache-hit variant can replay them."""
    messages = roles.agent_messages(TURNS, GUIDANCE)
    wire = _wire(messages)
    answered: list[int] = []

    async def bare(seed: int) -> Any:
        return await client.chat.completions.create(model="student", messages=wire, seed=seed)

    async def sdk_post(seed: int) -> Any:
        body = {"model": "student", "messages": wire, "seed": seed}
        return await client.post("/chat/completions", cast_to=ChatCompletion, body=body)

    async def raw_httpx(seed: int) -> Any:
        body = {"model": "student", "messages": wire, "seed": seed}
        return (await http.post("/chat/completions", json=body)).json()

    async def recorded(seed: int) -> Any:
        return await roles.student.complete(ChatRequest(messages, seed=seed))

    async def role_task(seed: int) -> Any:
        answered.append(seed)
        return await roles.student_reply(TURNS, GUIDANCE, seed)

    variants: dict[str, Call] = {
        "bare_sdk": bare,
        "sdk_post": sdk_post,
        "raw_httpx": raw_httpx,
        "recorded": recorded,
        "role_task": role_task,
    }
    return variants, answered


def component_costs(roles: Roles, store: Store, run_id: str, repeats: int) -> dict[str, float]:
    """Microseconds per call of each part of the overhead, timed without the network."""
    messages = roles.agent_messages(TURNS, GUIDANCE)
    request = ChatRequest(messages, seed=1)
    record = CallRecord(
        run_id, "student", "openai:student", "k", request, "ok", Usage(1, 1), 1, 0, False
    )

    def timed(work: Callable[[int], object]) -> float:
        started = time.process_time()
        for i in range(repeats):
            work(i)
        return (time.process_time() - started) / repeats * 1e6

    return {
        "render_prompt_us": timed(lambda i: roles.agent_messages(TURNS, GUIDANCE)),
        "cache_key_us": timed(lambda i: cache_key("openai:student", replace(request, seed=i))),
        "cache_lookup_us": timed(lambda i: store.cached_completion(f"missing-{i}")),
        "record_call_us": timed(lambda i: store.record_call(replace(record, cache_key=f"x{i}"))),
    }


async def run(blocks: int = BLOCKS, block_calls: int = BLOCK_CALLS) -> dict[str, Any]:
    with sim_server(0.0) as server, tempfile.TemporaryDirectory() as tmp:
        config = write_config(
            Path(tmp), base_url=server.base_url, persona_count=1, rounds=1, concurrency=1
        )
        workspace = Workspace.open(load_config(config))
        client = AsyncOpenAI(base_url=server.base_url, api_key="not-needed", max_retries=0)
        http = httpx.AsyncClient(base_url=server.base_url)
        try:
            run_id = workspace.store.start_run("learn", {}, workspace.models())
            roles = workspace.roles(workspace.recorder(run_id))
            variants, answered = network_variants(roles, client, http)
            await cpu_per_call(variants, 1, 5)  # warm up: imports, connections, caches
            progress(f"overhead: {blocks * block_calls} calls per variant, blocks alternating")
            costs = await cpu_per_call(variants, blocks, block_calls)
            replay = iter(list(answered))

            async def cache_hit(_: int) -> Any:
                return await roles.student_reply(TURNS, GUIDANCE, next(replay))

            hits = await cpu_per_call({"cache_hit": cache_hit}, blocks, block_calls)
            parts = component_costs(roles, workspace.store, run_id, blocks * block_calls)
        finally:
            await http.aclose()
            await client.close()
            await workspace.aclose()
        await settle()
    return _figures(costs | hits, parts)


def _figures(costs: dict[str, float], parts: dict[str, float]) -> dict[str, Any]:
    bare = costs["bare_sdk"]
    return {
        **{f"{name}_us_per_call": round(us, 1) for name, us in costs.items()},
        "overhead_us_per_call": round(costs["role_task"] - bare, 1),
        "ratio_to_bare": round(costs["role_task"] / bare, 3),
        "recorder_ratio_to_bare": round(costs["recorded"] / bare, 3),
        "cache_hit_ratio_to_bare": round(costs["cache_hit"] / bare, 3),
        "parts": {name: round(us, 1) for name, us in parts.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=BLOCKS)
    parser.add_argument("--block-calls", type=int, default=BLOCK_CALLS)
    args = parser.parse_args()
    emit(asyncio.run(run(args.blocks, args.block_calls)))


if __name__ == "__main__":
    main()
