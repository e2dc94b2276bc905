"""Each detail masked since issue 13, drawn by hypothesis inside arbitrary surrounding text:
IBANs, SSNs, labelled passport / licence numbers, CVVs, expiry dates, passwords, PINs,
one-time codes and dates of birth, spelled-out emails, UK / FR / DE phones, oddly grouped
cards, IP addresses and secrets in URLs; and ordinary travel prose that must stay as it is."""

from __future__ import annotations

import ipaddress
import re

from hypothesis import given
from hypothesis import strategies as st

from playbook.mask import luhn_valid, mask_pii

# Filler without digits or "@", so whatever survives masking must have come from the detail.
FILLER = st.text(alphabet=st.sampled_from("abcdefghij klmnop QRSTUV .,!?'()-;"), max_size=30)
DIGIT = "0123456789"


def digits(draw: st.DrawFn, n: int) -> str:
    return draw(st.text(alphabet=DIGIT, min_size=n, max_size=n))


def in_text(draw: st.DrawFn, detail: str) -> str:
    return f"{draw(FILLER)} {detail} {draw(FILLER)}"


def no_digits_left(masked: str, placeholder: str) -> None:
    assert not re.search(r"\d", masked) and placeholder in masked, masked


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country, body = draw(
        st.sampled_from(
            [
                ("GB", "AAAA" + "d" * 14),
                ("DE", "d" * 18),
                ("FR", "d" * 23),
                ("NL", "AAAA" + "d" * 10),
            ]
        )
    )
    bban = "".join(
        draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ")) if c == "A" else digits(draw, 1)
        for c in body
    )
    number = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    code = f"{country}{98 - number % 97:02d}{bban}"
    if draw(st.booleans()):
        return " ".join(code[i : i + 4] for i in range(0, len(code), 4))
    return code


@given(st.data())
def test_no_iban_survives(data: st.DataObject) -> None:
    iban = data.draw(ibans())
    masked = mask_pii(data.draw(st.builds(lambda a, b: f"{a} {iban} {b}", FILLER, FILLER)))
    assert "[IBAN]" in masked and iban not in masked and not re.search(r"\d", masked), masked


@st.composite
def labelled(draw: st.DrawFn) -> tuple[str, str]:
    """A detail recognisable by its label, as customers write it, and its placeholder."""
    kind = draw(st.sampled_from(["ssn", "id", "cvv", "expiry", "pin", "otp", "dob"]))
    joint = draw(st.sampled_from([" ", ": ", " is ", " number "]))
    if kind == "ssn":
        value = draw(st.sampled_from(["{}-{}-{}", "{}{}{}"])).format(
            digits(draw, 3), digits(draw, 2), digits(draw, 4)
        )
        return f"{draw(st.sampled_from(['SSN', 'social security number']))}{joint}{value}", "[SSN]"
    if kind == "id":
        label = draw(st.sampled_from(["passport", "driving licence", "driver's license"]))
        value = draw(st.sampled_from(["X", "GB", "", "MORGA"])) + digits(draw, 7)
        return f"{label}{joint}{value}", "[ID_NUMBER]"
    if kind == "cvv":
        return f"{draw(st.sampled_from(['CVV', 'cvc', 'CSC']))}{joint}{digits(draw, 3)}", "[CVV]"
    if kind == "expiry":
        month, year = f"{draw(st.integers(1, 12)):02d}", digits(draw, draw(st.sampled_from([2, 4])))
        label = draw(st.sampled_from(["expiry", "exp", "expires", "expiry date", "valid thru"]))
        return f"{label}{joint}{month}/{year}", "[EXPIRY]"
    if kind in ("pin", "otp"):
        label = draw(
            st.sampled_from(["PIN", "pin code", "one-time code", "OTP", "verification code"])
        )
        return f"{label}{joint}{digits(draw, draw(st.integers(4, 8)))}", "[SECRET]"
    day, month = draw(st.integers(1, 28)), draw(st.integers(1, 12))
    date = draw(
        st.sampled_from(
            [
                f"{day}/{month}/19{digits(draw, 2)}",
                f"19{digits(draw, 2)}-{month:02d}-{day:02d}",
                f"{day} March 19{digits(draw, 2)}",
            ]
        )
    )
    label = draw(st.sampled_from(["date of birth", "DOB", "born on", "birthday"]))
    return f"{label}{joint}{date}", "[DOB]"


@given(st.data())
def test_no_labelled_detail_survives(data: st.DataObject) -> None:
    detail, placeholder = data.draw(labelled())
    before, after = data.draw(FILLER), data.draw(FILLER)
    no_digits_left(mask_pii(f"{before} {detail} {after}"), placeholder)


@given(
    before=FILLER,
    after=FILLER,
    secret=st.text(alphabet="abcdefXYZ0123456789!#%", min_size=6, max_size=20).filter(
        lambda s: re.search(r"\d", s)
    ),
    label=st.sampled_from(["password", "Password:", "my password is", "pwd ="]),
)
def test_no_labelled_password_survives(before: str, after: str, secret: str, label: str) -> None:
    masked = mask_pii(f"{before} {label} {secret} {after}")
    assert secret not in masked and "[SECRET]" in masked, masked


