"""A learn run killed with SIGKILL at any point and resumed ends with the same playbook as an
uninterrupted run, and pays for no call twice."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

PLAYBOOK = str(Path(sys.executable).with_name("playbook"))
MakeConfig = Callable[..., Path]


def playbook_content(db: Path) -> set[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT scenario_text, guidance, status FROM entries").fetchall()
    return {(scenario, guidance, status) for scenario, guidance, status in rows}


def calls_made(db: Path) -> int:
    """Calls the models really answered (not from the cache)."""
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM calls WHERE NOT cached").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def learn(folder: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PLAYBOOK, "learn", "--config", "playbook.toml", "--json", *extra],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def uninterrupted(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[set[tuple[str, str, str]], int]:
    folder = tmp_path_factory.mktemp("whole")
    subprocess.run([PLAYBOOK, "init", str(folder)], check=True, capture_output=True)
    process = learn(folder)
    assert process.wait(timeout=300) == 0, process.stderr.read() if process.stderr else ""
    return playbook_content(folder / "playbook.db"), calls_made(folder / "playbook.db")


@pytest.mark.parametrize("kill_after_calls", [1, 300, 800, 1300])
def test_killed_and_resumed_run_ends_with_the_same_playbook(
    tmp_path: Path, uninterrupted: tuple[set[tuple[str, str, str]], int], kill_after_calls: int
) -> None:
    expected, total_calls = uninterrupted
    subprocess.run([PLAYBOOK, "init", str(tmp_path)], check=True, capture_output=True)
    db = tmp_path / "playbook.db"
    process = learn(tmp_path)
    while process.poll() is None and calls_made(db) < kill_after_calls:
        time.sleep(0.005)
    assert kill_after_calls < total_calls and process.poll() is None, "finished before the kill"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    resumed = learn(tmp_path, "--resume")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert playbook_content(db) == expected
    assert calls_made(db) == total_calls  # nothing already paid for was paid for again
    summary = json.loads(out)
    with sqlite3.connect(db) as conn:
        (status,) = conn.execute(
            "SELECT status FROM runs WHERE id = ?", (summary["run"],)
        ).fetchone()
        assert status == "finished"
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
