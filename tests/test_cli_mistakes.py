"""A new user's first hour (issue 16): every mistake ends in one line naming what to fix, a
failed command creates or changes nothing, and a run can always be continued."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from playbook.cli.main import app

PLAYBOOK = str(Path(sys.executable).with_name("playbook"))
CUSTOMER = {"role": "customer", "text": "I want a refund for my ticket."}


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def one_line_error(result: Result, *words: str) -> str:
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.stderr, result.stderr
    return result.stderr


def runs(db: Path) -> list[tuple[str, str, str]]:
    with closing(sqlite3.connect(db)) as conn:
        return list(conn.execute("SELECT id, status, summary FROM runs ORDER BY started_at"))


def test_version_is_printed() -> None:
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.startswith("llm-playbook ")


def test_learn_reads_playbook_toml_of_the_current_folder(
    tmp_path: Path, make_config, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    one_line_error(cli("learn"), "no playbook.toml in this folder", "--config", "playbook init")
    assert list(tmp_path.iterdir()) == []
    make_config(tmp_path)
    learned = cli("learn", "--json")
    assert learned.exit_code == 0, learned.output
    progress = r"^round 2: (\d+)/\1 in \d+ s(, [\d.]+/(s|min))?$"  # the rate, after a second
    assert re.search(progress, learned.stderr, re.MULTILINE)
    listed = cli("entries", "list", "--json")  # the config's playbook, also without --config
    entries = json.loads(listed.stdout)
    assert len(entries) == json.loads(learned.stdout)["entries"] > 0
    # The table shows each entry's first guideline (not a count) and ends with how many.
    table = CliRunner().invoke(app, ["entries", "list"], env={"COLUMNS": "400"}).stdout
    assert entries[-1]["guidance"][0] in table
    assert f"{len(entries)} entries; playbook entries show ID" in table


def test_a_misspelt_simulated_role_leaves_no_run_and_no_file(
    tmp_path: Path, make_config, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    # Bug: a 100-line traceback, the run stuck as "running", and after the fix `--resume`
    # refused with "started with another config".
    monkeypatch.chdir(tmp_path)
    make_config(tmp_path, models={"student": "sim:studnet"})
    one_line_error(cli("learn"), "models.student.spec", "did you mean 'sim:student'?")
    assert not (tmp_path / "playbook.db").exists()
    make_config(tmp_path)
    one_line_error(cli("learn", "--resume"), "no interrupted learn run to resume")


@pytest.mark.parametrize(
    "command", [["eval"], ["import", "transcripts", "chats.jsonl"]], ids=" ".join
)
def test_other_commands_with_a_misspelt_model_create_nothing(
    tmp_path: Path, make_config, monkeypatch, command: list[str]
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    make_config(tmp_path, models={"judge": "sim:juge"})
    (tmp_path / "chats.jsonl").write_text(json.dumps({"id": "c", "messages": [CUSTOMER]}) + "\n")
    one_line_error(cli(*command, "-c", "playbook.toml"), "did you mean 'sim:judge'?")
    assert not (tmp_path / "playbook.db").exists()


def test_a_misspelt_goal_is_one_line_with_a_guess(tmp_path: Path, make_config, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Bug: a goal the domain lacks was ignored: the run learned every goal instead.
    monkeypatch.chdir(tmp_path)
    make_config(tmp_path, extra='goals = ["refund_restricted"]\n')
    one_line_error(
        cli("learn"), "learn.goals names 'refund_restricted'", "'refund_restricted_ticket'"
    )
    assert not (tmp_path / "playbook.db").exists()


def test_a_resume_with_another_config_names_what_changed(
    tmp_path: Path, make_config, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    config = make_config(tmp_path, extra="[budget.teacher]\ncalls = 3\n")
    assert json.loads(cli("learn", "--json").stdout)["stopped"]
    config.write_text(config.read_text().replace("concurrency = 4", "concurrency = 2"))
    message = one_line_error(cli("learn", "--resume"), "learn.concurrency changed")
    assert "without --resume" in message
    config.write_text(config.read_text().replace("calls = 3", "calls = 100000"))
    config.write_text(config.read_text().replace("concurrency = 2", "concurrency = 4"))
    resumed = cli("learn", "--resume", "--json")
    assert resumed.exit_code == 0, resumed.output
    assert [status for _, status, _ in runs(tmp_path / "playbook.db")] == ["finished"]


def test_ctrl_c_says_how_to_resume_and_the_resume_finishes(tmp_path: Path, make_config) -> None:  # type: ignore[no-untyped-def]
    # Bug: Ctrl-C exited silently and never mentioned --resume.
    make_config(tmp_path)
    learning = subprocess.Popen(
        [PLAYBOOK, "learn"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_for_a_run(tmp_path / "playbook.db", learning)
    learning.send_signal(signal.SIGINT)
    _, stderr = learning.communicate(timeout=120)
    assert learning.returncode == 130, stderr
    assert "playbook learn --resume" in stderr and "Traceback" not in stderr
    [(_, status, summary)] = runs(tmp_path / "playbook.db")
    assert status == "failed" and "interrupted" in json.loads(summary)["error"]
    resumed = subprocess.run(
        [PLAYBOOK, "learn", "--resume"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert [status for _, status, _ in runs(tmp_path / "playbook.db")] == ["finished"]


def wait_for_a_run(db: Path, process: subprocess.Popen[str]) -> None:
    """Until the learn process has recorded its run (it is then learning)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if db.exists() and runs(db):
                return
        except sqlite3.OperationalError:  # the tables are being made
            pass
        time.sleep(0.05)
    raise AssertionError(f"no run was recorded (exit code {process.poll()})")


