"""Personal details are masked with typed placeholders, and ordinary text is left alone."""

import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbook.mask import luhn_valid, mask_pii

# Filler without digits or "@", so that whatever survives masking must have come from the detail.
FILLER = st.text(
    alphabet=st.sampled_from("abcdefghij klmnop QRSTUV .,!?'()-:;"), min_size=0, max_size=30
)


def _luhn_complete(body: str) -> str:
    """`body` plus the check digit that makes it pass the Luhn check."""
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["16", "amex", "13", "19"]))
    length = {"16": 16, "amex": 15, "13": 13, "19": 19}[kind]
    body = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    digits = _luhn_complete(body)
    separator = draw(st.sampled_from(["", " ", "-"]))
    if not separator or kind == "13":
        return digits
    groups = {"16": (4, 4, 4, 4), "amex": (4, 6, 5), "19": (4, 4, 4, 4, 3)}[kind]
    parts, start = [], 0
    for size in groups:
        parts.append(digits[start : start + size])
        start += size
    return separator.join(parts)


@st.composite
def phone_numbers(draw: st.DrawFn) -> str:
    def digits(n: int) -> str:
        return draw(st.text(alphabet="0123456789", min_size=n, max_size=n))

    area, exchange, line = digits(3), digits(3), digits(4)
    style = draw(st.sampled_from(["dash", "dots", "spaces", "parens", "one", "intl", "intl-eu"]))
    if style == "dash":
        return f"{area}-{exchange}-{line}"
    if style == "dots":
        return f"{area}.{exchange}.{line}"
    if style == "spaces":
        return f"{area} {exchange} {line}"
    if style == "parens":
        return f"({area}) {exchange}-{line}"
    if style == "one":
        return f"1-{area}-{exchange}-{line}"
    if style == "intl":
        return f"+1 {area} {exchange} {line}"
    return f"+{digits(2)} {digits(2)} {digits(4)} {digits(4)}"


@given(before=FILLER, email=st.emails(), after=FILLER)
def test_no_email_survives(before: str, email: str, after: str) -> None:
    masked = mask_pii(f"{before} {email} {after}")
    assert "@" not in masked and "[EMAIL]" in masked


@given(before=FILLER, phone=phone_numbers(), after=FILLER)
def test_no_phone_number_survives(before: str, phone: str, after: str) -> None:
    masked = mask_pii(f"{before} {phone} {after}")
    assert not re.search(r"\d", masked), masked


@given(before=FILLER, card=card_numbers(), after=FILLER)
def test_no_card_number_survives(before: str, card: str, after: str) -> None:
    counts: Counter[str] = Counter()
    masked = mask_pii(f"{before} {card} {after}", counts)
    assert not re.search(r"\d", masked), masked
    assert counts["[CARD]"] == 1


@given(st.text(max_size=200))
def test_masking_twice_changes_nothing_more(text: str) -> None:
    once = mask_pii(text)
    assert mask_pii(once) == once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write to jane.doe+trips@example.co.uk today", "Write to [EMAIL] today"),
        ("Call me at (555) 123-4567 or +44 20 7946 0958.", "Call me at [PHONE] or [PHONE]."),
        ("my mobile 5551232002, thanks", "my mobile [PHONE], thanks"),
        ("Card 4111 1111 1111 1111 was charged", "Card [CARD] was charged"),
        ("You want to cancel reservation EHGLP3.", "You want to cancel reservation [ORDER]."),
        ("Your order #W2378156 arrived", "Your order [ORDER] arrived"),
        ("bookings SW4821 and XEHM4B", "bookings [ORDER] and [ORDER]"),
        ("the order number is VM-55310", "the order number is [ORDER]"),
        ("Your user id is emma_kim_9957.", "Your user id is [ACCOUNT_ID]."),
        ("pay with credit_card_9513926", "pay with [ACCOUNT_ID]"),
    ],
)
def test_details_become_typed_placeholders(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "The fare was $1,100.50, or 15% more than last year.",
        "I fly on 2024-05-15 at 15:00:00, flight SW1177 from Boston.",  # flights are not people
        "Product 1656367028 costs $54.04; item 4983901480 too.",  # product ids, no phone cue
        "The card ending in 7334, please.",  # the last four digits identify no one
        "1234 5678 9012 3456 is not a valid card number (Luhn).",
        "I bought 3 items, ordered 2 of them; zip 19122; 1.5 GB of data; version 3.11.4",
        "My booking from 14 March, order of 3 items, 30 days, 12 months.",
    ],
)
def test_ordinary_numbers_are_kept(text: str) -> None:
    assert mask_pii(text) == text


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112") and not luhn_valid("12a4")
