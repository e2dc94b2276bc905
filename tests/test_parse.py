"""Parsers must accept what real models write and refuse what cannot be used."""

import pytest

from playbook.parse import (
    ParseError,
    parse_customer,
    parse_guidelines,
    parse_reply,
    parse_verdict,
    rating_from,
)


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("Explanation: fine.\nRating: very good", 4),
        ("Explanation: meh\nRATING: Good", 3),
        ("**Rating:** *excellent*", 5),
        ("```\nExplanation: x\nRating: unacceptable\n```", 1),
        ("The reply is polite.\nRating: 4", 4),
        ("Rating (1-5): acceptable.", 2),
        ("Rating: very_good", 4),
        ("Explanation: it says 'good' a lot but misses the point.\nRating: acceptable", 2),
    ],
)
def test_verdict_ratings_in_many_shapes(text: str, rating: int) -> None:
    assert parse_verdict(text).rating == rating


def test_verdict_keeps_the_explanation() -> None:
    verdict = parse_verdict("Explanation: It ignores the customer's worry.\nRating: good")
    assert verdict.explanation == "It ignores the customer's worry."


def test_verdict_without_a_rating_names_the_expected_form() -> None:
    with pytest.raises(ParseError, match="Rating: <one of unacceptable"):
        parse_verdict("I think this reply is fine overall.")


def test_two_axis_labels_are_read_separately() -> None:
    text = "Satisfaction explanation: ok\nSatisfaction: good\nCompliance: excellent"
    assert parse_verdict(text, "satisfaction").rating == 3
    assert parse_verdict(text, "compliance").rating == 5


def test_rating_words_never_read_very_good_as_good() -> None:
    assert rating_from("Very Good") == 4
    assert rating_from("good") == 3
    assert rating_from("7") is None


def test_guidelines_from_numbered_list_with_prose_and_fences() -> None:
    text = (
        "Here are the guidelines:\n```\n1. Acknowledge the delay.\n2) Offer travel credit.\n"
        "- acknowledge the delay\n* **Keep it short.**\n```\nHope this helps!"
    )
    assert parse_guidelines(text) == (
        "Acknowledge the delay.",
        "Offer travel credit.",
        "Keep it short.",
    )


def test_guidelines_are_capped_at_ten() -> None:
    text = "\n".join(f"{i}. Guideline number {i}." for i in range(1, 15))
    assert len(parse_guidelines(text)) == 10


def test_empty_guidelines_are_refused() -> None:
    with pytest.raises(ParseError):
        parse_guidelines("```\n```")


def test_reply_drops_label_and_quotes() -> None:
    assert parse_reply('Agent: "I can help with that."') == "I can help with that."
    with pytest.raises(ParseError):
        parse_reply("   ")


def test_customer_leave_marker_in_any_case() -> None:
    message = parse_customer("Thanks, bye! [leave]")
    assert message == parse_customer("Thanks, bye! [LEAVE]")
    assert message.leaving and message.text == "Thanks, bye!"
    assert not parse_customer("I still want a refund.").leaving


def test_prose_without_a_list_is_not_guidance() -> None:
    with pytest.raises(ParseError, match="numbered list"):
        parse_guidelines("I'm sorry, I can't help with that.")