@st.composite
def spelled_emails(draw: st.DrawFn) -> str:
    words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8)
    local = draw(st.lists(words, min_size=1, max_size=3))
    host = draw(words)
    at = draw(st.sampled_from([" at ", "[at]", " (at) ", "{at}", " [ at ] "]))
    dot = draw(st.sampled_from([" dot ", "[dot]", " (dot) ", "."]))
    if at == " at " and dot == ".":
        dot = " dot "  # " at " with only real dots is a website ("meet at example.com")
    tld = draw(st.sampled_from(["com", "org", "net", "co.uk", "de", "fr", "io"]))
    return dot.join(local) + at + host + dot + tld.replace(".", dot)


@given(st.data())
def test_no_spelled_out_email_survives(data: st.DataObject) -> None:
    email = data.draw(spelled_emails())
    before, after = data.draw(FILLER), data.draw(FILLER)
    masked = mask_pii(f"{before} {email} {after}")
    assert "[EMAIL]" in masked and email not in masked, (email, masked)


@st.composite
def european_phones(draw: st.DrawFn) -> str:
    style = draw(st.sampled_from(["uk-mobile", "uk-london", "fr", "fr-dots", "de", "de-slash"]))
    if style == "uk-mobile":
        return f"07{digits(draw, 3)} {digits(draw, 6)}"
    if style == "uk-london":
        return f"020 {digits(draw, 4)} {digits(draw, 4)}"
    if style.startswith("fr"):
        sep = "." if style == "fr-dots" else " "
        return sep.join([f"0{draw(st.integers(1, 9))}", *(digits(draw, 2) for _ in range(4))])
    if style == "de":
        return f"030 {digits(draw, 8)}"
    return f"01{digits(draw, 2)}/{digits(draw, 7)}"


@given(st.data())
def test_no_uk_fr_de_phone_number_survives(data: st.DataObject) -> None:
    phone = data.draw(european_phones())
    no_digits_left(mask_pii(in_text(data.draw, phone)), "[PHONE]")


@st.composite
def oddly_grouped_cards(draw: st.DrawFn) -> str:
    body = digits(draw, 15)
    number = next(body + d for d in DIGIT if luhn_valid(body + d))
    cuts = sorted(draw(st.sets(st.integers(1, 15), min_size=1, max_size=6)))
    parts = [number[i:j] for i, j in zip([0, *cuts], [*cuts, 16], strict=True)]
    separators = [draw(st.sampled_from([" ", "-", "  ", "- ", " -"])) for _ in parts[1:]]
    return parts[0] + "".join(s + p for s, p in zip(separators, parts[1:], strict=True))


@given(st.data())
def test_no_oddly_grouped_card_survives(data: st.DataObject) -> None:
    card = data.draw(oddly_grouped_cards())
    no_digits_left(mask_pii(in_text(data.draw, card)), "[CARD]")


@given(st.data(), st.integers(0, 2**32 - 1), st.integers(0, 2**128 - 1), st.booleans())
def test_no_ip_address_survives(data: st.DataObject, v4: int, v6: int, exploded: bool) -> None:
    six = ipaddress.IPv6Address(v6)
    for address in (str(ipaddress.IPv4Address(v4)), six.exploded if exploded else str(six)):
        masked = mask_pii(in_text(data.draw, address))
        assert "[IP]" in masked and address not in masked, (address, masked)


@given(
    st.data(),
    st.text(alphabet="abcdefABCDEF0123456789_-", min_size=8, max_size=40),
    st.sampled_from(["token", "access_token", "api_key", "key", "sig", "session_id", "code"]),
)
def test_no_secret_in_a_url_survives(data: st.DataObject, secret: str, name: str) -> None:
    url = f"https://example.com/reset?user=ann&{name}={secret}&lang=en"
    masked = mask_pii(in_text(data.draw, url))
    assert secret not in masked and f"{name}=[SECRET]&lang=en" in masked, masked


TRAVEL = st.sampled_from(
    [
        "flight SW1177", "flight UA 938", "BA2490 to Lisbon", "on 14 March 2025",
        "on 2025-03-14", "departing 03/14/2025 at 15:30", "for $1,249.99", "EUR 89.50",
        "2 bags of 23 kg", "seat 14C", "gate B12", "3 nights", "version 3.11.4",
        "terminal 2", "at 09:45", "booked 45 days ahead", "a 10% fee", "born in Boston",
    ]
)  # fmt: skip


@given(st.lists(TRAVEL, min_size=1, max_size=5), FILLER)
def test_ordinary_travel_prose_is_kept(pieces: list[str], filler: str) -> None:
    text = f"{filler} " + ", ".join(pieces) + "."
    assert mask_pii(text) == text