def test_a_damaged_page_is_one_line_saying_how_to_recover(
    tmp_path: Path, make_config, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    # Bug: one damaged page of the call log crashed `learn` with 192 lines.
    monkeypatch.chdir(tmp_path)
    make_config(tmp_path, extra="[budget.teacher]\ncalls = 3\n")
    assert cli("learn").exit_code == 0
    damage_index(tmp_path / "playbook.db", "ix_calls_cache_key")
    one_line_error(cli("learn"), "playbook.db", "damaged", ".recover")


def damage_index(db: Path, name: str) -> None:
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (page,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)
        ).fetchone()
        (size,) = conn.execute("PRAGMA page_size").fetchone()
    with db.open("r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(b"\xde\xad" * (size // 2))


def test_reading_a_mistyped_or_empty_playbook_creates_and_changes_nothing(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    # Bug: `entries list` made a new database at any path, and migrated an empty file into one.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.db").write_bytes(b"")
    for args in (["list"], ["show", "1"], ["export"]):
        one_line_error(cli("entries", *args, "--playbook", "playbok.db"), "does not exist")
        one_line_error(cli("entries", *args, "--playbook", "empty.db"), "empty file")
    one_line_error(cli("entries", "list", "--playbook", "."), "is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]
    assert (tmp_path / "empty.db").read_bytes() == b""


def test_export_keeps_an_existing_file_unless_forced(
    tmp_path: Path, make_config, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    make_config(tmp_path, extra="[budget.teacher]\ncalls = 3\n")
    assert cli("learn").exit_code == 0
    (tmp_path / "out.jsonl").write_text("my notes")
    args = ["entries", "export", "--status", "all", "--out", "out.jsonl"]
    one_line_error(cli(*args), "out.jsonl already exists", "--force")
    assert (tmp_path / "out.jsonl").read_text() == "my notes"
    forced = cli(*args, "--force")
    assert forced.exit_code == 0, forced.output
    assert forced.stderr.startswith("Wrote ") and "out.jsonl" in forced.stderr
    assert (tmp_path / "out.jsonl").read_text() != "my notes"
