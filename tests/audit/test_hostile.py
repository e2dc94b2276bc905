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


def test_a_copied_session_cookie_is_refused_after_sign_out(server: str, kit: Any) -> None:
    # Bug: sign-out only deleted the cookie in that browser; a copy of it still worked.
    reviewer = kit.sign_in(server)
    stolen = dict(reviewer.client.cookies)
    assert reviewer.post("/signout").status_code == 303
    with httpx.Client(base_url=server, cookies=stolen, headers=kit.html) as thief:
        page = thief.get("/entries")
        assert page.status_code == 303 and page.headers["location"].startswith("/signin")
        assert thief.get("/entries.json").status_code == 401


def failed_sign_in(server: str, kit: Any, name: str, key: str, source: str) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=server, headers=kit.html, transport=transport) as client:
        token = kit.csrf_of(client.get("/signin").text)
        form = {"csrf": token, "reviewer": name, "key": key, "next": "/entries"}
        return client.post("/signin", data=form)


def test_failed_sign_ins_are_throttled_per_client_and_per_name(server: str, kit: Any) -> None:
    # Bug: the reviewer key could be guessed as fast as the server answered.
    for attempt in range(5):
        answer = failed_sign_in(server, kit, "Mallory", f"guess-{attempt}", "127.0.0.1")
        assert answer.status_code == 401
    refused = failed_sign_in(server, kit, "Mallory", kit.reviewer_key, "127.0.0.1")
    assert refused.status_code == 429 and "too many failed sign-ins" in refused.text
    other_name = failed_sign_in(server, kit, "Ann", kit.reviewer_key, "127.0.0.1")
    assert other_name.status_code == 429  # the same client, whatever name it gives
    same_name = failed_sign_in(server, kit, "mallory", kit.reviewer_key, "127.0.0.2")
    assert same_name.status_code == 429  # the same name, from elsewhere
    elsewhere = failed_sign_in(server, kit, "Ann", kit.reviewer_key, "127.0.0.2")
    assert elsewhere.status_code == 303  # another person is not locked out


def test_scripts_guessing_the_key_are_throttled_too(server: str, kit: Any) -> None:
    for attempt in range(5):
        wrong = {"Authorization": f"Bearer guess-{attempt}-0123456789"}
        assert httpx.get(f"{server}/entries.json", headers=wrong).status_code == 401
    answer = httpx.get(f"{server}/entries.json", headers=kit.bearer)
    assert answer.status_code == 429 and "too many failed sign-ins" in answer.json()["error"]
