"""The schema versions a release knows are read from its version files' names (issue 15: alembic
took a quarter of a second of every `serve` start-up, for nothing when the schema is current);
a migration fills what it adds from the rows already there, on SQLite and PostgreSQL."""

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from playbook.store import migrations
from playbook.store.core import Store
from playbook.store.dialect import make_engine
from playbook.store.migrations import schema


def test_the_file_names_give_alembics_own_revisions_and_head() -> None:
    scripts = ScriptDirectory.from_config(migrations._alembic_config())
    assert migrations.known_revisions() == {s.revision for s in scripts.walk_revisions()}
    assert migrations.head_revision() == scripts.get_current_head()


def test_opening_a_current_playbook_loads_no_migration_machinery(tmp_path: Path) -> None:
    path = tmp_path / "playbook.db"
    Store.open(path).close()  # a new playbook: migrated with alembic
    code = (
        "import sys\nfrom playbook.store.core import Store\n"
        f"Store.open({str(path)!r}).close()\nprint('alembic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False"]
    with Store.open(path) as store, store._engine.connect() as conn:
        assert migrations.schema_version(conn) == migrations.head_revision()


def test_entries_of_a_playbook_from_before_0011_are_served_with_their_goals(
    playbook_location: Path | str,
) -> None:
    # Migration 0011: serving reads the goal from a column of its own; older entries get theirs
    # from their scenario when the playbook is upgraded.
    engine = make_engine(playbook_location, on_damage=lambda reason: None)
    personas = {1: {"goal": "refund_restricted_ticket"}, 2: {"goal": ""}, 3: {}}
    with engine.begin() as conn:
        command.upgrade(migrations._alembic_config(conn), "0010")
        conn.execute(schema.entries.insert(), [old_entry(i, p) for i, p in personas.items()])
    engine.dispose()
    with Store.open(playbook_location) as store, store._engine.connect() as conn:
        e = schema.entries.c
        goals = {row.id: row.goal for row in conn.execute(sa.select(e.id, e.goal))}
        served = {item.id: item.goal for item in store.entry_guidance_vectors("m")[0]}
    assert goals == {1: "refund_restricted_ticket", 2: "", 3: None}
    assert served == {1: "refund_restricted_ticket", 2: "", 3: ""}


def test_an_entry_an_older_release_adds_after_the_upgrade_is_served_with_its_goal(
    playbook_location: Path | str,
) -> None:
    # A learn run of the release before 0011, still running while a new `serve` upgraded the
    # database, writes entries without the column; their goal is read from the scenario.
    with Store.open(playbook_location) as store:
        with store._engine.begin() as conn:
            conn.execute(schema.entries.insert(), [old_entry(7, {"goal": "refund"})])
        served = {item.id: item.goal for item in store.entry_guidance_vectors("m")[0]}
    assert served == {7: "refund"}


def old_entry(entry_id: int, persona: dict[str, str]) -> dict[str, Any]:
    """An entries row as revision 0010 held it: the goal only inside the scenario."""
    return {
        "id": entry_id,
        "run_id": "r",
        "round": 1,
        "scenario": {"persona": persona, "turns": []},
        "scenario_text": "",
        "guidance": ["g"],
        "provenance": {},
        "embedding": b"\x00\x00\x80\x3f",
        "embedding_model": "m",
        "status": "approved",
        "content_key": f"k{entry_id}",
        "created_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
