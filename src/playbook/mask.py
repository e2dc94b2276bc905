"""Mask personally identifying details in customer text before it is stored or sent to a model.

Emails, phone numbers, payment card numbers, order / booking / reservation numbers and account
ids become typed placeholders ([EMAIL], [PHONE], [CARD], [ORDER], [ACCOUNT_ID]). The rules are
tuned against over-masking: a long number is a card only if it passes the Luhn check, a bare
digit run is a phone number only after a word like "phone" or "call", and prices, dates, times,
flight numbers and the last four digits of a card ("ending in 7334") are kept, because they say
what the conversation is about without saying who the customer is. Names and street addresses
are not masked: telling them from ordinary words needs a named-entity model, which this offline
package does not ship.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

PLACEHOLDERS = ("[EMAIL]", "[CARD]", "[PHONE]", "[ORDER]", "[ACCOUNT_ID]")

_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# The usual printed groupings (4-4-4-4, 4-4-4-4-3, Amex 4-6-5) or 13-19 digits in a row.
_CARD = re.compile(
    r"(?<![\d\w])(?:\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?|\d{4}([ -])\d{6}\2\d{5}|\d{13,19})"
    r"(?![\d\w])"
)
_INTERNATIONAL_PHONE = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,5})){1,6}")
_NANP_PHONE = re.compile(
    r"(?<![\w+(])(?:1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w])"
)
# A bare digit run is a phone number only when a word says so ("call me at 5551234567").
_CUED_PHONE = re.compile(
    r"(?i)\b(?:phone|telephone|tel|cell|cellphone|mobile|call me|text me|whatsapp|sms|reach me|"
    r"my number)\b[^\d\n]{0,20}?(\d{10,11})(?!\d)"
)
# An order or booking reference: "#W2378156" anywhere, or a code with a digit (or a
# six-letter airline record locator such as EHGLP3's all-letter cousins) after a word
# that introduces one. Dates are not references.
_HASH_REFERENCE = re.compile(r"(?<![\w#])#(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{4,20}\b")
_REFERENCE_WORDS = (
    r"orders?|bookings?|reservations?|confirmations?|tickets?|references?|ref|pnr|"
    r"record locator|tracking|invoices?|cases?"
)
_REFERENCE_TOKEN = (
    r"(?!\d{4}-\d{2}-\d{2}\b)"  # a date
    r"(?:(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{4,19}|(?-i:[A-Z]{6}))\b"
)
_INTRODUCED_REFERENCE = re.compile(
    rf"(?i)\b(?:{_REFERENCE_WORDS})\b(?:\s*(?:number|no\.?|num|id|code|#|is|was|:|-))*\s*"
    rf"{_REFERENCE_TOKEN}(?:\s*(?:,|and|or|&)\s*#?{_REFERENCE_TOKEN})*"
)
_TOKEN_IN_REFERENCE = re.compile(rf"#?{_REFERENCE_TOKEN}")
_INTRODUCER = re.compile(rf"(?i)^(?:{_REFERENCE_WORDS})$")
# Account and payment-method ids in snake case ending in digits: emma_kim_9957,
# credit_card_9513926. They embed names and point at one customer's account.
_ACCOUNT_ID = re.compile(r"(?<![\w])[A-Za-z]+(?:_[A-Za-z]+)*_\d{3,}(?![\w])")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies (and 9 in 10 other numbers fail)."""
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def mask_pii(text: str, counts: Counter[str] | None = None) -> str:
    """`text` with every detected detail replaced by its placeholder; `counts` tallies them."""
    tally: Counter[str] = Counter() if counts is None else counts
    text = _EMAIL.sub(_replace("[EMAIL]", tally), text)
    text = _CARD.sub(_replace("[CARD]", tally, _is_card), text)
    text = _INTERNATIONAL_PHONE.sub(_replace("[PHONE]", tally, _has_phone_digits), text)
    text = _NANP_PHONE.sub(_replace("[PHONE]", tally), text)
    text = _HASH_REFERENCE.sub(_replace("[ORDER]", tally), text)
    text = _INTRODUCED_REFERENCE.sub(lambda m: _mask_references(m.group(0), tally), text)
    text = _CUED_PHONE.sub(lambda m: _mask_group(m, "[PHONE]", tally), text)
    return _ACCOUNT_ID.sub(_replace("[ACCOUNT_ID]", tally), text)


def _replace(
    placeholder: str, tally: Counter[str], accept: Callable[[str], bool] = lambda _: True
) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        if not accept(match.group(0)):
            return match.group(0)
        tally[placeholder] += 1
        return placeholder

    return replace


def _is_card(candidate: str) -> bool:
    return luhn_valid(re.sub(r"[ -]", "", candidate))


def _has_phone_digits(candidate: str) -> bool:
    return len(re.sub(r"\D", "", candidate)) >= 8


def _mask_references(span: str, tally: Counter[str]) -> str:
    """Mask the reference codes in "reservations EHGLP3 and XEHM4B", not the words around them."""

    def token(match: re.Match[str]) -> str:
        # The introducing word itself ("Orders") can look like an all-letter code.
        if _INTRODUCER.match(match.group(0)) or match.group(0).lower() in ("number", "code"):
            return match.group(0)
        tally["[ORDER]"] += 1
        return "[ORDER]"

    head = re.match(rf"(?i)(?:{_REFERENCE_WORDS})\b", span)
    cut = head.end() if head else 0
    return span[:cut] + _TOKEN_IN_REFERENCE.sub(token, span[cut:])


def _mask_group(match: re.Match[str], placeholder: str, tally: Counter[str]) -> str:
    tally[placeholder] += 1
    start, end = match.span(1)
    whole = match.group(0)
    offset = match.start(0)
    return whole[: start - offset] + placeholder + whole[end - offset :]
