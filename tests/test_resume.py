"""A learn run killed with SIGKILL at any point and resumed ends with the same playbook as an
uninterrupted run, and pays for no call twice; on a SQLite file and on a PostgreSQL database
(named by PLAYBOOK_DATABASE_URL, as a team would)."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from playbook.domain import load_domain
from playbook.sim.models import SimWorld
from playbook.sim.server import PaidCalls, create_openai_app
from playbook.testing import serve_app
from playbook.workspace import example_domain

PLAYBOOK = str(Path(sys.executable).with_name("playbook"))
# Only stops a hung run from hanging the suite: a whole learn over HTTP took over 300 s on a
# loaded 2-core machine.
HANG = 1200
MakeConfig = Callable[..., Path]


Content = set[tuple[str, tuple[str, ...], str]]


class Database:
    """Where a test's learn runs write: the folder's playbook.db, or a PostgreSQL database
    that the runs are pointed at with PLAYBOOK_DATABASE_URL; read here with plain SQL."""

    def __init__(self, folder: Path, url: str | None = None) -> None:
        self.folder, self.url = folder, url

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.url is not None:
            env["PLAYBOOK_DATABASE_URL"] = self.url
        return env

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """The rows of a query; none while the schema is not created yet."""
        if self.url is not None:
            try:
                with psycopg.connect(self.url) as conn:
                    return list(conn.execute(sql).fetchall())
            except psycopg.errors.UndefinedTable:
                return []
        try:
            with sqlite3.connect(self.folder / "playbook.db", timeout=5) as conn:
                return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:  # not created yet
            return []


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        return Database(tmp_path)
    return Database(tmp_path, request.getfixturevalue("postgres_url"))


def playbook_content(db: Database) -> Content:
    rows = db.rows("SELECT scenario_text, guidance, status FROM entries")
    return {
        (scenario, tuple(json.loads(g) if isinstance(g, str) else g), status)
        for scenario, g, status in rows
    }


def calls_made(db: Database) -> int:
    """Calls the models really answered (not from the cache)."""
    rows = db.rows("SELECT count(*) FROM calls WHERE NOT cached")
    return int(rows[0][0]) if rows else 0


def learn(db: Database, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PLAYBOOK, "learn", "--config", "playbook.toml", "--json", *extra],
        cwd=db.folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=db.env(),
    )


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Content, int]:
    db = Database(tmp_path_factory.mktemp("whole"))
    subprocess.run([PLAYBOOK, "init", str(db.folder)], check=True, capture_output=True)
    process = learn(db)
    assert process.wait(timeout=HANG) == 0, process.stderr.read() if process.stderr else ""
    return playbook_content(db), calls_made(db)


@pytest.mark.parametrize(
    ("backend", "kill_after_calls"),
    [
        ("sqlite", 1),
        ("sqlite", 300),
        ("sqlite", 800),
        ("sqlite", 1300),
        ("postgresql", 300),
        ("postgresql", 1300),
    ],
)
def test_killed_and_resumed_run_ends_with_the_same_playbook(
    tmp_path: Path,
    uninterrupted: tuple[Content, int],
    backend: str,
    kill_after_calls: int,
    request: pytest.FixtureRequest,
) -> None:
    expected, total_calls = uninterrupted  # learned on SQLite: the database changes nothing
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    db = Database(tmp_path, url)
    subprocess.run([PLAYBOOK, "init", str(tmp_path)], check=True, capture_output=True)
    process = learn(db)
    while process.poll() is None and calls_made(db) < kill_after_calls:
        time.sleep(0.005)
    assert kill_after_calls < total_calls and process.poll() is None, "finished before the kill"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    resumed = learn(db, "--resume")
    out, err = resumed.communicate(timeout=HANG)
    assert resumed.returncode == 0, err
    assert playbook_content(db) == expected
    assert calls_made(db) == total_calls  # nothing already paid for was paid for again
    summary = json.loads(out)
    runs = db.rows("SELECT id, status FROM runs")
    assert runs == [(summary["run"], "finished")]
    assert (url is None) == (tmp_path / "playbook.db").exists()


# Counted at the upstream. Calls in flight when a run is killed were paid again on resume (the
# bug: 5-14 per kill), because a call reached the log only once answered; now each is written
# down before it is sent and sent with an Idempotency-Key, so the upstream answers the repeat
# from its record. The simulated world served over HTTP plays the upstream and counts.


@pytest.fixture
def upstream() -> Iterator[tuple[str, PaidCalls]]:
    world = SimWorld(load_domain(example_domain("airline")))
    app = create_openai_app({name: world.model(name) for name in world.names()}, delay=0.02)
    with serve_app(app) as url:
        yield url, app.state.paid


def over_http(db: Database, url: str, extra: str = "") -> Path:
    """`playbook init`'s config with every role asked through the openai SDK at `url`."""
    subprocess.run([PLAYBOOK, "init", str(db.folder)], check=True, capture_output=True)
    config = db.folder / "playbook.toml"
    text = config.read_text()
    for role in ("student", "teacher", "customer", "judge"):
        text = text.replace(
            f'spec = "sim:{role}"', f'spec = "openai:{role}"\nbase_url = "{url}/v1"'
        )
    config.write_text(text.replace("rounds = 3", "rounds = 2") + extra)
    return config


