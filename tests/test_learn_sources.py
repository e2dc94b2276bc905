"""One learn run on the simulated world that mixes every source of scenarios: the persona grid,
teacher-generated personas, imported tau2-bench tasks and real chat transcripts. Every source
yields entries, and each entry shows its source, as a user runs it from the command line."""

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from playbook.cli.main import app

TAU2 = Path(__file__).parent / "data" / "tau2" / "airline_tasks_train.json"
CHATS = [
    {
        "id": "chat-1",
        "messages": [
            {"role": "agent", "text": "Hello, how can I help?"},
            {
                "role": "customer",
                "text": "I need a full refund for my restricted ticket, I can't travel anymore. "
                "I'm really frustrated. My email is sam@example.org.",
            },
            {"role": "agent", "text": "Let me check your booking."},
            {"role": "customer", "text": "I insist on a full refund."},
        ],
    },
    {
        "id": "chat-2",
        "messages": [
            {
                "role": "user",
                "content": "My bag was delayed by more than a day and I want $500 compensation. "
                "I'm confused about how this works.",
            }
        ],
    },
]
LEARN = """
[learn]
rounds = 2
max_turns = 4
goals = ["refund_restricted_ticket"]
grid = true
personas = ["tau2.yaml"]
transcripts = ["chats.jsonl"]
generated_personas = 3
"""


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_a_learn_run_mixing_all_sources_has_entries_from_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("init").exit_code == 0
    config = Path("playbook.toml")
    config.write_text(config.read_text().split("[learn]")[0] + LEARN)
    Path("chats.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CHATS))
    imported = cli(
        "import", "tau2", str(TAU2), "--goal", "refund_restricted_ticket", "-c", str(config),
        "--out", "tau2.yaml",
    )  # fmt: skip
    assert imported.exit_code == 0, imported.stderr

    learned = cli("learn", "-c", str(config), "--json")
    assert learned.exit_code == 0, learned.stderr
    summary = json.loads(learned.stdout)
    # the grid's learning part (24 cells, 12 per situation x 3) and the tau2 tasks
    assert summary["rounds"][0]["conversations"] == 60 + 30
    assert summary["generated_personas"] and not summary["failures"]

    entries = json.loads(cli("entries", "list", "-c", str(config), "--json").stdout)
    by_source: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_source.setdefault(entry["scenario"]["persona"]["source"], []).append(entry)
    assert set(by_source) == {"grid", "generated", "tau2", "transcript"}
    for source in ("generated", "tau2", "transcript"):
        assert all(e["scenario"]["persona"]["origin"] for e in by_source[source]), source
    assert "sam@example.org" not in json.dumps(by_source["transcript"])

    monkeypatch.setenv("COLUMNS", "160")
    rows = cli("entries", "list", "-c", str(config)).stdout.splitlines()
    assert "source" in rows[1]
    # a row's whole customer message wraps onto lines whose other cells are empty
    shown = {row.split("│")[3].strip() for row in rows if row.startswith("│")} - {""}
    assert shown == set(by_source)
