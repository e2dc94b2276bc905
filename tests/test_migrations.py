"""The schema versions a release knows are read from its version files' names (issue 15: alembic
took a quarter of a second of every `serve` start-up, for nothing when the schema is current)."""

import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from playbook.store import migrations
from playbook.store.core import Store


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
