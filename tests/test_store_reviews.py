"""Reviewers' edits and decisions in the store: versions (the learner's original kept as
version 1), all-or-nothing status changes, and the upgrade of playbooks made before them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command

from playbook.store import migrations
from playbook.store.audit import EntryQuery
from playbook.store.core import Store, StoreError
from playbook.store.reviews import MAX_GUIDELINES, ReviewConflict, ReviewError, clean_guidance
from playbook.types import Attempt, Entry, Persona, Provenance, Scenario, Turn, Verdict

ORIGINAL = ("Say sorry first.", "Offer a voucher.")


def make_entry(text: str) -> Entry:
    persona = Persona("p1", "refund", "driver", "frustrated", True)
    provenance = Provenance(
        "r1",
        2,
        "reference",
        Attempt((), "No.", Verdict(2, "meh")),
        (Attempt(ORIGINAL, "Sorry! A voucher?", Verdict(5, "great")),),
        {"student": "sim:student"},
    )
    return Entry(None, Scenario(persona, (Turn("customer", text),)), ORIGINAL, provenance)


@pytest.fixture
def store(playbook_location: Path | str) -> Store:
    with Store.open(playbook_location) as opened:
        yield opened


def add(store: Store, text: str = "My flight was cancelled.") -> int:
    return store.add_entry(make_entry(text), np.ones(4, np.float32), "m")


def test_an_unedited_entry_has_its_original_as_version_one(store: Store) -> None:
    entry = add(store)
    (original,) = store.versions(entry)
    assert (original.version, original.guidance, original.reviewer) == (1, ORIGINAL, "learner")


def test_an_edit_keeps_the_original_and_tells_the_server(store: Store) -> None:
    entry = add(store)
    before = store.playbook_version()
    saved = store.edit_guidance(entry, ["  Apologise.  ", "", "Offer credit."], "ann", reason="why")
    assert saved.version == 2 and saved.guidance == ("Apologise.", "Offer credit.")
    assert store.entry(entry).guidance == ("Apologise.", "Offer credit.")
    assert [v.guidance for v in store.versions(entry)] == [ORIGINAL, saved.guidance]
    last = store.reviews(entry)[-1]
    assert (last.action, last.status, last.reviewer, last.reason) == (
        "edited",
        "proposed",
        "ann",
        "why",
    )
    assert store.playbook_version() != before  # a running server reloads on this
    store.edit_guidance(entry, ["Apologise."], "bob", status="approved", base_version=2)
    assert store.entry(entry).status == "approved" and len(store.versions(entry)) == 3
    again = store.add_entry(make_entry("My flight was cancelled."), np.ones(4, np.float32), "m")
    assert again == entry  # the learner's content still maps to the edited entry


def test_a_stale_or_empty_edit_changes_nothing(store: Store) -> None:
    entry = add(store)
    store.edit_guidance(entry, ["Apologise."], "ann")
    with pytest.raises(ReviewConflict, match="you edited version 1, it is now at version 2"):
        store.edit_guidance(entry, ["Mine."], "bob", base_version=1)
    with pytest.raises(ReviewError, match="unchanged"):
        store.edit_guidance(entry, ["Apologise."], "bob")
    with pytest.raises(StoreError, match="no entry 99"):
        store.edit_guidance(99, ["x"], "bob")
    assert len(store.versions(entry)) == 2 and len(store.reviews(entry)) == 2


def test_guideline_lists_are_checked() -> None:
    assert clean_guidance(["a\n b", " "]) == ("a b",)
    with pytest.raises(ReviewError, match="at least one"):
        clean_guidance(["", "  "])
    with pytest.raises(ReviewError, match="too many"):
        clean_guidance(["x"] * (MAX_GUIDELINES + 1))
    with pytest.raises(ReviewError, match="guideline 2 has 1001 characters"):
        clean_guidance(["ok", "x" * 1001])


def test_many_entries_change_status_all_or_none(store: Store) -> None:
    a, b = add(store, "one"), add(store, "two")
    with pytest.raises(StoreError, match="no entry 7, 8"):
        store.set_statuses([a, 7, b, 8], "approved", "ann")
    assert {store.entry(a).status, store.entry(b).status} == {"proposed"}
    store.set_statuses([a, b, a], "rejected", "ann", "off policy")
    assert [r.reason for r in store.reviews(a)] == ["", "off policy"]
    with pytest.raises(ReviewError, match="status 'ok'"):
        store.set_statuses([a], "ok", "ann")


def test_entry_rows_show_use_and_gain(store: Store) -> None:
    entry = add(store)
    rows, total = store.entry_rows(EntryQuery(student="sim:student", round=2))
    assert total == 1 and rows[0].gain == 3 and rows[0].served == 0 and rows[0].rating is None
    assert rows[0].last_message == "My flight was cancelled." and rows[0].version == 1
    assert store.entry_rows(EntryQuery(search="VOUCHER"))[1] == 1
    assert store.entry_rows(EntryQuery(search="refund"))[1] == 0  # guidelines only
    assert store.entry_facets().students == ["sim:student"] and entry


def test_a_playbook_from_before_reviews_had_actions_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(migrations._alembic_config(conn), "0004")
        conn.execute(
            sa.text(
                "INSERT INTO entries VALUES (1, 'r', 1, :s, 'x', '[\"g\"]', :p, x'00000000', 'm',"
                " 'approved', 'k', '2025-01-01 00:00:00')"
            ),
            {"s": '{"persona": {}, "turns": []}', "p": "{}"},
        )
        conn.execute(
            sa.text("INSERT INTO reviews VALUES (1, 1, 'approved', 'ann', '', '2025-01-01')")
        )
    engine.dispose()
    with Store.open(path) as store:
        (review,) = store.reviews(1)
        assert review.action == "status" and review.status == "approved"
        assert [v.guidance for v in store.versions(1)] == [("g",)]
