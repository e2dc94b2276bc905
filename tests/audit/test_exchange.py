"""Export and import: a JSONL round trip keeps ids, versions, reviews and vectors; an import checks
every line first and writes all or nothing; Markdown is safe to render in a pull request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from playbook.cli.main import app as cli
from playbook.embed import HashEmbedder
from playbook.exchange import import_jsonl, to_jsonl, to_markdown
from playbook.files import ImportFileError
from playbook.store.core import Store
from playbook.store.migrations import schema as db


@pytest.fixture
def other(tmp_path: Path) -> Any:
    with Store.open(tmp_path / "other.db") as store:
        yield store


def reviewed(playbook: Any) -> Store:
    """The test playbook with an edit and some decisions in its history."""
    store: Store = playbook.store
    checks = {"problem": "", "policy": "complies", "before": 3.0, "after": 4.0, "passed": True}
    store.edit_guidance(
        playbook.learned[0], ["Acknowledge first.", "Offer credit."], "ann", checks=checks
    )
    store.set_status(playbook.learned[0], "approved", "bob", "checked against policy")
    store.edit_guidance(playbook.learned[1], ["Shorter."], "ann", status="rejected")
    store.set_status(playbook.learned[1], "rejected", "ann", "still too long")
    return store


def test_a_jsonl_round_trip_keeps_ids_history_and_vectors(playbook: Any, other: Store) -> None:
    store = reviewed(playbook)
    text = to_jsonl(store.entry_dumps())
    counts = import_jsonl(other, text, "export.jsonl")
    assert (counts.added, counts.updated, counts.unchanged) == (len(store.entries()), 0, 0)
    assert other.entry_dumps() == store.entry_dumps()
    assert other.versions(playbook.learned[0]) == store.versions(playbook.learned[0])
    assert other.versions(playbook.learned[0])[-1].checks["after"] == 4.0  # the check travels
    assert to_jsonl(other.entry_dumps()) == text
    again = import_jsonl(other, text, "export.jsonl")
    assert (again.added, again.updated, again.unchanged) == (0, 0, len(store.entries()))
    model = store.entry_dumps()[0].embedding_model
    assert other.entry_vectors(model)[1].shape == store.entry_vectors(model)[1].shape


def test_learned_copied_and_imported_entries_are_served_with_their_goal(
    playbook: Any, other: Store
) -> None:
    # Migration 0011: serving reads an entry's goal from its own column, so every way an entry
    # is written must fill it: learning (the learned file), `db copy` (on PostgreSQL), an import.
    store: Store = playbook.store
    import_jsonl(other, to_jsonl(store.entry_dumps()), "export.jsonl")
    for kept in (store, other):
        goals = {e.id: e.scenario.persona.goal for e in kept.entries()}
        assert {goals[i] for i in playbook.learned} == {"refund_restricted_ticket"}
        assert goals[playbook.baggage] == "lost_bag"
        assert goal_column(kept) == goals
        served = kept.entry_guidance_vectors(HashEmbedder().id)[0]
        assert {item.id: item.goal for item in served} == goals


def goal_column(store: Store) -> dict[int | None, str | None]:
    e = db.entries.c
    with store._engine.connect() as conn:
        return {row.id: row.goal for row in conn.execute(sa.select(e.id, e.goal))}


def test_a_later_export_continues_the_history_of_an_earlier_import(
    playbook: Any, other: Store
) -> None:
    store: Store = playbook.store
    import_jsonl(other, to_jsonl(store.entry_dumps()), "first.jsonl")
    reviewed(playbook)
    counts = import_jsonl(other, to_jsonl(store.entry_dumps()), "second.jsonl")
    assert (counts.updated, counts.unchanged) == (2, len(store.entries()) - 2)
    assert other.entry_dumps() == store.entry_dumps()
    older = import_jsonl(other, to_jsonl(other.entry_dumps()[:1]), "old.jsonl")
    assert older.unchanged == 1


def test_histories_that_diverged_are_refused_and_nothing_is_imported(
    playbook: Any, other: Store, kit: Any
) -> None:
    store: Store = playbook.store
    entry = playbook.learned[0]
    import_jsonl(other, to_jsonl(store.entry_dumps()), "first.jsonl")
    other.set_status(entry, "rejected", "carl", "no")
    store.set_status(entry, "approved", "ann")
    new = kit.add_entry(store, "Where do I pick up my rebooked boarding pass?", ("Explain.",))
    lines = to_jsonl(store.entry_dumps()).splitlines()
    with pytest.raises(ImportFileError, match=rf"line 1: entry {entry} was reviewed differently"):
        import_jsonl(other, "\n".join(lines), "second.jsonl")
    assert [e.id for e in other.entries()][-1] != new  # the good lines were not imported either
    assert other.entry(entry).status == "rejected"


def test_an_id_holding_another_entry_is_refused(playbook: Any, other: Store, kit: Any) -> None:
    kit.add_entry(other, "Something else entirely", ("Be kind.",))
    text = to_jsonl(playbook.store.entry_dumps())
    with pytest.raises(
        ImportFileError, match="line 1: entry 1 exists in the playbook with another"
    ):
        import_jsonl(other, text, "export.jsonl")
    assert len(other.entries()) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda line: line[:-5], "line 2: not valid JSON"),
        (lambda line: json.dumps({**json.loads(line), "status": "live"}), "line 2: status: "),
        (
            lambda line: json.dumps({k: v for k, v in json.loads(line).items() if k != "scenario"}),
            "line 2: scenario: Field required",
        ),
        (lambda line: json.dumps({**json.loads(line), "embedding": "%%%"}), "line 2: embedding"),
        (
            lambda line: json.dumps({**json.loads(line), "guidance": ["changed by hand"]}),
            "line 2: guidance differs from its latest version",
        ),
        (
            lambda line: json.dumps({**json.loads(line), "id": 1}),
            "line 2: entry 1 is also on line 1",
        ),
    ],
)
def test_a_malformed_line_is_named_and_nothing_is_imported(
    playbook: Any, other: Store, change: Any, message: str
) -> None:
    store = reviewed(playbook)
    lines = to_jsonl(store.entry_dumps()).splitlines()
    lines[1] = change(lines[1])
    with pytest.raises(ImportFileError, match=message):
        import_jsonl(other, "\n".join(lines), "bad.jsonl")
    assert other.entries() == []


def test_markdown_lists_approved_entries_with_model_text_made_harmless(playbook: Any) -> None:
    store = reviewed(playbook)
    store.set_status(playbook.hostile, "approved", "ann")
    text = to_markdown(store.entry_dumps(["approved"]), "Approved")
    assert text.count("\n## Entry ") == 3
    assert "<script>" not in text.replace("```text", "").split("```")[0]  # outside code fences
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in text
    assert "Acknowledge first." in text and "Original guidelines (version 1)" in text
    assert "checked against policy" in text and "| bob |" in text


def test_export_and_import_through_the_ui(server: str, ann: Any, playbook: Any, kit: Any) -> None:
    reviewed(playbook)
    exported = ann.client.get("/export.jsonl?status=all")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    assert exported.text == to_jsonl(playbook.store.entry_dumps())
    files = {"file": ("export.jsonl", exported.content, "application/x-ndjson")}
    again = ann.client.post("/import", data={"csrf": ann.csrf}, files=files)
    assert again.status_code == 200 and f"{len(playbook.store.entries())} unchanged" in again.text
    broken = exported.text.replace('"status":"approved"', '"status":"live"', 1)
    files = {"file": ("broken.jsonl", broken.encode(), "application/x-ndjson")}
    refused = ann.client.post("/import", data={"csrf": ann.csrf}, files=files)
    assert refused.status_code == 400 and "line " in refused.text and "status" in refused.text
    no_token = ann.client.post("/import", files=files)
    assert no_token.status_code == 403
    markdown = ann.client.get("/export.md")
    assert markdown.text.startswith("# Playbook entries (approved)")


def test_scripts_import_a_jsonl_body_with_the_bearer_key(
    server: str, playbook: Any, kit: Any
) -> None:
    body = to_jsonl(playbook.store.entry_dumps())
    headers = {**kit.bearer, "Content-Type": "application/x-ndjson"}
    answer = httpx.post(f"{server}/import", content=body, headers=headers)
    assert answer.json() == {"added": 0, "updated": 0, "unchanged": len(playbook.store.entries())}
    bad = httpx.post(f"{server}/import", content="{}\n", headers=headers)
    assert bad.status_code == 400 and "line 1" in bad.json()["error"]


def test_the_cli_exports_and_imports(playbook: Any, tmp_path: Path) -> None:
    reviewed(playbook)
    runner = CliRunner()
    md = runner.invoke(
        cli, ["entries", "export", "--format", "md", "--playbook", str(playbook.path)]
    )
    assert md.exit_code == 0 and md.stdout.count("\n## Entry ") == 2
    out = tmp_path / "all.jsonl"
    exported = runner.invoke(
        cli,
        [
            "entries",
            "export",
            "--status",
            "all",
            "--playbook",
            str(playbook.path),
            "--out",
            str(out),
        ],
    )
    assert exported.exit_code == 0, exported.output
    target = tmp_path / "copy.db"
    imported = runner.invoke(cli, ["entries", "import", str(out), "--playbook", str(target)])
    every = len(playbook.store.entry_dumps())  # however many entries learning kept
    assert imported.exit_code == 0 and f"{every} added" in imported.stdout
    with Store.open(target) as copy:
        assert copy.entry_dumps() == playbook.store.entry_dumps()
    out.write_text(out.read_text() + "not json\n")
    refused = runner.invoke(cli, ["entries", "import", str(out), "--playbook", str(target)])
    assert refused.exit_code == 2 and f"line {every + 1}: not valid JSON" in refused.output
    unknown = runner.invoke(
        cli, ["entries", "export", "--status", "live", "--playbook", str(target)]
    )
    assert unknown.exit_code == 2 and "status 'live'" in unknown.output
