"""Untrusted text (customer messages, persona fields, model output) cannot open or close a
section of our prompts, nor speak a chat template's control tokens: a "<" that would begin one
becomes "‹" (and "[" of "[INST]" becomes "⟦"), so the sections stay as delimited.

What would begin a tag is judged as a reader or a tokenizer sees it: case, whitespace and
newlines of any kind, zero-width and other invisible format characters, and the compatibility
forms of "<" (fullwidth, small) do not hide a tag.
"""

from __future__ import annotations

import re
import unicodedata

# Every section tag the prompt files use (a test checks this list against prompts/*.j2).
PROMPT_TAGS = (
    "policy",
    "conversation",
    "guidelines",
    "examples",
    "example",
    "reply",
    "reference_reply",
    "candidate_reply",
    "good_reply",
    "weak_reply",
    "judge_explanation",
    "current_guidelines",
    "new_guidelines",
    "proposed_guidelines",
    "persona",
    "goals",
    "weak_scenario",
)
# Chat templates' control tokens that do not start with "<|" (ChatML, Llama 3 and Phi do):
# Llama 2's "<s>", "</s>" and "<<SYS>>", Gemma's turns.
_TEMPLATE_TAGS = ("s>", "<sys", "sys>", "start_of_turn", "end_of_turn", "bos>", "eos>")
# "<" and its fullwidth and small forms; "[" for Mistral's and Llama 2's "[INST]".
_OPENERS = re.compile("[<\uff1c\ufe64\\[\uff3b\ufe47]")
# <|im_start|>, <|eot_id|>, <|user|>... and our own sections and the other templates' tokens.
_TAG_STARTS = ("|", *PROMPT_TAGS, *_TEMPLATE_TAGS)
_LOOKAHEAD = max(map(len, _TAG_STARTS)) + 2


def fence(text: str) -> str:
    """`text` with every "<" that would begin a prompt tag or a control token defused."""

    def defuse(opener: re.Match[str]) -> str:
        after = _visible_after(text, opener.end())
        # A field that ends inside a tag ("...<POLIC") would complete it with the prompt's
        # next words ("Your situation" reads "<POLICYour situation"), so that is a tag too.
        cut_short = len(after) < _LOOKAHEAD
        name = after.lstrip("/")
        if opener.group() in "[\uff3b\ufe47":
            return "\u27e6" if _begins(name, ("inst",), cut_short) else opener.group()
        return "\u2039" if _begins(name, _TAG_STARTS, cut_short) else opener.group()

    return _OPENERS.sub(defuse, text)


def visible(text: str) -> str:
    """`text` as its tags read: compatibility forms folded (NFKC), case folded, whitespace and
    invisible format characters (zero-width spaces and joiners, soft hyphens...) left out."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in folded if not c.isspace() and unicodedata.category(c) != "Cf")


def _visible_after(text: str, start: int) -> str:
    """The first few visible characters after `start` (enough to recognise any tag name)."""
    seen, end = "", start
    while len(seen) < _LOOKAHEAD and end < len(text):
        seen += visible(text[end : end + _LOOKAHEAD])
        end += _LOOKAHEAD
    return seen


def _begins(name: str, starts: tuple[str, ...], cut_short: bool) -> bool:
    if name.startswith(starts):
        return True
    return cut_short and any(start.startswith(name) for start in starts)
