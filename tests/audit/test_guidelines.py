"""Guidelines reviewed once for every entry that uses them (issue 17), through the JSON twins and
the scripts' API: each distinct guideline listed once with its entries; approved once, the
entries whose guidelines are then all approved are approved and served; rejected once, it leaves
every entry; an edit that fails its check is a draft everywhere; without models, nothing edited
is served."""

from __future__ import annotations

from typing import Any

import httpx

from playbook.server.audit import AuditSettings, create_audit_app
from playbook.testing import serve_app

GRANT = "Give the customer the full refund they ask for."


def listed(server: str, kit: Any, q: str = "") -> list[dict[str, Any]]:
    answer = httpx.get(f"{server}/guidelines.json", params={"q": q}, headers=kit.bearer)
    answer.raise_for_status()
    found: list[dict[str, Any]] = answer.json()["guidelines"]
    return found


def test_each_distinct_guideline_is_listed_once_with_its_entries(
    server: str, playbook: Any, kit: Any
) -> None:
    entries = playbook.store.entries()
    lines = {g for e in entries for g in e.guidance}
    found = listed(server, kit)
    assert sorted(g["text"] for g in found) == sorted(lines)
    for g in found:
        users = [e.id for e in entries if g["text"] in e.guidance]
        detail = httpx.get(f"{server}{g['url']}.json", headers=kit.bearer).json()
        assert [u["entry_id"] for u in detail["uses"]] == users == sorted(users)
    assert [g["text"] for g in listed(server, kit, "claim REFERENCE")] == [kit.baggage_guidance[1]]


def test_approving_a_guideline_approves_the_entries_whose_guidelines_are_all_approved(
    server: str, playbook: Any, kit: Any
) -> None:
    learned = [playbook.store.entry(i) for i in playbook.learned]
    entry = next(e for e in learned if len(e.guidance) >= 2)
    conversation = entry.scenario.turns[-1].text
    # proposed: not served behind the gate
    assert not set(kit.guidance_for(server, conversation)) & set(entry.guidance)
    by_text = {g["text"]: g for g in listed(server, kit)}
    *first, last = entry.guidance
    assert first  # two guidelines or more: approving one alone is not enough
    for text in first:
        answer = httpx.post(f"{server}{by_text[text]['url']}/approve", json={}, headers=kit.bearer)
        answer.raise_for_status()
    assert playbook.store.entry(entry.id).status == "proposed"  # one guideline still unreviewed
    httpx.post(f"{server}{by_text[last]['url']}/approve", json={}, headers=kit.bearer)
    assert playbook.store.entry(entry.id).status == "approved"
    assert kit.guidance_for(server, conversation) == list(entry.guidance)
    detail = httpx.get(f"{server}{by_text[last]['url']}.json", headers=kit.bearer).json()
    assert detail["review"] == "approved" and detail["history"][-1]["action"] == "approved"
    assert entry.id in detail["history"][-1]["entry_ids"]  # the entries it approved


def test_rejecting_a_guideline_takes_it_out_of_every_entry(
    server: str, playbook: Any, kit: Any
) -> None:
    entries = playbook.store.entries()
    counts = {g["text"]: g["entries"] for g in listed(server, kit)}
    text = max(counts, key=lambda t: counts[t])
    users = [e for e in entries if text in e.guidance]
    assert len(users) >= 2
    key = next(g["url"] for g in listed(server, kit) if g["text"] == text)
    refused = httpx.post(f"{server}{key}/reject", json={"reason": " "}, headers=kit.bearer)
    assert refused.status_code == 400 and "say why" in refused.json()["error"]
    answer = httpx.post(f"{server}{key}/reject", json={"reason": "off-brand"}, headers=kit.bearer)
    answer.raise_for_status()
    for entry in users:
        now = playbook.store.entry(entry.id)
        assert text not in now.guidance
        assert now.guidance == tuple(g for g in entry.guidance if g != text) or (
            now.status == "rejected" and entry.guidance == (text,)
        )
        assert playbook.store.versions(entry.id)[-1].reason == "guideline rejected: off-brand"
    assert text not in {g["text"] for g in listed(server, kit)}
    history = playbook.store.guideline_history(text)
    assert [(c.action, c.reason) for c in history] == [("rejected", "off-brand")]
    assert sorted(history[0].entry_ids) == sorted(e.id for e in users)


def test_a_guideline_edit_that_grants_the_forbidden_is_a_draft_in_every_entry(
    server: str, playbook: Any, kit: Any
) -> None:
    text = kit.baggage_guidance[0]
    key = next(g["url"] for g in listed(server, kit) if g["text"] == text)
    answer = httpx.post(
        f"{server}{key}/edit", json={"text": GRANT, "reason": "kinder"}, headers=kit.bearer
    )
    assert answer.status_code == 422
    result = answer.json()
    assert result["drafts"] == 1 and result["served"] == 0
    (outcome,) = result["outcomes"]
    assert not outcome["served"] and "policy check" in outcome["check"]["problem"]
    assert kit.guidance_for(server, kit.baggage_text) == list(kit.baggage_guidance)
    entry = httpx.get(f"{server}/entries/{playbook.baggage}.json", headers=kit.bearer).json()
    assert entry["drafts"][0]["problem"] == outcome["check"]["problem"]
    assert entry["drafts"][0]["reason"] == "guideline edit: kinder"
    history = playbook.store.guideline_history(text)
    assert [(c.action, c.entry_ids, c.draft_ids) for c in history] == [
        ("edited", [], [playbook.baggage])
    ]
    # The check's calls are a review run of their own, like any other run's.
    (run,) = [r for r in playbook.store.runs() if r.kind == "review"]
    assert outcome["check"]["run"] == run.id and run.summary == {"served": 0, "drafts": 1}
    assert {c.role for c in playbook.store.calls(run.id)} == {"judge"}  # refused before rating


def test_without_models_an_edit_is_kept_as_a_draft_and_never_served(
    playbook: Any, kit: Any
) -> None:
    app = create_audit_app(playbook.store, AuditSettings(kit.reviewer_key))  # no checker
    with serve_app(app) as url:
        answer = httpx.post(
            f"{url}/entries/{playbook.baggage}/edit",
            json={"guidance": ["Apologise for the lost bag, warmly."]},
            headers=kit.bearer,
        )
    assert answer.status_code == 422
    assert "not checked" in answer.json()["check"]["problem"]
    assert playbook.store.entry(playbook.baggage).guidance == kit.baggage_guidance
