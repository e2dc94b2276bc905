"""Review actions over HTTP, as a browser's forms and as a script's JSON: each recorded with the
reviewer and time, edits kept as versions, bulk changes all or none; and what the entries pages
show (filters, search, sorting, use)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx


def entry_json(url: str, entry: int, kit: Any) -> dict[str, Any]:
    answer = httpx.get(f"{url}/entries/{entry}.json", headers=kit.bearer)
    answer.raise_for_status()
    data: dict[str, Any] = answer.json()
    return data


def test_an_edit_is_a_new_version_and_the_original_is_kept(
    server: str, ann: Any, playbook: Any, kit: Any
) -> None:
    entry = playbook.learned[0]
    original = list(playbook.store.entry(entry).guidance)
    answer = ann.post(
        f"/entries/{entry}/edit",
        guidance="First, acknowledge.\n\n  Then offer travel credit.  \n",
        reason="clearer",
        status="keep",
        base_version="1",
    )
    assert (
        answer.status_code == 303 and answer.headers["location"] == f"/entries/{entry}?done=edited"
    )
    data = entry_json(server, entry, kit)
    assert data["guidance"] == ["First, acknowledge.", "Then offer travel credit."]
    assert data["status"] == "proposed" and data["version"] == 2
    assert [v["guidance"] for v in data["versions"]] == [original, data["guidance"]]
    assert [v["reviewer"] for v in data["versions"]] == ["learner", "Ann Auditor"]
    edit = data["reviews"][-1]
    assert (edit["action"], edit["reviewer"], edit["reason"], edit["version"]) == (
        "edited",
        "Ann Auditor",
        "clearer",
        2,
    )
    assert edit["created_at"]
    page = ann.client.get(answer.headers["location"]).text
    assert "Checked and saved as a new version." in page and original[0] in page


def reworded(guidance: Sequence[str]) -> list[str]:
    """The guidance with its last line reworded, which the student acts on as before."""
    return [*guidance[:-1], guidance[-1].rstrip(".") + ", please."]


def test_an_edit_can_approve_as_it_saves(ann: Any, playbook: Any, server: str, kit: Any) -> None:
    entry = playbook.store.entry(playbook.learned[1])
    # A rewording the student acts on as before passes its check (a cut to "Be brief." did
    # worse than the learned guidance, and is tested as a draft in test_checked_edits.py).
    edited = reworded(entry.guidance)
    ann.post(f"/entries/{entry.id}/edit", guidance="\n".join(edited), status="approved")
    assert kit.guidance_for(server, entry.scenario.turns[-1].text) == edited


def test_an_edit_of_a_stale_version_is_refused_and_the_draft_kept(
    ann: Any, playbook: Any, kit: Any, server: str
) -> None:
    entry = playbook.learned[0]
    bobs = reworded(playbook.store.entry(entry).guidance)
    httpx.post(
        f"{server}/entries/{entry}/edit",
        json={"guidance": bobs},
        headers={**kit.bearer, "X-Playbook-Reviewer": "Bob"},
    ).raise_for_status()
    answer = ann.post(f"/entries/{entry}/edit", guidance="My late draft.", base_version="1")
    assert answer.status_code == 409
    assert "edited by someone else" in answer.text and "My late draft." in answer.text
    assert playbook.store.entry(entry).guidance == tuple(bobs)
    assert playbook.store.versions(entry)[-1].reviewer == "Bob"


def test_empty_or_unchanged_guidelines_are_refused(ann: Any, playbook: Any) -> None:
    entry = playbook.learned[0]
    empty = ann.post(f"/entries/{entry}/edit", guidance="  \n ")
    assert empty.status_code == 400 and "at least one guideline" in empty.text
    same = "\n".join(playbook.store.entry(entry).guidance)
    unchanged = ann.post(f"/entries/{entry}/edit", guidance=same)
    assert unchanged.status_code == 400 and "unchanged" in unchanged.text
    assert len(playbook.store.versions(entry)) == 1


def test_approve_reject_and_back_to_proposed_are_recorded(ann: Any, playbook: Any) -> None:
    entry = playbook.learned[2]
    assert ann.post(f"/entries/{entry}/approve", reason="on policy").status_code == 303
    refused = ann.post(f"/entries/{entry}/reject", reason=" ")
    assert refused.status_code == 400 and "say why" in refused.text
    assert ann.post(f"/entries/{entry}/reject", reason="promises too much").status_code == 303
    assert ann.post(f"/entries/{entry}/propose").status_code == 303
    history = [(r.status, r.reviewer, r.reason) for r in playbook.store.reviews(entry)]
    assert history == [
        ("proposed", "learner", ""),
        ("approved", "Ann Auditor", "on policy"),
        ("rejected", "Ann Auditor", "promises too much"),
        ("proposed", "Ann Auditor", ""),
    ]


def test_scripts_review_with_the_bearer_key_and_get_json(
    server: str, playbook: Any, kit: Any
) -> None:
    entry = playbook.learned[0]
    headers = {**kit.bearer, "X-Playbook-Reviewer": "release-bot"}
    answer = httpx.post(f"{server}/entries/{entry}/approve", json={}, headers=headers)
    assert answer.status_code == 200
    assert answer.json() == {
        "id": entry,
        "status": "approved",
        "version": 1,
        "guidance": list(playbook.store.entry(entry).guidance),
    }
    refused = httpx.post(f"{server}/entries/{entry}/reject", json={}, headers=headers)
    assert refused.status_code == 400 and "say why" in refused.json()["error"]
    missing = httpx.post(f"{server}/entries/9999/approve", json={}, headers=headers)
    assert missing.status_code == 404 and "no entry 9999" in missing.json()["error"]
    assert playbook.store.reviews(entry)[-1].reviewer == "release-bot"


def test_bulk_review_is_all_or_nothing(server: str, ann: Any, playbook: Any, kit: Any) -> None:
    ids = playbook.learned[:2]
    missing = httpx.post(
        f"{server}/entries/bulk",
        json={"ids": [*ids, 9999], "action": "approve"},
        headers=kit.bearer,
    )
    assert missing.status_code == 404 and "9999" in missing.json()["error"]
    assert {playbook.store.entry(i).status for i in ids} == {"proposed"}
    reject = {"ids": [str(i) for i in ids], "action": "reject", "reason": "too pushy"}
    answer = ann.post("/entries/bulk", back="/entries?status=proposed&page=1", **reject)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/entries?status=proposed&page=1&done=rejected"
    assert {playbook.store.entry(i).status for i in ids} == {"rejected"}
    assert playbook.store.reviews(ids[0])[-1].reason == "too pushy"
    scripted = httpx.post(
        f"{server}/entries/bulk", json={"ids": ids, "action": "approve"}, headers=kit.bearer
    )
    assert scripted.json() == {"updated": ids, "status": "approved"}
    no_reason = ann.post("/entries/bulk", ids=[str(ids[0])], action="reject")
    assert no_reason.status_code == 400


def test_the_entries_list_filters_searches_and_sorts(server: str, playbook: Any, kit: Any) -> None:
    def listed(**params: Any) -> list[dict[str, Any]]:
        answer = httpx.get(f"{server}/entries.json", params=params, headers=kit.bearer)
        answer.raise_for_status()
        entries: list[dict[str, Any]] = answer.json()["entries"]
        return entries

    everything = listed(sort="id")
    assert [e["id"] for e in everything] == [*playbook.learned, playbook.baggage, playbook.hostile]
    # By default the list is the review queue: the unreviewed first, the approved one last.
    queue = [e["id"] for e in listed()]
    assert sorted(queue) == [e["id"] for e in everything] and queue[-1] == playbook.baggage
    assert {e["status"] for e in everything} == {"proposed", "approved"}
    assert [e["id"] for e in listed(status="approved")] == [playbook.baggage]
    run = playbook.store.entry(playbook.learned[0]).provenance.run_id
    assert [e["id"] for e in listed(run=run, sort="id")] == playbook.learned
    assert [e["id"] for e in listed(round=1, student="sim:student", run="hand", sort="id")] == [
        playbook.baggage,
        playbook.hostile,
    ]
    assert [e["id"] for e in listed(q="CLAIM REFERENCE")] == [playbook.baggage]
    assert [e["id"] for e in listed(q="100%")] == []  # a literal %, not a wildcard
    kit.served(playbook.store, (playbook.hostile,), times=3)
    kit.served(playbook.store, (playbook.baggage, playbook.hostile))
    by_use = listed(sort="usage")
    assert [(e["id"], e["served"]) for e in by_use[:2]] == [
        (playbook.hostile, 4),
        (playbook.baggage, 1),
    ]
    # The queue puts the unreviewed most served first, the approved after them.
    queue = [e["id"] for e in listed()]
    assert (queue[0], queue[-1]) == (playbook.hostile, playbook.baggage)
    gains = [e["gain"] for e in listed(sort="gain")]
    assert gains == sorted(gains, reverse=True) and gains[0] > 0
    page = listed(per_page=2, page=2, sort="id")
    assert [e["id"] for e in page] == [e["id"] for e in everything[2:4]]
    bad = httpx.get(f"{server}/entries.json", params={"sort": "nope"}, headers=kit.bearer)
    assert bad.status_code == 400 and "sort must be one of" in bad.json()["error"]


def test_an_entry_shows_how_it_was_served_and_rated(
    server: str, ann: Any, playbook: Any, kit: Any
) -> None:
    used = {i for r in playbook.store.evaluations(playbook.eval_run) for i in r.entry_ids}
    entry = min(used)  # an entry the evaluation's playbook condition used
    kit.served(playbook.store, (entry,), times=2)
    data = entry_json(server, entry, kit)
    usage = data["usage"]
    assert usage["served"] == 2 and usage["last_served_at"]
    rated = [r for r in playbook.store.evaluations(playbook.eval_run) if entry in r.entry_ids]
    assert usage["evaluated"] == len(rated) > 0
    assert usage["rating"] == round(sum(r.score for r in rated) / len(rated), 2)
    assert data["reference"] and data["baseline"]["explanation"] and data["attempts"]
    assert data["gain"] == max(a["rating"] for a in data["attempts"]) - data["baseline"]["rating"]
    page = ann.client.get(f"/entries/{entry}").text
    assert "Served by the proxy 2 times" in page and f"/reports/{playbook.eval_run}" in page


def test_runs_and_reports_pages_show_progress_calls_and_cost(
    server: str, ann: Any, playbook: Any, kit: Any
) -> None:
    runs = httpx.get(f"{server}/runs.json", headers=kit.bearer).json()["runs"]
    learn = next(r for r in runs if r["kind"] == "learn")
    assert learn["entries"] == len(playbook.learned) and learn["calls"] > 0
    detail = httpx.get(f"{server}/runs/{learn['id']}.json", headers=kit.bearer).json()
    assert {c["role"] for c in detail["calls"]} == {"student", "teacher", "customer", "judge"}
    assert detail["rounds"][0]["kept"] == len(playbook.learned)
    assert detail["entries_by_round"][0]["total"] == len(playbook.learned)
    assert detail["config"]["learn"]["rounds"] == 1
    reports = httpx.get(f"{server}/reports.json", headers=kit.bearer).json()["reports"]
    assert [r["id"] for r in reports] == [playbook.eval_run]
    report = ann.client.get(f"/reports/{playbook.eval_run}")
    assert report.status_code == 200 and "<svg" in report.text
    summary = httpx.get(f"{server}/reports/{playbook.eval_run}.json", headers=kit.bearer).json()
    assert "sim:student" in summary["students"]
    assert ann.client.get(f"/reports/{learn['id']}").status_code == 404
    assert ann.client.get("/runs/nope").status_code == 404
