"""A playbook moved to PostgreSQL keeps everything: `playbook db copy` of a learned, reviewed and
served SQLite playbook, `playbook db migrate`, and PLAYBOOK_DATABASE_URL naming the database."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from playbook.cli.main import app as cli
from playbook.embed import HashEmbedder
from playbook.store.core import Store
from playbook.store.migrations import head_revision
from playbook.store.records import ServedRecord
from playbook.workspace import example_domain

PERSONAS = Path(__file__).parent / "data" / "two_refund_personas.json"  # 2 refund customers


def write_config(folder: Path, playbook: str = "playbook.db") -> Path:
    shutil.copyfile(PERSONAS, folder / "personas.json")
    config = folder / "playbook.toml"
    config.write_text(
        f'domain = "{example_domain("airline")}"\nplaybook = "{playbook}"\n'
        + "".join(f'[models.{r}]\nspec = "sim:{r}"\n' for r in ROLES)
        + '[learn]\nrounds = 1\npersonas = "personas.json"\nmax_turns = 3\n'
        + '[embedder]\nspec = "hash"\n'
    )
    return config


ROLES = ("student", "teacher", "customer", "judge")


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite playbook learned on the simulated world (1 round), its first entry edited and
    approved by a reviewer, and two served requests logged."""
    folder = tmp_path_factory.mktemp("learned")
    result = CliRunner().invoke(cli, ["learn", "-c", str(write_config(folder)), "--json"])
    assert result.exit_code == 0, result.output
    path = folder / "playbook.db"
    with Store.open(path) as store:
        first = store.entries()[0].id
        assert first is not None
        store.edit_guidance(first, ["Say sorry first.", "Offer travel credit."], "alice")
        store.set_status(first, "approved", "bob", "checked")
        served = ServedRecord(datetime.now(UTC), "student", False, (first,), 3.0, 200)
        store.record_served([served, served])
    return path


def snapshot(store: Store) -> dict[str, object]:
    """Everything a user sees of a playbook, ids included."""
    entries = store.entries()
    return {
        "runs": [(r.id, r.kind, r.status, r.config, r.summary) for r in store.runs()],
        "entries": entries,
        "history": {e.id: (store.reviews(e.id or 0), store.versions(e.id or 0)) for e in entries},
        "calls": {r.id: store.calls(r.id) for r in store.runs()},
        "stats": store.call_stats(),
        "served": store.served_stats(),
        "vectors": store.entry_vectors(HashEmbedder().id)[1].tolist(),
    }


def test_db_copy_moves_a_playbook_with_its_history_to_postgres(
    learned: Path, postgres_url: str
) -> None:
    result = CliRunner().invoke(cli, ["db", "copy", str(learned), postgres_url, "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert counts["entries"] >= 2 and counts["reviews"] > counts["entries"]
    assert counts["served"] == 2 and counts["calls"] > 0
    with Store.open(learned) as before, Store.open(postgres_url) as after:
        assert snapshot(after) == snapshot(before)
        # New entries and reviews continue after the copied ids.
        top = max(e.id or 0 for e in after.entries())
        embedder = HashEmbedder()
        entry = before.entries()[0]
        from dataclasses import replace

        from playbook.types import Scenario, Turn

        fresh = replace(
            entry,
            id=None,
            scenario=Scenario(entry.scenario.persona, (Turn("customer", "A new one."),)),
        )
        assert after.add_entry(fresh, embedder.vector("A new one."), embedder.id) == top + 1


def test_db_copy_refuses_a_target_that_is_not_empty(learned: Path, postgres_url: str) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "copy", str(learned), postgres_url]).exit_code == 0
    again = runner.invoke(cli, ["db", "copy", str(learned), postgres_url])
    assert again.exit_code == 2
    assert "is not empty" in again.output and "nothing was copied" in again.output


def test_db_copy_back_to_a_file_round_trips(
    learned: Path, postgres_url: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "copy", str(learned), postgres_url]).exit_code == 0
    back = tmp_path / "back.db"
    assert runner.invoke(cli, ["db", "copy", postgres_url, str(back)]).exit_code == 0
    with Store.open(learned) as original, Store.open(back) as returned:
        assert snapshot(returned) == snapshot(original)


def test_db_migrate_and_the_database_url_variable(
    learned: Path, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    migrated = runner.invoke(cli, ["db", "migrate", "--playbook", postgres_url])
    assert migrated.exit_code == 0, migrated.output
    assert f"schema version {head_revision()} (current)" in migrated.output
    assert runner.invoke(cli, ["db", "copy", str(learned), postgres_url]).exit_code == 0
    # A config that names a file, and the variable naming the database: the database is used.
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, playbook="elsewhere.db")
    monkeypatch.setenv("PLAYBOOK_DATABASE_URL", postgres_url)
    listed = runner.invoke(cli, ["entries", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    with Store.open(learned) as original:
        assert [e["id"] for e in json.loads(listed.output)] == [e.id for e in original.entries()]
    assert not (tmp_path / "elsewhere.db").exists()
