"""The audit UI under hostile input (issue 13): huge ids and page numbers, a huge search, a
read-only playbook, a copied session cookie after sign-out, and guessing the reviewer key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

HUGE = str(2**63)
HUGER = "9" * 40


@pytest.mark.parametrize("number", [HUGE, HUGER])
@pytest.mark.parametrize("suffix", ["", ".json"])
def test_an_entry_id_past_sqlites_range_is_not_found(
    server: str, kit: Any, number: str, suffix: str
) -> None:
    # Bug: /entries/9223372036854775808 overflowed SQLite's integer and answered 500.
    answer = httpx.get(f"{server}/entries/{number}{suffix}", headers=kit.bearer)
    assert answer.status_code == 404, answer.text
    assert "no entry" in answer.json()["error"]


def test_reviewing_an_entry_id_past_sqlites_range_is_not_found(server: str, kit: Any) -> None:
    for action in ("approve", "reject", "propose", "edit"):
        answer = httpx.post(
            f"{server}/entries/{HUGE}/{action}", json={"guidance": ["x"]}, headers=kit.bearer
        )
        assert answer.status_code == 404, (action, answer.text)


@pytest.mark.parametrize("param", ["page", "per_page", "round"])
def test_a_page_number_past_sqlites_range_is_a_400_naming_it(
    server: str, kit: Any, param: str
) -> None:
    answer = httpx.get(f"{server}/entries.json?{param}={HUGE}", headers=kit.bearer)
    assert answer.status_code == 400, answer.text
    assert param in answer.json()["error"]


def test_a_bulk_review_of_huge_ids_is_refused(server: str, kit: Any) -> None:
    body = {"action": "approve", "ids": [int(HUGE)]}
    answer = httpx.post(f"{server}/entries/bulk", json=body, headers=kit.bearer)
    assert answer.status_code in (400, 404), answer.text


def test_a_search_longer_than_50000_characters_is_a_400(server: str, kit: Any) -> None:
    # Bug: ?q= of 50,001 characters made SQLite's LIKE pattern too complex (500).
    answer = httpx.get(f"{server}/entries.json", params={"q": "a" * 50_001}, headers=kit.bearer)
    assert answer.status_code == 400, answer.text
    assert "q" in answer.json()["error"]
    page = httpx.get(f"{server}/entries", params={"q": "_" * 30_000}, headers=kit.bearer)
    assert page.status_code == 400


def test_approving_on_a_read_only_playbook_says_so(
    server: str, kit: Any, playbook: Any, ann: Any
) -> None:
    # Bug: the write failed inside SQLite and the reviewer got a bare 500. Root writes to a
    # chmod 0400 file anyway, so SQLite itself is told to refuse writes (query_only), which
    # fails with the same SQLITE_READONLY error a read-only file gives.
    read_only(playbook.store)
    entry = playbook.learned[0]
    api = httpx.post(f"{server}/entries/{entry}/approve", headers=kit.bearer)
    page = ann.post(f"/entries/{entry}/approve")
    assert api.status_code == 503 and "read-only" in api.json()["error"], api.text
    assert page.status_code == 503 and "read-only" in page.text
    assert str(playbook.path) in api.json()["error"]
    assert playbook.store.entry(entry).status == "proposed"  # nothing written


def read_only(store: Any) -> None:
    def refuse_writes(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA query_only=1")

    sa.event.listen(store._engine, "connect", refuse_writes)
    store._engine.dispose()  # pooled connections are made again, read-only
