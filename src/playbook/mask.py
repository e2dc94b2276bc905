"""Mask personally identifying details in customer text before it is stored or sent to a model.

Emails (also spelled out: "jane dot doe at gmail dot com", "jane[at]x.com"), phone numbers,
payment card numbers, IBANs, US social security numbers, IP addresses, secrets in URLs, order /
booking / reservation numbers and account ids become typed placeholders; passport and licence
numbers, CVVs, expiry dates, passwords, PINs, one-time codes and dates of birth do when a word
says what they are (see docs/masking.md for the full list and what is kept). The rules are
tuned against over-masking: a long number is a card only if it passes the Luhn check, a bare
digit run is a phone number only after a word like "phone" or "call", and prices, dates, times,
flight numbers and the last four digits of a card ("ending in 7334") are kept, because they say
what the conversation is about without saying who the customer is. Names and street addresses
are not masked: telling them from ordinary words needs a named-entity model, which this offline
package does not ship.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable

PLACEHOLDERS = (
    "[EMAIL]", "[CARD]", "[PHONE]", "[ORDER]", "[ACCOUNT_ID]", "[IBAN]", "[SSN]", "[ID_NUMBER]",
    "[CVV]", "[EXPIRY]", "[SECRET]", "[IP]", "[DOB]",
)  # fmt: skip

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


# A URL's query value whose name says it is a credential: ?token=..., &api_key=...
_URL_SECRET = re.compile(
    r"(?i)(https?://[^\s?#]*\?[^\s#]*?\b(?:[\w-]*(?:token|key|secret|password|passwd|sig|"
    r"signature|auth|session|code|credential)[\w-]*)=)([^&\s#]+)"
)
# Spelled-out emails: a bracketed "at" ("jane[at]x.com", "jane (at) x (dot) com"), or a plain
# " at " with a spelled "dot" ("jane dot doe at gmail dot com"), ending in a known TLD.
_TLD = r"(?:com|org|net|edu|gov|mil|int|info|biz|io|co|uk|us|ca|au|de|fr|es|it|nl|be|ch|ie|eu|me)"
_WORD_DOT = r"\s*[\[({<]\s*dot\s*[\])}>]\s*|\s+dot\s+"
_SPELLED_EMAIL = re.compile(
    rf"(?i)(?<![\w.])[a-z0-9][\w%+-]*(?:(?:\.|{_WORD_DOT})[\w%+-]+)*"
    rf"(?:\s*[\[({{<]\s*at\s*[\])}}>]\s*|\s+at\s+)"
    rf"[a-z0-9-]+(?:(?:\.|{_WORD_DOT})[a-z0-9-]+)*(?:\.|{_WORD_DOT}){_TLD}\b"
)
_IBAN = re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![\w])")
_SSN = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])")
# Card numbers printed with odd groupings ("4111 11 11 1111 1111", "4111-1111 1111-1111").
_LOOSE_CARD = re.compile(r"(?<![\w.])\d(?:[ -]{0,2}\d){12,18}(?![\w])")
# National phone formats starting with 0, with separators: UK 020 7946 0958, 07700 900123;
# FR 06 12 34 56 78, 01.23.45.67.89; DE 030 12345678, 0171/1234567. 10 to 12 digits.
_NATIONAL_PHONE = re.compile(r"(?<![\w+./-])0\d{1,4}(?:[ ./-]\d{2,8}){1,4}(?![\w/-])")
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\w.])"
)
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE = (
    rf"(?:\d{{1,4}}[./-]\d{{1,2}}[./-]\d{{2,4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}\.?,?\s+\d{{4}}"
    rf"|{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})"
)
_SEP = r"(?:\s*(?:is|was|are|:|=|-|#|no\.?|number|num))*\s*"
# Details that are only recognisable by the word before them: (label, value, placeholder).
_LABELLED = [
    (r"date of birth|d\.?o\.?b\.?|birth ?date|birthday|born(?: on)?", _DATE, "[DOB]"),
    (r"ssn|social security(?: number)?", r"\d{3}[- ]?\d{2}[- ]?\d{4}", "[SSN]"),
    (
        r"passport|driv(?:ing|er'?s?) licen[cs]e|licen[cs]e|dl|national id|id card",
        r"(?=[a-z0-9-]*\d)[a-z0-9][a-z0-9-]{4,19}",
        "[ID_NUMBER]",
    ),
    (r"cvv2?|cvc2?|cvn|csc|card security code", r"\d{3,4}", "[CVV]"),
    (
        r"exp(?:iry|iration)?(?: date)?|expires?|valid (?:thru|through|until)",
        r"\d{1,2}\s*[/-]\s*(?:\d{4}|\d{2})",
        "[EXPIRY]",
    ),
    (
        r"pin(?: code| number)?|one[- ]time (?:code|password|passcode|pin)|otp|"
        r"verification code|security code|2fa code|auth(?:entication)? code|passcode",
        r"\d{4,8}",
        "[SECRET]",
    ),
    (r"password|passwd|pwd", r"(?=\S*[\d\W_])[^\s]{4,64}(?<![.,;!?])", "[SECRET]"),
]
_LABELLED_RULES = [
    # Not followed by more digits: "pin 4111 1111 1111 1111" is a card, not a PIN.
    (re.compile(rf"(?i)\b(?:{label})\b{_SEP}({value})(?![\w])(?![ -]?\d|[.:/]\w)"), placeholder)
    for label, value, placeholder in _LABELLED
]


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
    text = _URL_SECRET.sub(lambda m: _mask_group(m, "[SECRET]", tally, 2), text)
    text = _EMAIL.sub(_replace("[EMAIL]", tally), text)
    text = _SPELLED_EMAIL.sub(_replace("[EMAIL]", tally, _is_spelled_email), text)
    text = _IBAN.sub(_replace("[IBAN]", tally, _is_iban), text)
    text = _IPV4.sub(_replace("[IP]", tally), text)
    text = _IPV6.sub(_replace("[IP]", tally, _is_ipv6), text)
    for rule, placeholder in _LABELLED_RULES:
        text = rule.sub(lambda m, p=placeholder: _mask_group(m, p, tally), text)  # type: ignore[misc]
    text = _SSN.sub(_replace("[SSN]", tally), text)
    # Any grouping first, so a stray leading group is not left behind; then the printed
    # groupings, for a card the loose match ran into a neighbouring number with.
    text = _LOOSE_CARD.sub(_replace("[CARD]", tally, _is_card), text)
    text = _CARD.sub(_replace("[CARD]", tally, _is_card), text)
    text = _INTERNATIONAL_PHONE.sub(_replace("[PHONE]", tally, _has_phone_digits), text)
    text = _NANP_PHONE.sub(_replace("[PHONE]", tally), text)
    text = _NATIONAL_PHONE.sub(_replace("[PHONE]", tally, _is_national_phone), text)
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


def _is_iban(candidate: str) -> bool:
    """The ISO 13616 check: the country and check digits moved to the end, read as a number
    with letters as 10-35, leave 1 modulo 97 (a random code passes 1 time in 97)."""
    code = candidate.replace(" ", "")
    if not 15 <= len(code) <= 34:
        return False
    digits = "".join(str(int(c, 36)) for c in code[4:] + code[:4])
    return int(digits) % 97 == 1


def _is_ipv6(candidate: str) -> bool:
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _is_national_phone(candidate: str) -> bool:
    return 10 <= len(re.sub(r"\D", "", candidate)) <= 12


def _is_spelled_email(candidate: str) -> bool:
    # A plain " at " is an email only if a "dot" is spelled out too: "meet at example.com" is
    # a website, "jane dot doe at gmail dot com" is an address.
    lowered = candidate.lower()
    return bool(re.search(r"[\[({<]\s*at\s*[\])}>]", lowered)) or bool(
        re.search(_WORD_DOT, lowered)
    )


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


def _mask_group(match: re.Match[str], placeholder: str, tally: Counter[str], group: int = 1) -> str:
    tally[placeholder] += 1
    start, end = match.span(group)
    whole = match.group(0)
    offset = match.start(0)
    return whole[: start - offset] + placeholder + whole[end - offset :]
