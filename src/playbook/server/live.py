"""The playbook as served: an index of the servable entries, kept up to date without a restart
when the store changes (entries added, approved, edited or rejected) or when asked to."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import numpy as np

from playbook.config import RetrievalConfig
from playbook.embed import Embedder
from playbook.index import Index
from playbook.neighbours import APPROXIMATE_FROM
from playbook.retrieve import Retrieval, Retriever
from playbook.store.core import Store
from playbook.store.records import EntryGuidance
from playbook.store.serving import PlaybookVersion
from playbook.types import Goal, Turn

log = logging.getLogger("playbook.server")


class LivePlaybook:
    """Retrieval over the store's servable entries, loaded lean (ids, guidance, vectors).

    A rebuild happens off the event loop and swaps the retriever in one assignment, so requests
    in flight keep the index they started with and never wait for a reload.
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        statuses: Sequence[str],
        retrieval: RetrievalConfig | None = None,
        on_reload: Callable[[int], None] | None = None,
        approximate_from: int = APPROXIMATE_FROM,
        goals: Sequence[Goal] = (),
    ) -> None:
        self._store = store
        self._approximate_from = approximate_from
        self._on_reload = on_reload
        self._embedder = embedder
        self._statuses = tuple(statuses)
        empty: Index[EntryGuidance] = Index([], np.zeros((0, 0), np.float32), embedder.sparse)
        self.retriever = Retriever(empty, embedder, retrieval, goals)
        self.version: PlaybookVersion | None = None
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self.retriever.index)

    async def retrieve(self, turns: Sequence[Turn]) -> Retrieval[EntryGuidance]:
        return await self.retriever.retrieve(turns)

    async def reload(self, settle: bool = True) -> int:
        """Bring the index up to date with the store; the number of servable entries.

        Entries added or reviewed since the last load are added to or removed from the index in
        place; anything else (the first load, a sparse embedder's IDF weights, entries that
        vanished) rebuilds it. A rebuilt index searches exactly until it is settled (its
        approximate index trained): `settle=False` leaves that to `settle()`, so that a server
        starting with a large playbook answers at once.
        """
        async with self._lock:
            # The version is read first: a change made during the load is seen by the next check.
            version = await asyncio.to_thread(self._store.playbook_version)
            if not await asyncio.to_thread(self._caught_up, version):
                index = await asyncio.to_thread(self._build)
                self.retriever = self.retriever.with_index(index)
                if settle:
                    await asyncio.to_thread(index.settle)
            retriever = self.retriever
            if retriever.match == "guidance":
                # The map learns from every entry: refitted after any change, before it serves.
                retriever = retriever.with_index(retriever.index)
            await retriever.prepare()
            self.retriever = retriever
            self.version = version
        entries = len(self.retriever.index)
        log.info("playbook loaded: %d servable entries", entries)
        if self._on_reload is not None:
            self._on_reload(entries)
        return entries

    async def settle(self) -> None:
        """Train the approximate index a large playbook wants, while exact search serves."""
        async with self._lock:
            await asyncio.to_thread(self.retriever.index.settle)

    async def reload_if_changed(self) -> bool:
        """Catch up if entries were added or reviewed since the last load; True if it did."""
        version = await asyncio.to_thread(self._store.playbook_version)
        if version == self.version:
            return False
        await self.reload()
        return True

    async def watch(self, interval: float) -> None:
        """Catch up whenever the store announces a change (PostgreSQL's NOTIFY, at once), and
        check every `interval` seconds anyway (SQLite announces nothing), until cancelled."""
        while True:
            await self._wait_for_change(interval)
            try:
                await self.reload_if_changed()
            except Exception:
                # A locked or briefly unreadable file must not stop serving or watching.
                log.exception("playbook reload failed; serving the previous index")

    async def _wait_for_change(self, interval: float) -> None:
        """Until the store announces a change or `interval` seconds pass. The wait blocks a
        thread, in slices of at most a second, so that a cancelled watch ends soon after."""
        if not self._store.announces_changes:
            await asyncio.sleep(interval)
            return
        deadline = asyncio.get_running_loop().time() + interval
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                if await asyncio.to_thread(self._store.wait_for_change, min(left, 1.0)):
                    return
            except Exception:
                # The listening connection broke (a database restart): poll meanwhile.
                log.warning("no change notifications from the playbook; polling it")
                await asyncio.sleep(left)
                return

    def _build(self) -> Index[EntryGuidance]:
        items, matrix = self._store.entry_guidance_vectors(
            self._embedder.id, statuses=self._statuses
        )
        sparse, size = self._embedder.sparse, self._approximate_from
        return Index(items, matrix, sparse, approximate_from=size, deferred=True, owned=True)

    def _caught_up(self, version: PlaybookVersion) -> bool:
        """Apply the changes since the last load to the index in place; False if it cannot."""
        index, last = self.retriever.index, self.version
        if last is None or index.sparse:
            return False
        changes = self._store.changes_since(
            last, version, self._embedder.id, statuses=self._statuses
        )
        if version[0] - last[0] != changes.added:  # entries were deleted, or added out of order
            return False
        index.remove(changes.touched)
        index.add(changes.servable, changes.matrix)
        return True
