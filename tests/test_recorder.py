"""The recorder: every call logged, repeats served from the cache, costs priced, budgets kept."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from playbook.chat.base import ChatRequest, Completion, InProcess, Message, ModelError
from playbook.config import RoleBudget
from playbook.recorder import (
    NOT_KEYED,
    Budget,
    BudgetExceeded,
    Prices,
    Recorder,
    cache_key,
)
from playbook.store.core import Store
from playbook.testing import FunctionChat, ScriptedChat
from playbook.types import Usage


def ask(text: str, seed: int | None = None) -> ChatRequest:
    return ChatRequest((Message("system", "You are a teacher."), Message("user", text)), seed=seed)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "playbook.db") as opened:
        yield opened


@pytest.fixture
def run_id(store: Store) -> str:
    return store.start_run("learn", {}, {"teacher": "test:function"})


async def test_a_repeated_request_is_served_from_the_cache(store: Store, run_id: str) -> None:
    model = FunctionChat(lambda request: f"answer to {request.messages[-1].content}")
    teacher = Recorder(store, run_id).bind("teacher", model)
    first = await teacher.complete(ask("why?"))
    second = await teacher.complete(ask("why?"))
    assert teacher.name == model.name
    assert len(model.requests) == 1
    assert (first.text, first.cached) == ("answer to why?", False)
    assert (second.text, second.usage, second.cached) == (first.text, first.usage, True)
    calls = store.calls(run_id)
    assert [(c.cached, c.cost) for c in calls] == [(False, 0.0), (True, 0.0)]
    assert calls[0].cache_key == calls[1].cache_key


async def test_the_cache_survives_reopening_and_spans_runs(tmp_path: Path) -> None:
    path = tmp_path / "playbook.db"
    with Store.open(path) as store:
        run_id = store.start_run("learn", {}, {})
        await Recorder(store, run_id).bind("judge", ScriptedChat(["good"])).complete(ask("rate"))
    with Store.open(path) as store:
        resumed = store.start_run("learn", {}, {})
        model = ScriptedChat([])
        completion = await Recorder(store, resumed).bind("judge", model).complete(ask("rate"))
    assert completion.text == "good" and model.requests == []


class CutShort(InProcess):
    """A model whose every reply ran into max_tokens."""

    _name = "test:cut-short"

    async def complete(self, request: ChatRequest) -> Completion:
        return Completion("I can offer you a", Usage(5, 4), finish_reason="length")


async def test_an_answer_comes_back_from_the_log_whole(tmp_path: Path) -> None:
    path = tmp_path / "playbook.db"
    with Store.open(path) as store:
        run_id = store.start_run("learn", {}, {})
        paid = await Recorder(store, run_id).bind("student", CutShort()).complete(ask("refund?"))
    with Store.open(path) as store:
        replayed = (
            await Recorder(store, run_id).bind("student", CutShort()).complete(ask("refund?"))
        )
    assert replayed.cached and replace(replayed, cached=False) == paid
    assert replayed.finish_reason == "length"


async def test_other_parameters_or_models_are_not_cache_hits(store: Store, run_id: str) -> None:
    recorder = Recorder(store, run_id)
    model = ScriptedChat(["a", "b", "c"], name="test:one")
    teacher = recorder.bind("teacher", model)
    await teacher.complete(ask("why?", seed=1))
    await teacher.complete(ask("why?", seed=2))
    other = ScriptedChat(["d"], name="test:two")
    assert (await recorder.bind("teacher", other).complete(ask("why?", seed=1))).text == "d"
    assert (await teacher.complete(ask("why not?", seed=1))).text == "c"
    model.assert_all_used()


async def test_costs_and_latency_are_recorded(store: Store, run_id: str) -> None:
    ticks = iter([10.0, 10.25])
    prices = {"teacher": Prices(input_per_million=2.0, output_per_million=10.0)}
    recorder = Recorder(store, run_id, prices=prices, clock=lambda: next(ticks))
    # FunctionChat counts whitespace tokens: 4 + 2 words in, 3 words out.
    await recorder.bind("teacher", FunctionChat(lambda _: "one two three")).complete(ask("a b"))
    [logged] = store.calls(run_id)
    assert (logged.usage.input_tokens, logged.usage.output_tokens) == (6, 3)
    assert logged.cost == pytest.approx((6 * 2.0 + 3 * 10.0) / 1_000_000)
    assert logged.latency_ms == pytest.approx(250.0)
    assert store.call_stats(run_id)["teacher"].cost == pytest.approx(logged.cost)


async def test_a_failing_call_is_logged_and_raised_again(store: Store, run_id: str) -> None:
    outcomes = iter([ModelError("sim:teacher at http://x: the server answered 500"), "fine"])

    def flaky(_: ChatRequest) -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    model = FunctionChat(flaky)
    teacher = Recorder(store, run_id).bind("teacher", model)
    with pytest.raises(ModelError, match="answered 500"):
        await teacher.complete(ask("why?"))
    assert (await teacher.complete(ask("why?"))).text == "fine"  # errors are never cached
    assert len(model.requests) == 2
    failed, succeeded = store.calls(run_id)
    assert failed.error == "sim:teacher at http://x: the server answered 500"
    assert failed.output == "" and succeeded.error is None
    assert store.call_stats(run_id)["teacher"].errors == 1


async def test_the_budget_stops_a_role_at_its_limit(store: Store, run_id: str) -> None:
    budget = Budget({"teacher": RoleBudget(calls=2)})
    model = FunctionChat(lambda request: request.messages[-1].content.upper())
    recorder = Recorder(store, run_id, budget=budget)
    teacher = recorder.bind("teacher", model)
    await teacher.complete(ask("one"))
    await teacher.complete(ask("two"))
    with pytest.raises(BudgetExceeded) as raised:
        await teacher.complete(ask("three"))
    assert str(raised.value) == (
        "budget for the teacher reached: 2 calls; raise [budget.teacher] calls or resume later"
    )
    assert (raised.value.role, raised.value.kind, raised.value.limit) == ("teacher", "calls", 2)
    assert len(model.requests) == 2
    # Cached answers cost nothing, so they are still served; other roles have no limit.
    assert (await teacher.complete(ask("one"))).text == "ONE"
    judge = recorder.bind("judge", FunctionChat(lambda _: "ok"))
    assert (await judge.complete(ask("rate"))).text == "ok"


async def test_cache_hits_do_not_spend_the_budget(store: Store, run_id: str) -> None:
    budget = Budget({"teacher": RoleBudget(calls=2)})
    teacher = Recorder(store, run_id, budget=budget).bind("teacher", FunctionChat(lambda _: "x"))
    for _ in range(5):
        await teacher.complete(ask("same"))
    await teacher.complete(ask("different"))  # the second real call is still within budget
    with pytest.raises(BudgetExceeded):
        await teacher.complete(ask("third"))


async def test_token_budget(store: Store, run_id: str) -> None:
    budget = Budget({"judge": RoleBudget(tokens=10)})
    model = FunctionChat(lambda _: "a b c d")
    judge = Recorder(store, run_id, budget=budget).bind("judge", model)
    await judge.complete(ask("first question"))  # 4 + 2 words in, 4 out: 10 tokens
    with pytest.raises(BudgetExceeded) as raised:
        await judge.complete(ask("second question"))
    assert "budget for the judge reached: 10 tokens; raise [budget.judge] tokens" in str(
        raised.value
    )
    assert len(model.requests) == 1


async def test_identical_requests_in_flight_at_once_are_paid_for_once(tmp_path: Path) -> None:
    async def slow(request: ChatRequest) -> str:
        await asyncio.sleep(0.05)
        return "the answer"

    model = FunctionChat(slow, "test:slow")
    with Store.open(tmp_path / "p.db") as store:
        recorder = Recorder(store, store.start_run("learn", {}, {}))
        bound = recorder.bind("judge", model)
        request = ChatRequest((Message("user", "same question"),))
        answers = await asyncio.gather(*(bound.complete(request) for _ in range(3)))
        assert [a.text for a in answers] == ["the answer"] * 3
        assert len(model.requests) == 1
        stats = store.call_stats(recorder.run_id)["judge"]
        assert (stats.calls, stats.cached) == (3, 2)


async def test_calls_in_flight_at_once_cannot_overshoot_the_call_budget(tmp_path: Path) -> None:
    async def slow(request: ChatRequest) -> str:
        await asyncio.sleep(0.02)
        return "ok"

    model = FunctionChat(slow, "test:slow")
    with Store.open(tmp_path / "p.db") as store:
        budget = Budget({"judge": RoleBudget(calls=2)})
        recorder = Recorder(store, store.start_run("learn", {}, {}), budget)
        bound = recorder.bind("judge", model)
        requests = [ChatRequest((Message("user", f"question {i}"),)) for i in range(6)]
        results = await asyncio.gather(
            *(bound.complete(r) for r in requests), return_exceptions=True
        )
        assert len(model.requests) == 2
        assert sum(isinstance(r, BudgetExceeded) for r in results) == 4


async def test_the_same_spec_at_another_endpoint_is_not_answered_from_the_log(
    tmp_path: Path,
) -> None:
    from openai import AsyncOpenAI

    from playbook.chat.openai_backend import OpenAIChat

    def chat(url: str) -> OpenAIChat:
        return OpenAIChat("m", AsyncOpenAI(base_url=url, api_key="x"), name="openai:m")

    request = ChatRequest((Message("user", "hello"),))
    first, second = chat("http://127.0.0.1:1/v1"), chat("http://127.0.0.1:2/v1")
    assert first.name == second.name
    assert cache_key(first.identity, request) != cache_key(second.identity, request)


def test_every_field_of_a_request_but_the_idempotency_key_is_part_of_its_cache_key() -> None:
    """A field added to ChatRequest keys the cache by itself; only the listed ones do not."""
    import dataclasses

    request = ask("hello", seed=1)
    changed = {
        "messages": (Message("user", "bye"),),
        "temperature": 0.5,
        "max_tokens": 7,
        "seed": 2,
        "idempotency_key": "playbook-x",
    }
    assert set(changed) == {f.name for f in dataclasses.fields(ChatRequest)}
    for name, value in changed.items():
        other = dataclasses.replace(request, **{name: value})
        same = cache_key("m", other) == cache_key("m", request)
        assert same == (name in NOT_KEYED), name
    # Keys written before the exclusion list (measured on the old code) are unchanged: old
    # playbooks keep their call cache.
    assert cache_key("m", ChatRequest((Message("user", "hi"),))) == (
        "db251e6d761a90cfd39ee8e0930f579e31ce415bc2901187e28a5b235385354f"
    )


async def test_a_paid_call_is_written_down_before_it_is_sent_and_settled_by_its_answer(
    store: Store, run_id: str
) -> None:
    """The bug: a call was recorded only once answered, so a resume could not know what an
    interrupted process had in flight (and paid for it again)."""
    seen_in_flight: list[list[str]] = []

    def answer(request: ChatRequest) -> str:
        seen_in_flight.append([c.idempotency_key for c in store.calls_in_flight(run_id)])
        return "ok"

    await Recorder(store, run_id).bind("teacher", FunctionChat(answer)).complete(ask("why?"))
    key = cache_key("test:function", ask("why?"))
    assert seen_in_flight == [[f"playbook-{key}"]]
    assert store.calls_in_flight(run_id) == []


async def test_a_resumed_run_starts_its_budget_from_what_the_run_spent(
    store: Store, run_id: str
) -> None:
    """The bug: budgets reset with each process ([budget.teacher] calls = 150 paid 150, then
    300, then 366 across two resumes)."""
    first = Recorder(store, run_id).bind("teacher", FunctionChat(lambda _: "x"))
    await first.complete(ask("one"))
    store.call_sent(run_id, "teacher", "test:function", "k-in-flight", "playbook-k-in-flight")
    # The process dies here with one call in flight; another resumes the run.
    spent = store.spent(run_id)
    assert spent["teacher"].calls == 2
    in_flight = [c.cache_key for c in store.calls_in_flight(run_id)]
    budget = Budget({"teacher": RoleBudget(calls=3)}, spent, in_flight)
    budget.take_call("teacher", "k-in-flight")  # counted already: sent again for free
    budget.take_call("teacher", "another")
    with pytest.raises(BudgetExceeded):
        budget.take_call("teacher", "a third")
