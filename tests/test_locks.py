"""Locks live in the playbook database: a second process sees and names the holder, and the lock
of a process that died (pid gone on this host, or no heartbeat from another host) is taken
over. The two-process cases, with real `playbook learn` processes, are in test_resume.py."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from playbook.locks import LockHeld, LockPolicy, holding
from playbook.store.core import Store

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def policy(host: str, pid: int, now: datetime = NOW) -> LockPolicy:
    stale = timedelta(seconds=60)
    return LockPolicy(pid=pid, host=host, stale_after=stale, heartbeat_s=3600, clock=lambda: now)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_held_lock_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    later = NOW + timedelta(seconds=5)
    with (
        Store.open(tmp_path / "p.db") as store,
        holding(store, ["run abc"], "abc", policy("build-1", 4242)),
        pytest.raises(LockHeld) as refused,
        holding(store, ["run abc"], "abc", policy("build-2", 7, later)),
    ):
        pass
    message = str(refused.value)
    assert "\n" not in message
    for part in ("run abc is held by pid 4242 on build-1", "for run abc", "since 2026-12-03"):
        assert part in message
    assert "heartbeat 5 s ago" in message and "kill 4242" in message


def test_the_lock_is_free_again_once_released(tmp_path: Path) -> None:
    with Store.open(tmp_path / "p.db") as store:
        with holding(store, ["learn"], None, policy("build-1", 4242)):
            pass
        with holding(store, ["learn"], None, policy("build-2", 7)):
            assert store.lock_holders()["learn"].host == "build-2"
        assert store.lock_holders() == {}


def test_the_lock_of_a_dead_process_on_this_host_is_taken_over(tmp_path: Path) -> None:
    with Store.open(tmp_path / "p.db") as store:
        gone = holding(store, ["learn"], None, policy("build-1", dead_pid()))
        gone.__enter__()  # never left: the process "died" holding it
        with holding(store, ["learn"], None, policy("build-1", 99_999_999)):
            assert store.lock_holders()["learn"].pid == 99_999_999


def test_another_hosts_lock_is_taken_over_only_when_its_heartbeat_is_stale(
    tmp_path: Path,
) -> None:
    with Store.open(tmp_path / "p.db") as store:
        elsewhere = holding(store, ["learn"], None, policy("build-1", 4242))
        elsewhere.__enter__()
        soon = NOW + timedelta(seconds=30)
        with pytest.raises(LockHeld), holding(store, ["learn"], None, policy("build-2", 7, soon)):
            pass
        late = NOW + timedelta(seconds=61)
        with holding(store, ["learn"], None, policy("build-2", 7, late)):
            assert store.lock_holders()["learn"].host == "build-2"
