"""BERT's uncased WordPiece tokenizer in plain Python, for the static embedder: the same token ids
as the `tokenizers` library gives all-MiniLM-L6-v2 (checked by a test), without importing it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

_MAX_WORD_CHARS = 100  # longer "words" are one unknown token, as in BERT
# ASCII text (most of it) takes a regular expression instead of a loop over characters: in ASCII,
# every printable character that is not a letter or digit is BERT punctuation.
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ASCII_WORD = re.compile(r"[a-z0-9]+|[^a-z0-9\s]")


class WordPiece:
    """Text to token ids: clean, lower-case, strip accents, split on spaces and punctuation,
    then split each word into the longest vocabulary pieces from the left ("##" continues)."""

    def __init__(self, vocab: Sequence[str], unknown: str = "[UNK]") -> None:
        self._ids = {token: i for i, token in enumerate(vocab)}
        self._unknown = self._ids[unknown]
        # Words repeat across conversations; caching their pieces makes a query mostly lookups.
        self.word_ids = lru_cache(maxsize=65536)(self._word_ids)

    def ids(self, text: str) -> list[int]:
        found: list[int] = []
        for word in basic_words(text):
            found.extend(self.word_ids(word))
        return found

    def _word_ids(self, word: str) -> tuple[int, ...]:
        if len(word) > _MAX_WORD_CHARS:
            return (self._unknown,)
        pieces: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self._ids:
                    pieces.append(self._ids[piece])
                    break
                end -= 1
            if end == start:  # no piece fits: the whole word is unknown, as in BERT
                return (self._unknown,)
            start = end
        return tuple(pieces)


def basic_words(text: str) -> list[str]:
    """BERT's basic tokenisation (uncased): words and single punctuation marks."""
    if text.isascii():
        return _ASCII_WORD.findall(_ASCII_CONTROL.sub("", text).lower())
    words: list[str] = []
    for chunk in _clean(text).lower().split():
        words.extend(_split_punctuation(_strip_accents(chunk)))
    return words


def _clean(text: str) -> str:
    out: list[str] = []
    for char in text:
        code = ord(char)
        if code == 0 or code == 0xFFFD or _is_control(char):
            continue
        if _is_cjk(code):
            out.append(f" {char} ")
        else:
            out.append(" " if char.isspace() else char)
    return "".join(out)


def _strip_accents(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _split_punctuation(word: str) -> list[str]:
    parts: list[str] = []
    current = ""
    for char in word:
        if _is_punctuation(char):
            if current:
                parts.append(current)
            parts.append(char)
            current = ""
        else:
            current += char
    if current:
        parts.append(current)
    return parts


def _is_control(char: str) -> bool:
    if char in "\t\n\r":
        return False
    return unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    # ASCII symbols such as $ and ^ count as punctuation in BERT, though Unicode says otherwise.
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )
