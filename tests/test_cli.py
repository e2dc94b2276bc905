"""The `playbook` command as a user runs it: a subprocess, its exit code, stdout and stderr."""

import json
import subprocess
import sys
from pathlib import Path

from playbook.store.core import Store
from playbook.workspace import example_domain

PLAYBOOK = str(Path(sys.executable).with_name("playbook"))


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PLAYBOOK, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_demo_learns_on_some_personas_and_reports_the_ones_it_never_saw(tmp_path: Path) -> None:
    result = run("demo", "--out", "demo", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    ev = summary["eval"]
    learning, sets = ev["sets"]["learning"], ev["sets"]
    assert ev["personas"] == sum(sets[s]["personas"] for s in sets if s != "learning") > 0
    assert ev["teacher"] >= ev["student"] + 1
    assert learning["playbook"] > learning["student"]  # in the conversations it learned from
    assert summary["entries"] > 0 and Path(summary["playbook"]).exists()
    assert set(summary["calls"]) == {"student", "teacher", "customer", "judge"}
    with Store.open(summary["playbook"], create=False) as store:  # learning and evaluation
        assert sum(summary["calls"].values()) == sum(s.calls for s in store.call_stats().values())

    again = json.loads(run("demo", "--out", "demo", "--json", cwd=tmp_path).stdout)
    assert again["cached_calls"] == sum(again["calls"].values())  # a re-run costs nothing
    assert again["eval"] == ev


def test_demo_prints_a_readable_summary(tmp_path: Path) -> None:
    result = run("demo", "--out", "d", "--seed", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "held out" in result.stdout and "gap closed on held-out personas" in result.stdout
    assert "learn seed 1" in result.stdout
    with Store.open(tmp_path / "d" / "playbook.db", create=False) as store:
        entries = len(store.entries())
    # Another seed in the same folder would mix two playbooks: refused, the playbook untouched
    again = run("demo", "--out", "d", cwd=tmp_path)
    assert again.returncode == 2 and "learned with learn seed 1" in again.stderr, again.stderr
    assert "another --out folder" in again.stderr
    with Store.open(tmp_path / "d" / "playbook.db", create=False) as store:
        assert len(store.entries()) == entries


def test_init_then_learn_then_list_entries(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    assert (tmp_path / "domain.toml").read_text() == example_domain("airline").read_text()
    learned = run("learn", "--config", "playbook.toml", "--json", cwd=tmp_path)
    assert learned.returncode == 0, learned.stderr
    assert json.loads(learned.stdout)["entries"] > 0
    listed = json.loads(
        run("entries", "list", "-c", "playbook.toml", "--json", cwd=tmp_path).stdout
    )
    shown = run("entries", "show", str(listed[0]["id"]), "--playbook", "playbook.db", cwd=tmp_path)
    assert listed[0]["guidance"][0] in shown.stdout
    assert run("init", cwd=tmp_path).returncode == 2  # never overwrites


def test_malformed_config_is_one_line_naming_the_field(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    config = tmp_path / "playbook.toml"
    config.write_text(config.read_text().replace("rounds = 3", 'rounds = "three"'))
    result = run("learn", "--config", "playbook.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "learn.rounds" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_endpoint_is_one_line_saying_what_to_fix(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    config = tmp_path / "playbook.toml"
    config.write_text(
        config.read_text().replace(
            'spec = "sim:teacher"',
            'spec = "openai:gpt-4o"\nbase_url = "http://127.0.0.1:9/v1"\nmax_retries = 0',
        )
    )
    result = run("learn", "--config", "playbook.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "http://127.0.0.1:9/v1" in result.stderr and "base_url" in result.stderr


def test_tab_completion_is_offered_for_the_shells(tmp_path: Path) -> None:
    """What the script `--install-completion` installs asks: `playbook ent<TAB>` in bash."""
    assert "--install-completion" in run("--help", cwd=tmp_path).stdout
    completed = subprocess.run(
        [PLAYBOOK],
        env={
            "_PLAYBOOK_COMPLETE": "complete_bash",
            "COMP_WORDS": "playbook ent",
            "COMP_CWORD": "1",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "entries" in completed.stdout.split()


def test_help_shows_no_type_placeholders_for_flags_and_gives_an_example(tmp_path: Path) -> None:
    result = run("learn", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "<bool>" not in result.stdout
    assert "--resume" in result.stdout and "playbook learn --limit 2" in result.stdout