def kill_when(process: subprocess.Popen[str], paid: PaidCalls, calls: int) -> None:
    while process.poll() is None and paid.paid < calls:
        time.sleep(0.005)
    assert process.poll() is None, f"finished before {calls} calls: {process.stderr}"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def in_flight(db: Database) -> int:
    return int(db.rows("SELECT count(*) FROM calls_in_flight")[0][0])


def test_calls_in_flight_at_five_kills_are_not_paid_again(
    database: Database, upstream: tuple[str, PaidCalls]
) -> None:
    url, paid = upstream
    over_http(database, url)
    written_ahead = []
    process = learn(database)
    for calls in (50, 200, 350, 500, 650):
        kill_when(process, paid, calls)
        written_ahead.append(in_flight(database))
        process = learn(database, "--resume")
    out, err = process.communicate(timeout=HANG)
    assert process.returncode == 0, err
    assert paid.paid_twice == 0, paid.summary()
    # The kills did catch calls in flight: the resume knew them and the upstream replayed them.
    assert all(written_ahead) and paid.replayed > 0, (written_ahead, paid.summary())
    assert in_flight(database) == 0
    assert json.loads(out)["stopped"] is None


def kill_at_teacher_calls(process: subprocess.Popen[str], paid: PaidCalls, calls: int) -> None:
    while process.poll() is None and paid.by_model["teacher"] < calls:
        time.sleep(0.005)
    assert process.poll() is None, "finished before the kill"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def test_a_budget_holds_for_the_run_across_three_kills_and_can_be_raised_on_resume(
    tmp_path: Path, upstream: tuple[str, PaidCalls]
) -> None:
    """The bug: budgets reset with each process (150 paid 150, then 300, then 366), raising
    one made --resume refuse the "changed config", and the hint lost [budget.teacher]."""
    url, paid = upstream
    db = Database(tmp_path)
    config = over_http(db, url, "\n[budget.teacher]\ncalls = 150\n")
    process = learn(db)
    for calls in (40, 80, 120):
        kill_at_teacher_calls(process, paid, calls)
        process = learn(db, "--resume")
    out, err = process.communicate(timeout=HANG)
    assert process.returncode == 0, err
    assert "budget for the teacher reached: 150 calls" in json.loads(out)["stopped"]
    concurrency = 8
    assert paid.by_model["teacher"] <= 150 + concurrency, paid.summary()

    config.write_text(config.read_text().replace("calls = 150", "calls = 200"))
    shown = subprocess.run(
        [PLAYBOOK, "learn", "--config", "playbook.toml", "--resume"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert shown.returncode == 0, shown.stderr
    assert "raise [budget.teacher] calls or resume later" in shown.stdout
    assert 150 < paid.by_model["teacher"] <= 200 + concurrency, paid.summary()


def refused(db: Database, *extra: str) -> str:
    """Run a learn that must stop at once; its one-line message."""
    second = subprocess.run(
        [PLAYBOOK, "learn", "--config", "playbook.toml", *extra],
        cwd=db.folder,
        env=db.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2, second.stdout
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    return lines[0]


def wait_for_locks(db: Database, process: subprocess.Popen[str]) -> None:
    """Until `process` holds both its locks (the playbook's learn lock and its run's)."""
    held: list[int] = []
    while held != [process.pid, process.pid]:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.01)
        held = [row[0] for row in db.rows("SELECT pid FROM locks")]


def running_run(db: Database) -> str:
    return str(db.rows("SELECT id FROM runs WHERE status = 'running'")[0][0])


def test_a_second_learn_on_one_playbook_stops_at_once_naming_the_first(
    database: Database, upstream: tuple[str, PaidCalls]
) -> None:
    """The bug: two fresh learns on one database, or two --resume of one run, both ran
    (1,189 and 1,261 calls paid twice)."""
    url, paid = upstream
    over_http(database, url)
    first = learn(database)
    wait_for_locks(database, first)
    line = refused(database)
    run = running_run(database)
    for part in (f"pid {first.pid} on {socket.gethostname()}", f"for run {run}", "since "):
        assert part in line
    kill_when(first, paid, 60)

    resumed = learn(database, "--resume")  # the killed holder's locks are taken over
    wait_for_locks(database, resumed)
    line = refused(database, "--resume")
    assert f"pid {resumed.pid}" in line and f"for run {run}" in line
    _, err = resumed.communicate(timeout=HANG)
    assert resumed.returncode == 0, err
    assert paid.paid_twice == 0
