"""One process at a time per run and per database writer role (two processes paying for the same
calls is money lost). Locks are rows of the database, so a second process sees and names the
holder; a lock whose process died (its pid gone on this host, or no heartbeat for a while from
another host) is taken over."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from playbook.store.core import Store, StoreError
from playbook.store.locks import LockHolder

STALE_AFTER = timedelta(seconds=60)  # no heartbeat for this long: the holder is gone
HEARTBEAT_S = 10.0


class LockHeld(StoreError):
    """Another live process holds a lock this one needs; the message names it and what to do."""

    def __init__(self, store: Store, name: str, holder: LockHolder, now: datetime) -> None:
        run = f" for run {holder.run_id}" if holder.run_id else ""
        age = max(0, int((now - holder.heartbeat).total_seconds()))
        super().__init__(
            f"{store.path}: {name} is held by pid {holder.pid} on {holder.host}{run} since "
            f"{holder.since:%Y-%m-%d %H:%M:%S} UTC (heartbeat {age} s ago); wait for it to end "
            f"or stop it (kill {holder.pid} on {holder.host}), then try again"
        )
        self.holder = holder


@dataclass(frozen=True)
class LockPolicy:
    """Who this process is and when another holder counts as dead; the parts tests replace."""

    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    stale_after: timedelta = STALE_AFTER
    heartbeat_s: float = HEARTBEAT_S
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def is_dead(self, holder: LockHolder) -> bool:
        if holder.host == self.host and holder.pid != self.pid and not _pid_alive(holder.pid):
            return True
        return self.clock() - holder.heartbeat > self.stale_after


def writer_lock(role: str) -> str:
    """The lock of a database writer role ("learn", "eval")."""
    return f"the {role} lock of this playbook"


def run_lock(run_id: str) -> str:
    return f"run {run_id}"


@dataclass(frozen=True)
class Held:
    """Locks this process holds."""

    store: Store
    taken: list[tuple[str, str]]  # (name, token)

    def for_run(self, run_id: str) -> None:
        """Name the run these locks are held for, once it has an id."""
        for name, token in self.taken:
            self.store.name_lock_run(name, token, run_id)


@contextmanager
def holding(
    store: Store, names: Sequence[str], run_id: str | None, policy: LockPolicy | None = None
) -> Iterator[Held]:
    """Hold every lock in `names` (or raise LockHeld, holding none) until the block ends."""
    policy = policy or LockPolicy()
    taken: list[tuple[str, str]] = []
    stop = threading.Event()
    try:
        for name in names:
            taken.append((name, _take(store, name, run_id, policy)))
        beating = threading.Thread(target=_beat, args=(store, taken, policy, stop), daemon=True)
        beating.start()
        yield Held(store, taken)
    finally:
        stop.set()
        for name, token in taken:
            store.release_lock(name, token)


def _take(store: Store, name: str, run_id: str | None, policy: LockPolicy) -> str:
    now = policy.clock()
    me = LockHolder(uuid.uuid4().hex, policy.pid, policy.host, run_id, now, now)
    holder = store.try_lock(name, me)
    if holder.token != me.token and policy.is_dead(holder):
        holder = store.try_lock(name, me, replacing=holder.token)
    if holder.token != me.token:
        raise LockHeld(store, name, holder, now)
    return me.token


def _beat(
    store: Store, taken: list[tuple[str, str]], policy: LockPolicy, stop: threading.Event
) -> None:
    while not stop.wait(policy.heartbeat_s):
        for name, token in taken:
            # A busy or briefly unwritable database: the next beat tries again.
            with suppress(sa.exc.SQLAlchemyError):
                store.refresh_lock(name, token, policy.clock())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True
