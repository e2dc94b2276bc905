"""Issue 17 in real headless Chromium, on the demo's playbook behind a running proxy (approval
gate on): a figure changed in every guideline by one edit and served for every entry that used
it; edits checked before they are served (a failing one kept as a draft, with why); the review
queue with its keys; the entries page within a 1280 px window. Screenshots go to
build/screenshots."""

from __future__ import annotations

from typing import Any

import httpx

from playbook.types import Entry

GRANT = "Give the customer the full refund they ask for."
NONSENSE = "Purple monkey dishwasher, seventeen bananas."


def sign_in(page: Any, url: str, path: str, key: str) -> None:
    page.goto(url + path)
    page.fill("input[name=reviewer]", "Ann Auditor")
    page.fill("input[name=key]", key)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def served(url: str, entry: Entry, key: str) -> dict[str, Any]:
    """What the proxy serves for the entry's own conversation."""
    messages = [
        {"role": "user" if t.speaker == "customer" else "assistant", "content": t.text}
        for t in entry.scenario.turns
    ]
    answer = httpx.post(
        f"{url}/v1/guidance",
        json={"messages": messages},
        headers={"Authorization": f"Bearer {key}"},
    )
    answer.raise_for_status()
    found: dict[str, Any] = answer.json()
    return found


def test_one_edit_changes_75_to_90_in_every_guideline_and_the_proxy_serves_it(
    page: Any, demo: Any, kit: Any, screenshot: Any
) -> None:
    store = demo.store
    approved = store.entries(statuses=["approved"])
    naming = [e for e in approved if any("$75" in g for g in e.guidance)]
    assert len({g for e in naming for g in e.guidance if "$75" in g}) >= 2  # several guidelines
    before = {e.id: served(demo.url, e, kit.api_key) for e in approved}
    with_75 = {i for i, s in before.items() if any("$75" in g for g in s["guidance"])}
    assert len(with_75) >= 5

    sign_in(page, demo.url, "/guidelines?q=%2475", kit.reviewer_key)
    assert page.locator("#guidelines tbody tr").count() >= 2
    page.fill("#replace input[name=find]", "$75")
    page.fill("#replace input[name=replace]", "$90")
    page.fill("#replace input[name=reason]", "the change fee is now $90")
    page.once("dialog", lambda dialog: dialog.accept())
    # The answer comes once every affected entry's edit is checked (some 19 model calls each),
    # which under load takes longer than playwright's default 10 s wait for the navigation.
    page.click("#replace button[type=submit]", timeout=300_000)
    summary = page.wait_for_selector("#summary").text_content()
    screenshot(page, "replaced")
    assert f"{len(naming)} entries changed" in summary and "draft" not in summary

    for entry in naming:  # every entry that named $75 follows the one edit
        assert store.entry(entry.id).guidance == tuple(
            g.replace("$75", "$90") for g in entry.guidance
        )
    for entry_id in before:
        now = served(demo.url, store.entry(entry_id), kit.api_key)
        assert [e["id"] for e in now["entries"]] == [e["id"] for e in before[entry_id]["entries"]]
        assert now["guidance"] == [g.replace("$75", "$90") for g in before[entry_id]["guidance"]]
    assert all(
        "$90" in " ".join(served(demo.url, store.entry(i), kit.api_key)["guidance"])
        for i in with_75
    )

    # Each entry shows the check its new version passed, and the diff from the old one.
    page.goto(f"{demo.url}/entries/{naming[0].id}")
    checks = page.text_content("#checks")
    assert "Checked at this version" in checks and "with this one" in checks
    assert page.locator("del", has_text="$75").count() >= 1
    assert page.locator("ins", has_text="$90").count() >= 1
    screenshot(page, "entry-after")
    # The guideline keeps its history: the edit that made it, by whom and why.
    page.goto(f"{demo.url}/guidelines?q=%2490")
    page.locator("#guidelines tbody a").first.click()
    history = page.text_content("#history")
    assert "made by editing" in history and "the change fee is now $90" in history


def _helpful_served_entry(demo: Any, key: str) -> Entry:
    """An approved entry the proxy serves for its own conversation, whose guidance helped the
    student when it was learned (rated at least two levels above no guidance)."""
    for entry in demo.store.entries(statuses=["approved"]):
        p = entry.provenance
        best = max(a.verdict.rating for a in p.attempts)
        if best - p.baseline.verdict.rating < 2:
            continue
        if [e["id"] for e in served(demo.url, entry, key)["entries"]] == [entry.id]:
            return entry
    raise AssertionError("no helpful entry served for its own conversation")


