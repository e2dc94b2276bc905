"""The offline default embedder: all-MiniLM-L6-v2 distilled into one static vector per token.

A text's embedding is the sum of its tokens' rows (frequent words weigh least), normalised. It
understands paraphrases the hashed n-grams cannot ("money back" is near "refund"), needs no torch
and embeds a message in tens of microseconds. How the table was made: scripts/distill_static.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from playbook.embed.base import LOCAL
from playbook.embed.wordpiece import WordPiece

DATA = Path(__file__).resolve().parents[1] / "data"
NAME = "static-minilm-v1"


class StaticEmbedder:
    """Token rows summed and normalised. The table (int8 rows, a float32 scale per row) ships
    inside the package and is memory-mapped, so loading it costs nothing until rows are read."""

    def __init__(
        self, table: np.ndarray, scale: np.ndarray, tokenizer: WordPiece, name: str = NAME
    ) -> None:
        if table.shape[0] != scale.shape[0]:
            raise ValueError(f"{table.shape[0]} table rows but {scale.shape[0]} scales")
        # A plain view of a memory-mapped table: indexing an np.memmap costs more than the rows.
        self._table = np.asarray(table)
        self._scale = scale
        self._tokenizer = tokenizer
        self._name = name

    @classmethod
    def bundled(cls, folder: Path = DATA, name: str = NAME) -> StaticEmbedder:
        """The table distilled from all-MiniLM-L6-v2 (Apache-2.0), from the package's data."""
        table = np.load(folder / f"{name}.table.npy", mmap_mode="r")
        scale = np.load(folder / f"{name}.scale.npy")
        vocab = (folder / f"{name}.vocab.txt").read_text(encoding="utf-8").split("\n")
        return cls(table, scale, WordPiece(vocab), name)

    @property
    def id(self) -> str:
        return f"{self._name}-{self._table.shape[1]}"

    @property
    def sparse(self) -> bool:
        return False

    @property
    def endpoint(self) -> str:
        return LOCAL

    @property
    def dim(self) -> int:
        return int(self._table.shape[1])

    async def aclose(self) -> None:
        """Nothing to close: it computes in this process."""

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        matrix = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            matrix[row] = self.vector(text)
        return matrix

    def vector(self, text: str) -> np.ndarray:
        """The embedding of one text (synchronous: microseconds of CPU work)."""
        ids = self._tokenizer.ids(text)
        if not ids:
            return np.zeros(self.dim, dtype=np.float32)
        # Rows are int8 with one scale each: weigh every row by its scale while summing.
        summed = self._scale[ids] @ self._table[ids].astype(np.float32)
        norm = float(np.linalg.norm(summed))
        return summed / norm if norm > 0 else summed
