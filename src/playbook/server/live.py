"""The playbook as served: an index of the servable entries, rebuilt without a restart when the
store changes (entries added, approved or rejected) or when asked to."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import numpy as np

from playbook.config import Match
from playbook.embed import Embedder
from playbook.records import EntryGuidance
from playbook.retrieve import Index, Retrieval, Retriever
from playbook.store import Store
from playbook.store_serving import PlaybookVersion
from playbook.types import Turn

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
        k: int = 1,
        floor: float | None = None,
        match: Match = "conversation",
        on_reload: Callable[[int], None] | None = None,
    ) -> None:
        self._store = store
        self._on_reload = on_reload
        self._embedder = embedder
        self._statuses = tuple(statuses)
        empty: Index[EntryGuidance] = Index([], np.zeros((0, 0), np.float32), embedder.sparse)
        self.retriever = Retriever(empty, embedder, k, floor, match)
        self.version: PlaybookVersion | None = None
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self.retriever.index)

    async def retrieve(self, turns: Sequence[Turn]) -> Retrieval[EntryGuidance]:
        return await self.retriever.retrieve(turns)

    async def reload(self) -> int:
        """Rebuild the index from the store now; the number of servable entries."""
        async with self._lock:
            # The version is read first: a change made during the build is seen by the next check.
            version = await asyncio.to_thread(self._store.playbook_version)
            index = await asyncio.to_thread(self._build)
            retriever = self.retriever.with_index(index)
            await retriever.prepare()  # fitted before it serves, not on a customer's time
            self.retriever = retriever
            self.version = version
        log.info("playbook loaded: %d servable entries", len(index))
        if self._on_reload is not None:
            self._on_reload(len(index))
        return len(index)

    async def reload_if_changed(self) -> bool:
        """Rebuild if entries were added or reviewed since the last build; True if it did."""
        version = await asyncio.to_thread(self._store.playbook_version)
        if version == self.version:
            return False
        await self.reload()
        return True

    async def watch(self, interval: float) -> None:
        """Check for changes every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reload_if_changed()
            except Exception:
                # A locked or briefly unreadable file must not stop serving or watching.
                log.exception("playbook reload failed; serving the previous index")

    def _build(self) -> Index[EntryGuidance]:
        items, matrix = self._store.entry_guidance_vectors(
            self._embedder.id, statuses=self._statuses
        )
        return Index(items, matrix, self._embedder.sparse)
