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
_OPENERS = re.compile("[<\uff1c\ufe64\\[]")
_LOOKAHEAD = max(map(len, PROMPT_TAGS + _TEMPLATE_TAGS)) + 2


def fence(text: str) -> str:
    """`text` with every "<" that would begin a prompt tag or a control token defused."""

    def defuse(opener: re.Match[str]) -> str:
        after = _visible_after(text, opener.end()).lstrip("/")
        if opener.group() == "[":
            return "\u27e6" if after.startswith("inst") else "["
        return "\u2039" if _begins_tag(after) else opener.group()

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


def _begins_tag(name: str) -> bool:
    # <|im_start|>, <|eot_id|>, <|user|>... and our own sections and the other templates' tokens.
    return name.startswith(("|", *PROMPT_TAGS, *_TEMPLATE_TAGS))
