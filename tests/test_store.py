"""The playbook store on real SQLite files and a real PostgreSQL server: schema, refusal of
foreign files and databases, entries, reviews."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from playbook.chat.base import ChatRequest, Message
from playbook.store.core import Store, StoreError
from playbook.store.migrations import schema
from playbook.store.records import CallRecord
from playbook.types import Attempt, Entry, Persona, Provenance, Scenario, Turn, Usage, Verdict

PERSONA = Persona("refund-analytical-calm-1", "refund", "analytical", "calm", demanding=True)


def make_entry(
    text: str, guidance: tuple[str, ...] = ("Acknowledge the delay.",), run_id: str = "r1"
) -> Entry:
    scenario = Scenario(PERSONA, (Turn("customer", text),))
    provenance = Provenance(
        run_id=run_id,
        round=2,
        reference="I am sorry about the delay; here is what I can do.",
        baseline=Attempt((), "No.", Verdict(1, "Curt and unhelpful.")),
        attempts=(Attempt(guidance, "Sorry for the delay...", Verdict(4, "Warm and clear.")),),
        models={"student": "sim:student", "teacher": "sim:teacher"},
    )
    return Entry(id=None, scenario=scenario, guidance=guidance, provenance=provenance)


def vector(*values: float) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def call(run_id: str, key: str = "k1", **changes: Any) -> CallRecord:
    request = ChatRequest((Message("user", "hello"),), temperature=0.0, seed=3)
    record = CallRecord(
        run_id, "teacher", "sim:teacher", key, request, "hi", Usage(10, 2), 5.0, 0.5, cached=False
    )
    return replace(record, **changes)


@pytest.fixture
def store(playbook_location: Path | str) -> Iterator[Store]:
    with Store.open(playbook_location) as opened:
        yield opened


def test_open_creates_folder_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "playbook.db"
    Store.open(path).close()
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert {"runs", "calls", "entries", "reviews", "failures", "alembic_version"} <= tables
    assert mode == "wal"


def test_schema_mirror_matches_what_the_migrations_build(tmp_path: Path) -> None:
    path = tmp_path / "playbook.db"
    Store.open(path).close()
    with sqlite3.connect(path) as conn:
        for table in schema.metadata.sorted_tables:
            built = [row[1] for row in conn.execute(f"PRAGMA table_info({table.name})")]
            assert built == [column.name for column in table.columns], table.name


def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "playbook.db"
    with Store.open(path) as store:
        run_id = store.start_run("learn", {"rounds": 3}, {"student": "sim:student"})
        entry_id = store.add_entry(make_entry("Where is my refund?"), vector(1, 0), "m")
    with Store.open(path) as store:
        assert store.run(run_id).config == {"rounds": 3}
        assert store.entry(entry_id).scenario.turns[0].text == "Where is my refund?"


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(os.urandom(4096))
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"notes\.db: not a SQLite database"):
        Store.open(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_a_foreign_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers (name) VALUES ('Ada')")
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"other\.db: a SQLite database of another program"):
        Store.open(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_a_schema_version_from_the_future_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "playbook.db"
    Store.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="schema version '9999' is unknown"):
        Store.open(path)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder"):
        Store.open(tmp_path)


def test_runs_start_and_finish(store: Store) -> None:
    first = store.start_run("learn", {"playbook": Path("p.db")}, {"teacher": "sim:teacher"})
    second = store.start_run("eval", {}, {})
    store.finish_run(first, "finished", {"entries": 12})
    run = store.run(first)
    assert (run.kind, run.status, run.summary) == ("learn", "finished", {"entries": 12})
    assert run.config == {"playbook": "p.db"}
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert [r.id for r in store.runs()] == [first, second]
    assert store.run(second).status == "running"


def test_unknown_runs_and_values_are_reported(store: Store) -> None:
    with pytest.raises(StoreError, match="no run nope in"):
        store.run("nope")
    with pytest.raises(StoreError, match="no run nope"):
        store.record_call(call("nope"))
    with pytest.raises(StoreError, match="run kind 'train' is not one of learn, eval"):
        store.start_run("train", {}, {})


def test_entries_round_trip_with_provenance(store: Store) -> None:
    entry = make_entry("My flight was cancelled.", ("Say sorry first.", "Offer a voucher."))
    entry_id = store.add_entry(entry, vector(0.6, 0.8), "hash-tfidf-v1-2")
    loaded = store.entry(entry_id)
    assert loaded == Entry(entry_id, entry.scenario, entry.guidance, entry.provenance, "proposed")
    assert loaded.provenance.attempts[0].verdict.word == "very good"


def test_adding_the_same_entry_twice_is_a_no_op(store: Store) -> None:
    entry = make_entry("Where is my refund?")
    first = store.add_entry(entry, vector(1, 0), "m")
    again = store.add_entry(entry, vector(0, 1), "m")
    other = store.add_entry(
        make_entry("Where is my refund?", ("Explain the timeline.",)), vector(1, 0), "m"
    )
    assert again == first and other != first
    assert len(store.entries()) == 2
    assert len(store.reviews(first)) == 1


def test_missing_entry_names_the_playbook(store: Store) -> None:
    with pytest.raises(StoreError, match=f"no entry 42 in {store.path}"):
        store.entry(42)
    with pytest.raises(StoreError, match="no entry 42"):
        store.set_status(42, "approved", "ann")


def test_review_history_and_status_filters(store: Store) -> None:
    a = store.add_entry(make_entry("a", run_id="r1"), vector(1, 0), "m")
    b = store.add_entry(make_entry("b", run_id="r2"), vector(0, 1), "m")
    store.set_status(a, "approved", "ann", "clear and on policy")
    store.set_status(b, "rejected", "bob", "promises a refund")
    store.set_status(b, "approved", "ann")
    assert [e.id for e in store.entries(statuses=["approved"])] == [a, b]
    store.set_status(a, "rejected", "carl", "outdated")
    assert [e.id for e in store.entries(statuses=["approved"])] == [b]
    assert [e.id for e in store.entries(run_id="r1")] == [a]
    assert [e.id for e in store.entries(statuses=["proposed"])] == []
    history = [(r.status, r.reviewer, r.reason) for r in store.reviews(b)]
    assert history == [
        ("proposed", "learner", ""),
        ("rejected", "bob", "promises a refund"),
        ("approved", "ann", ""),
    ]
    with pytest.raises(StoreError, match="entry status 'ok' is not one of"):
        store.set_status(a, "ok", "ann")


def test_entry_vectors_are_one_matrix_per_embedding_model(store: Store) -> None:
    a = store.add_entry(make_entry("a"), vector(1, 0, 0), "hash")
    store.add_entry(make_entry("b"), vector(0, 1), "openai:small")
    c = store.add_entry(make_entry("c"), vector(0, 0.6, 0.8), "hash")
    store.set_status(c, "approved", "ann")
    entries, matrix = store.entry_vectors("hash")
    assert [e.id for e in entries] == [a, c]
    assert matrix.dtype == np.float32 and matrix.shape == (2, 3)
    np.testing.assert_allclose(matrix, [[1, 0, 0], [0, 0.6, 0.8]], rtol=1e-6)
    approved, approved_matrix = store.entry_vectors("hash", statuses=["approved"])
    assert [e.id for e in approved] == [c] and approved_matrix.shape == (1, 3)
    none, empty = store.entry_vectors("minilm:all-MiniLM-L6-v2")
    assert none == [] and empty.shape[0] == 0


def test_cached_completion_is_the_latest_successful_call(store: Store) -> None:
    run_id = store.start_run("learn", {}, {})
    assert store.cached_completion("k1") is None
    store.record_call(call(run_id, output="first", usage=Usage(7, 1)))
    store.record_call(call(run_id, output="second", usage=Usage(8, 2)))
    store.record_call(call(run_id, output="", error="timeout"))
    cached = store.cached_completion("k1")
    assert cached is not None
    assert (cached.text, cached.usage, cached.cached) == ("second", Usage(8, 2), True)
    assert [c.output for c in store.calls(run_id)] == ["first", "second", ""]
    assert store.calls(run_id)[0].request == call(run_id).request


def test_an_answers_extras_come_back_and_none_is_sql_null(store: Store) -> None:
    """The call log binds each row to one statement built once; `extras` must still be SQL NULL
    when an answer has none (not the JSON text null), and come back when it has some."""
    run_id = store.start_run("learn", {}, {})
    store.record_call(call(run_id, key="plain"))
    store.record_call(call(run_id, key="cut", extras={"finish_reason": "length"}))
    cut = store.cached_completion("cut")
    assert cut is not None and cut.finish_reason == "length"
    with store._engine.connect() as conn:
        query = sa.text("SELECT cache_key FROM calls WHERE extras IS NULL")
        assert [row[0] for row in conn.execute(query)] == ["plain"]


def test_call_stats_per_role_and_run(store: Store) -> None:
    first = store.start_run("learn", {}, {})
    second = store.start_run("eval", {}, {})
    store.record_call(call(first, usage=Usage(10, 2), cost=0.5, latency_ms=4.0))
    store.record_call(call(first, usage=Usage(10, 2), cost=0.0, latency_ms=1.0, cached=True))
    store.record_call(call(first, key="k2", output="", usage=Usage(), cost=0.0, error="boom"))
    store.record_call(call(second, role="judge", usage=Usage(3, 1), cost=0.25))
    stats = store.call_stats(first)
    assert set(stats) == {"teacher"}
    teacher = stats["teacher"]
    assert (teacher.calls, teacher.cached, teacher.errors) == (3, 1, 1)
    assert (teacher.input_tokens, teacher.output_tokens) == (10, 2)  # cache hits are free
    assert teacher.cost == pytest.approx(0.5) and teacher.latency_ms == pytest.approx(10.0)
    assert set(store.call_stats()) == {"teacher", "judge"}


def test_failures_are_recorded_per_run(store: Store) -> None:
    run_id = store.start_run("learn", {}, {})
    store.record_failure(
        run_id, "teacher", "sim:teacher", "guideline breaks policy", "Customer: hi"
    )
    [failure] = store.failures(run_id)
    assert (failure.role, failure.reason, failure.scenario_text) == (
        "teacher",
        "guideline breaks policy",
        "Customer: hi",
    )
    assert store.failures("other") == []


def test_writes_from_many_threads_all_land(store: Store) -> None:
    run_id = store.start_run("learn", {}, {})

    def work(worker: int) -> None:
        for i in range(20):
            store.add_entry(make_entry(f"worker {worker} item {i}"), vector(1, 0), "m")
            store.record_call(call(run_id, key=f"{worker}-{i}"))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.entries()) == 120
    assert store.call_stats(run_id)["teacher"].calls == 120


def test_postgres_schema_matches_the_mirror_with_jsonb_and_unlimited_text(
    postgres_url: str,
) -> None:
    Store.open(postgres_url).close()
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        inspector = sa.inspect(engine)
        for table in schema.metadata.sorted_tables:
            built = inspector.get_columns(table.name)
            assert [c["name"] for c in built] == [c.name for c in table.columns], table.name
            for column in built:
                assert not isinstance(column["type"], sa.JSON) or str(column["type"]) == "JSONB"
                assert getattr(column["type"], "length", None) is None, (table.name, column)
    finally:
        engine.dispose()


def test_a_postgres_database_of_another_program_is_refused_untouched(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int)")
    with pytest.raises(StoreError, match="another program"):
        Store.open(postgres_url)
    with psycopg.connect(postgres_url) as conn:
        tables = [
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
    assert tables == ["customers"]


def test_a_postgres_schema_version_from_the_future_is_refused(postgres_url: str) -> None:
    import psycopg

    Store.open(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="unknown to this llm-playbook"):
        Store.open(postgres_url)


def test_an_unreachable_server_and_a_wrong_scheme_are_one_line_each(postgres_url: str) -> None:
    from playbook.pgtest import free_port

    url = f"postgresql://someone:s3cret@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(StoreError, match="cannot connect") as failed:
        Store.open(url)
    assert "s3cret" not in str(failed.value) and "\n" not in str(failed.value)
    with pytest.raises(StoreError, match="not a mysql:// URL"):
        Store.open("mysql://localhost/playbook")


def test_two_stores_on_one_postgres_database_see_each_others_writes(postgres_url: str) -> None:
    with Store.open(postgres_url) as one, Store.open(postgres_url) as two:
        entry_id = one.add_entry(make_entry("Where is my refund?"), vector(1, 0), "m")
        two.set_status(entry_id, "approved", "alice")
        assert [e.status for e in one.entries()] == ["approved"]
        assert one.playbook_version() == two.playbook_version() != (0, 0, 0)


def test_an_empty_postgres_database_is_not_a_playbook_to_read(postgres_url: str) -> None:
    from typer.testing import CliRunner

    from playbook.cli.main import app as cli

    with pytest.raises(StoreError, match="holds no playbook yet"):
        Store.open(postgres_url, create=False)
    listed = CliRunner().invoke(cli, ["entries", "list", "--playbook", postgres_url])
    assert listed.exit_code == 2 and "holds no playbook yet" in listed.output
    Store.open(postgres_url).close()  # a command that writes makes one
    with Store.open(postgres_url, create=False) as opened:
        assert opened.entries() == []


def test_two_reviewers_saving_one_entry_at_once_on_postgres_get_one_conflict(
    postgres_url: str,
) -> None:
    from playbook.store.reviews import ReviewConflict

    with Store.open(postgres_url) as one, Store.open(postgres_url) as two:
        for round_number in range(5):
            entry_id = one.add_entry(make_entry(f"Refund {round_number}?"), vector(1, 0), "m")
            start = threading.Barrier(2)
            outcomes: list[str] = []

            def save(
                store: Store,
                text: str,
                entry: int = entry_id,
                start: threading.Barrier = start,
                outcomes: list[str] = outcomes,
            ) -> None:
                start.wait()
                try:
                    store.edit_guidance(entry, [text], "someone", base_version=1)
                    outcomes.append("saved")
                except ReviewConflict:
                    outcomes.append("conflict")
                except Exception as exc:  # what a reviewer must never get
                    outcomes.append(repr(exc))

            threads = [
                threading.Thread(target=save, args=(one, "First.")),
                threading.Thread(target=save, args=(two, "Second.")),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert sorted(outcomes) == ["conflict", "saved"]
            assert [v.version for v in one.versions(entry_id)] == [1, 2]


def test_replicas_opening_a_new_postgres_database_together_migrate_it_once(
    postgres_url: str,
) -> None:
    # Replicas take an advisory lock while they migrate. Honest note: this test also passed
    # here with that lock removed (the race did not happen in 4 tries); it guards the outcome a
    # user sees, not the lock itself.
    errors: list[str] = []
    start = threading.Barrier(4)

    def open_it() -> None:
        start.wait()
        try:
            Store.open(postgres_url).close()
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with Store.open(postgres_url) as store:
        assert store.entries() == [] and store.runs() == []
