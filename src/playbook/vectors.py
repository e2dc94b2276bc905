"""The playbook's stored vectors and the configured embedder: a clear error when they differ, and
re-embedding every entry with another embedder (`playbook entries reembed`)."""

from __future__ import annotations

from collections.abc import Callable

from playbook.config import ConfigError
from playbook.embed import Embedder
from playbook.store.core import Store

REEMBED_BATCH = 256  # entries embedded and written per step (one progress tick each)


class EmbedderMismatch(ConfigError):
    """The playbook's entries were embedded by another model than the configured embedder."""


def check_embedder(store: Store, embedder: Embedder, what: str = "playbook") -> None:
    """Refuse a playbook whose entries the embedder cannot search (embedded by another model).

    Vectors of different embedders are not comparable, so searching them would silently
    retrieve nothing (or nonsense); an empty playbook is never a mismatch.
    """
    models = store.embedding_models()
    others = {model: count for model, count in models.items() if model != embedder.id}
    if not others:
        return
    found = ", ".join(f"{count} by {model!r}" for model, count in others.items())
    raise EmbedderMismatch(
        f"{what}: the entries of {store.path} were embedded {found}, but the configured "
        f"embedder is {embedder.id!r}; "
        "set embedder.spec in the config to the one it was learned with, or re-embed its "
        "entries: playbook entries reembed --config FILE"
    )


async def reembed(
    store: Store, embedder: Embedder, advance: Callable[[int], None] | None = None
) -> int:
    """Embed every entry's scenario again with `embedder`; the number of entries.

    Batch by batch, each written in its own transaction: an interrupted run leaves some entries
    re-embedded and the rest as they were, and running it again finishes the job.
    """
    texts = store.scenario_texts()
    for start in range(0, len(texts), REEMBED_BATCH):
        batch = texts[start : start + REEMBED_BATCH]
        matrix = await embedder.embed([text for _, text in batch])
        store.set_embeddings([entry_id for entry_id, _ in batch], matrix, embedder.id)
        if advance is not None:
            advance(len(batch))
    return len(texts)
