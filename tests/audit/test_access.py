"""Who gets in: nothing but the sign-in page without the reviewer key; a session cookie that holds
no key and that scripts cannot read; a CSRF token on every change; scripts with the key as a
bearer token."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from playbook.config import ConfigError, ServeConfig
from playbook.server.audit import reviewer_key
from playbook.server.audit.security import COOKIE
from playbook.store.guidelines import guideline_key

PAGES = ["/entries", "/entries/{entry}", "/runs", "/runs/{run}", "/reports", "/reports/{run}"]
PAGES += ["/exchange", "/guidelines", "/guidelines/{key}"]
DOWNLOADS = ["/export.md", "/export.jsonl?status=all"]
ACTIONS = ["/entries/{entry}/approve", "/entries/{entry}/reject", "/entries/{entry}/edit"]
ACTIONS += ["/entries/{entry}/propose", "/entries/bulk", "/import", "/signout"]
ACTIONS += ["/guidelines/replace", "/guidelines/{key}/edit", "/guidelines/{key}/approve"]
ACTIONS += ["/guidelines/{key}/reject"]


def paths(playbook: Any, templates: list[str]) -> list[str]:
    key = guideline_key(playbook.store.entry(playbook.learned[0]).guidance[0])
    return [p.format(entry=playbook.learned[0], run=playbook.eval_run, key=key) for p in templates]


def test_without_signing_in_a_browser_sees_only_the_sign_in_page(
    server: str, playbook: Any, kit: Any
) -> None:
    for path in paths(playbook, PAGES + DOWNLOADS):
        answer = httpx.get(server + path, headers=kit.html)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/signin?next=%2F"), path
    assert httpx.get(server + "/signin").status_code == 200


def test_without_the_key_scripts_get_401_and_nothing_changes(
    server: str, playbook: Any, kit: Any
) -> None:
    twins = [p + ".json" for p in paths(playbook, PAGES)]
    wrong = {"Authorization": "Bearer not-the-key-at-all"}
    proxy_key = {"Authorization": f"Bearer {kit.api_key}"}  # a client key opens only /v1
    # After 5 wrong keys from one address the answer is 429 (sign-ins throttled, issue 13).
    refused = {401, 429}
    for headers in ({}, wrong, proxy_key):
        for path in twins:
            assert httpx.get(server + path, headers=headers).status_code in refused, path
        for path in paths(playbook, ACTIONS):
            answer = httpx.post(server + path, json={"reason": "x", "ids": [1]}, headers=headers)
            assert answer.status_code in refused, path
    assert playbook.store.entry(playbook.learned[0]).status == "proposed"


def test_with_the_key_as_bearer_every_json_twin_answers(
    server: str, playbook: Any, kit: Any
) -> None:
    for path in paths(playbook, PAGES):
        answer = httpx.get(f"{server}{path}.json", headers=kit.bearer)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == "application/json"
    listed = httpx.get(f"{server}/entries.json", headers=kit.bearer).json()["entries"]
    assert {e["id"]: e["status"] for e in listed}[playbook.baggage] == "approved"


def test_every_page_names_its_json_twin_in_a_link_header(
    server: str, playbook: Any, kit: Any
) -> None:
    for path in paths(playbook, PAGES):
        page = httpx.get(server + path, headers={**kit.bearer, **kit.html})
        assert page.status_code == 200 and "text/html" in page.headers["content-type"], path
        link = httpx.Headers(page.headers).get("link", "")
        twin, _, params = link.partition(">; ")
        assert params == 'rel="alternate"; type="application/json"', path
        answer = httpx.get(server + twin.removeprefix("<"), headers=kit.bearer)
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"


def test_signing_in_sets_a_signed_httponly_strict_cookie_without_the_key(
    server: str, kit: Any
) -> None:
    client = httpx.Client(base_url=server, headers=kit.html)
    token = kit.csrf_of(client.get("/signin").text)
    answer = client.post(
        "/signin", data={"csrf": token, "reviewer": "Ann", "key": kit.reviewer_key, "next": "/runs"}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/runs"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert kit.reviewer_key not in cookie
    assert client.get("/entries").status_code == 200
    forged = httpx.Client(base_url=server, headers=kit.html)
    value = client.cookies[COOKIE]
    forged.cookies.set(COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert forged.get("/entries").status_code == 303  # a tampered cookie signs no one in


def test_a_wrong_key_or_a_missing_name_does_not_sign_in(server: str, kit: Any) -> None:
    client = httpx.Client(base_url=server, headers=kit.html)
    token = kit.csrf_of(client.get("/signin").text)
    wrong = client.post("/signin", data={"csrf": token, "reviewer": "Eve", "key": "guess" * 5})
    assert wrong.status_code == 401 and "wrong reviewer key" in wrong.text
    nameless = client.post(
        "/signin", data={"csrf": token, "reviewer": " ", "key": kit.reviewer_key}
    )
    assert nameless.status_code == 400 and "give your name" in nameless.text
    assert client.get("/entries").status_code == 303


def test_sign_in_itself_needs_the_pages_token(server: str, kit: Any) -> None:
    client = httpx.Client(base_url=server, headers=kit.html)
    client.get("/signin")
    answer = client.post("/signin", data={"reviewer": "Ann", "key": kit.reviewer_key})
    assert answer.status_code == 403
    cookieless = httpx.post(
        f"{server}/signin",
        data={"csrf": "x", "reviewer": "Ann", "key": kit.reviewer_key},
        headers=kit.html,
    )
    assert cookieless.status_code == 403


def test_after_sign_in_only_paths_on_this_site_are_followed(server: str, kit: Any) -> None:
    for target, expected in (
        ("//evil.example/x", "/entries"),
        ("https://evil.example", "/entries"),
        ("/\\evil.example", "/entries"),
        ("/runs?x=1", "/runs?x=1"),
    ):
        client = httpx.Client(base_url=server, headers=kit.html)
        token = kit.csrf_of(client.get("/signin").text)
        form = {"csrf": token, "reviewer": "Ann", "key": kit.reviewer_key, "next": target}
        assert client.post("/signin", data=form).headers["location"] == expected


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_a_change_without_the_sessions_csrf_token_is_refused(
    ann: Any, playbook: Any, token: str | None
) -> None:
    entry = playbook.learned[0]
    fields = {"reason": "looks fine"} if token is None else {"reason": "ok", "csrf": token}
    for path in (f"/entries/{entry}/approve", f"/entries/{entry}/reject", "/signout"):
        assert ann.client.post(path, data=fields).status_code == 403, path
    edit = {**fields, "guidance": "Be nice."}
    assert ann.client.post(f"/entries/{entry}/edit", data=edit).status_code == 403
    bulk = {**fields, "ids": [entry], "action": "approve"}
    assert ann.client.post("/entries/bulk", data=bulk).status_code == 403
    assert playbook.store.entry(entry).status == "proposed"
    assert len(playbook.store.versions(entry)) == 1


def test_another_sessions_token_is_refused(server: str, ann: Any, playbook: Any, kit: Any) -> None:
    bob = kit.sign_in(server, "Bob")
    answer = ann.client.post(f"/entries/{playbook.learned[0]}/approve", data={"csrf": bob.csrf})
    assert answer.status_code == 403
    assert ann.post(f"/entries/{playbook.learned[0]}/approve").status_code == 303


def test_signing_out_ends_the_session(ann: Any) -> None:
    assert ann.post("/signout").status_code == 303
    assert ann.client.get("/entries").status_code == 303


def test_every_answer_carries_a_content_security_policy(ann: Any, playbook: Any) -> None:
    for path in (
        "/entries",
        f"/entries/{playbook.hostile}",
        "/signin",
        f"/reports/{playbook.eval_run}",
    ):
        policy = ann.client.get(path).headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
        assert "frame-ancestors 'none'" in policy


def test_the_reviewer_key_comes_from_the_environment_or_config() -> None:
    serve = ServeConfig(reviewer_key="k" * 20)
    assert reviewer_key(serve, {"PLAYBOOK_REVIEWER_KEY": "e" * 20}) == "e" * 20
    assert reviewer_key(serve, {}) == "k" * 20
    assert reviewer_key(ServeConfig(), {}) is None
    with pytest.raises(ConfigError, match="use at least 16"):
        reviewer_key(ServeConfig(), {"PLAYBOOK_REVIEWER_KEY": "short"})
    assert "reviewer_key" not in ServeConfig(reviewer_key="k" * 20).model_dump()
    assert "k" * 20 not in repr(ServeConfig(reviewer_key="k" * 20))
