"""The audit UI in real headless Chromium, in front of a running proxy with the approval gate on:
what a reviewer does in the browser changes what the proxy serves, from the next request."""

from __future__ import annotations

from typing import Any

import httpx

from playbook.server import ENTRIES_HEADER

EDITED = [
    "Acknowledge the frustration in one short sentence.",
    "Offer travel credit, never a refund.",
]


def sign_in(page: Any, url: str, path: str, key: str) -> None:
    page.goto(url + path)
    assert "/signin" in page.url  # nothing but the sign-in page without a session
    page.fill("input[name=reviewer]", "Ann Auditor")
    page.fill("input[name=key]", key)
    page.click("button[type=submit]")
    page.wait_for_url(url + path)


def test_edit_and_approve_in_the_browser_changes_the_proxys_guidance(
    page: Any, server: str, playbook: Any, upstream: Any, kit: Any
) -> None:
    entry = playbook.store.entry(playbook.learned[0])
    conversation = entry.scenario.turns[-1].text
    before = kit.guidance_for(server, conversation)
    assert not set(before) & set(entry.guidance)  # proposed: not served behind the gate

    sign_in(page, server, "/entries", kit.reviewer_key)
    page.click(f"a[href='/entries/{entry.id}']")
    assert page.text_content("#transcript") and conversation in page.text_content("#transcript")
    page.fill("#edit textarea[name=guidance]", "\n".join(EDITED))
    page.fill("#edit input[name=reason]", "shorter, and no promise of refunds")
    page.click("#edit button[type=submit]")
    page.wait_for_url(f"**/entries/{entry.id}?done=edited")
    assert all(g in page.text_content("#guidelines") for g in EDITED)
    assert kit.guidance_for(server, conversation) == before  # edited, still not approved

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#approve")
    page.wait_for_url(f"**/entries/{entry.id}?done=approved")
    assert kit.guidance_for(server, conversation) == EDITED  # the very next request

    answer = httpx.post(
        f"{server}/v1/chat/completions",
        json={"model": "student", "messages": [{"role": "user", "content": conversation}]},
        headers={"Authorization": f"Bearer {kit.api_key}"},
    )
    assert answer.headers[ENTRIES_HEADER] == str(entry.id)
    assert all(g in upstream.system_prompt() for g in EDITED)
    history = page.text_content("#history")
    assert "edited (version 2)" in history and "Ann Auditor" in history
    assert entry.guidance[0] in page.content()  # the learner's original is still shown


def test_a_rejected_entry_disappears_from_what_is_served(
    page: Any, server: str, playbook: Any, kit: Any
) -> None:
    assert kit.guidance_for(server, kit.baggage_text) == list(kit.baggage_guidance)
    sign_in(page, server, f"/entries/{playbook.baggage}", kit.reviewer_key)
    page.fill("form[action$='/reject'] input[name=reason]", "the claim number process changed")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#reject")
    page.wait_for_url(f"**/entries/{playbook.baggage}?done=rejected")
    assert kit.guidance_for(server, kit.baggage_text) == []
    assert "the claim number process changed" in page.text_content("#history")


def test_cancelling_the_confirmation_changes_nothing(
    page: Any, server: str, playbook: Any, kit: Any
) -> None:
    sign_in(page, server, f"/entries/{playbook.baggage}", kit.reviewer_key)
    page.fill("form[action$='/reject'] input[name=reason]", "second thoughts")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#reject")
    assert playbook.store.entry(playbook.baggage).status == "approved"


def test_bulk_approve_from_the_entries_page(
    page: Any, server: str, playbook: Any, kit: Any
) -> None:
    run = playbook.store.entry(playbook.learned[0]).provenance.run_id
    sign_in(page, server, f"/entries?status=proposed&run={run}", kit.reviewer_key)
    approve = page.locator("button[value=approve]")
    assert approve.is_disabled()  # nothing chosen yet
    page.check("#select-all")
    assert page.text_content("#selected-count") == str(len(playbook.learned))
    page.once("dialog", lambda dialog: dialog.accept())
    approve.click()
    page.wait_for_url("**done=approved")
    statuses = {playbook.store.entry(i).status for i in playbook.learned}
    assert statuses == {"approved"}
    assert playbook.store.entry(playbook.hostile).status == "proposed"  # not on that page


def test_a_hostile_guideline_is_shown_as_text_and_never_runs(
    page: Any, server: str, playbook: Any, kit: Any
) -> None:
    sign_in(page, server, f"/entries/{playbook.hostile}", kit.reviewer_key)
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert "<script>window.pwned=1</script>" in page.text_content("#guidelines")
    assert "<script>window.pwned=1</script>" in page.text_content("#transcript")
    assert page.locator("img").count() == 0
    page.goto(f"{server}/entries")
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator("img").count() == 0
    page.goto(f"{server}/guidelines")  # the guidelines page shows the same text, as text
    assert "<script>window.pwned=1</script>" in page.text_content("#guidelines")
    page.locator("#guidelines a", has_text="Say hello").click()
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator("img").count() == 0