def test_an_edit_granting_the_forbidden_or_nonsense_is_a_draft_with_why_and_not_served(
    page: Any, demo: Any, kit: Any, screenshot: Any
) -> None:
    entry = _helpful_served_entry(demo, kit.api_key)
    sign_in(page, demo.url, f"/entries/{entry.id}", kit.reviewer_key)
    assert "change fee" in page.text_content("#policy")  # the policy beside the guidelines
    checks = page.text_content("#checks")  # the policy check and the verification ratings
    baseline = entry.provenance.baseline.verdict.rating
    assert "Policy check: complies" in " ".join(checks.split())
    assert f"the student was rated {baseline}/5" in " ".join(checks.split())

    page.fill("#edit textarea[name=guidance]", "\n".join([*entry.guidance, GRANT]))
    page.fill("#edit input[name=reason]", "be generous")
    page.click("#edit button[type=submit]")
    page.wait_for_url(f"**/entries/{entry.id}?done=draft")
    assert "Not served" in page.text_content("#error")
    drafts = page.text_content("#drafts")
    assert "policy check" in drafts and "forbids" in drafts and "be generous" in drafts
    screenshot(page, "grant-draft")

    page.fill("#edit textarea[name=guidance]", NONSENSE)
    page.click("#edit button[type=submit]")
    page.wait_for_url(f"**/entries/{entry.id}?done=draft")
    newest = page.locator("#drafts .draft").first.text_content()
    assert "the student did worse with the edit" in newest
    assert "before" in newest and "after" in newest  # the ratings before and after
    screenshot(page, "nonsense-draft")

    assert demo.store.entry(entry.id).guidance == entry.guidance
    assert len(demo.store.versions(entry.id)) == 1
    assert served(demo.url, entry, kit.api_key)["guidance"] == list(entry.guidance)


def test_a_guideline_granting_the_forbidden_edited_once_is_served_nowhere(
    page: Any, demo: Any, kit: Any, screenshot: Any
) -> None:
    line = "Say you are sorry for the trouble before anything else."
    users = [e for e in demo.store.entries() if line in e.guidance]
    assert len(users) >= 2
    sign_in(page, demo.url, "/guidelines?q=sorry+for+the+trouble", kit.reviewer_key)
    page.locator("#guidelines tbody a", has_text=line).click()
    assert page.locator("#uses tbody tr").count() == len(users)
    page.fill("#edit textarea[name=text]", GRANT)
    page.click("#edit button[type=submit]")
    summary = page.wait_for_selector("#summary").text_content()
    screenshot(page, "grant-everywhere")
    assert f"{len(users)} kept as drafts, not served" in summary
    assert page.locator("#outcomes tr.draft").count() == len(users)
    assert "forbids" in page.text_content("#outcomes")
    assert all(demo.store.entry(e.id).guidance == e.guidance for e in users)


def test_the_entries_page_fits_a_1280_px_window(
    page: Any, demo: Any, kit: Any, screenshot: Any
) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, demo.url, "/entries?sort=id", kit.reviewer_key)
    assert page.locator("table.entries tbody tr").count() == 50
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, "entries")
    page.goto(f"{demo.url}/entries?status=rejected")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    reasons = page.locator("table.entries .reason")
    assert reasons.count() >= 1 and "policy" in reasons.first.text_content()  # the reason shows
    screenshot(page, "rejected")
    for path in ("/guidelines", "/queue"):
        page.goto(demo.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280, path


def test_the_review_queue_goes_by_use_with_keys(
    page: Any, server: str, playbook: Any, kit: Any, screenshot: Any
) -> None:
    kit.served(playbook.store, (playbook.learned[2],), times=5)
    kit.served(playbook.store, (playbook.learned[3],), times=2)
    sign_in(page, server, "/queue", kit.reviewer_key)
    page.wait_for_url(f"**/entries/{playbook.learned[2]}")  # unreviewed and served most
    assert "1 of" in page.text_content("#queue")
    screenshot(page, "queue")
    page.keyboard.press("j")
    page.wait_for_url(f"**/entries/{playbook.learned[3]}")
    page.keyboard.press("k")
    page.wait_for_url(f"**/entries/{playbook.learned[2]}")
    page.keyboard.press("e")
    page.keyboard.type("jk")  # typed into the edit box, not taken as keys
    assert page.url.endswith(f"/entries/{playbook.learned[2]}")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("a")  # approve, then the next in the queue
    page.wait_for_url(f"**/entries/{playbook.learned[3]}?done=approved")
    assert playbook.store.entry(playbook.learned[2]).status == "approved"
    assert playbook.store.entry(playbook.learned[3]).status == "proposed"


def test_guidelines_approved_or_rejected_once_in_the_browser_every_entry_follows(
    page: Any, server: str, playbook: Any, kit: Any, screenshot: Any
) -> None:
    learned = [playbook.store.entry(i) for i in playbook.learned]
    entry = next(e for e in learned if len(e.guidance) >= 2)
    sign_in(page, server, f"/entries/{entry.id}", kit.reviewer_key)
    for number, line in enumerate(entry.guidance):
        page.goto(f"{server}/entries/{entry.id}")
        page.locator("#guidelines a.shared").nth(number).click()
        assert page.text_content("#guideline") == line
        assert f"/entries/{entry.id}" in page.inner_html("#uses")
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#approve")
        page.wait_for_url("**?done=approved")
    screenshot(page, "approved")
    assert playbook.store.entry(entry.id).status == "approved"  # its guidelines all approved
    assert kit.guidance_for(server, entry.scenario.turns[-1].text) == list(entry.guidance)

    line = entry.guidance[0]
    users = [e.id for e in playbook.store.entries() if line in e.guidance]
    page.goto(f"{server}/entries/{entry.id}")
    page.locator("#guidelines a.shared").first.click()
    page.fill("form[action$='/reject'] input[name=reason]", "we no longer say this")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#reject")
    page.wait_for_url("**/guidelines?done=rejected")
    assert "taken out of every entry" in page.text_content(".notice.done")
    assert all(line not in playbook.store.entry(i).guidance for i in users)
    assert line not in page.text_content("#guidelines")
    served = kit.guidance_for(server, entry.scenario.turns[-1].text)
    assert served == list(entry.guidance[1:])
