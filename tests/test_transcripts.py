"""Real chat transcripts: read in common export spellings, masked before any use, every prefix
ending with a customer message improved, and a bad line named with nothing stored."""

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from playbook.cli.main import app
from playbook.config import load_config
from playbook.files import ImportFileError
from playbook.runner import QuietReporter
from playbook.runs import import_transcripts
from playbook.store.core import Store
from playbook.transcripts import read_transcripts
from playbook.workspace import Workspace

MakeConfig = Callable[..., Path]
PII = ("jane.doe@example.com", "415 555 0134", "4111 1111 1111 1111", "SW4821", "emma_kim_9957")
CHATS = [
    {
        "id": "jane.doe@example.com/1",  # ids can hold personal details too
        "messages": [
            {"role": "agent", "text": "Hi, how can I help you today?"},
            {
                "role": "user",
                "content": "I need a full refund for my restricted ticket, I can't travel "
                "anymore. Booking SW4821, email jane.doe@example.com.",
            },
            {"role": "user", "content": "This is really frustrating."},
            {"role": "system", "content": "Customer verified."},
            {"role": "assistant", "content": "I can look into that for you."},
            {"role": "customer", "text": "I insist on a full refund. User id emma_kim_9957."},
        ],
    },
    {
        "conversation_id": 2,
        "turns": [
            {
                "sender": "Client",
                "body": [{"type": "text", "text": "My bag was delayed by more than a day "}],
            },
            {"sender": "client", "body": "and I want $500 compensation. +1 415 555 0134"},
            {"author": "operator", "message": "Let me check."},
            {"speaker": "visitor", "text": "Card 4111 1111 1111 1111 was charged. I'm worried."},
            {"speaker": "bot", "text": "Thank you."},
        ],
    },
]


def write(path: Path, conversations: list[object]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in conversations))
    return path


def test_every_prefix_ending_with_a_customer_message_is_a_scenario(tmp_path: Path) -> None:
    imported = read_transcripts(write(tmp_path / "chats.jsonl", CHATS))
    assert imported.conversations == 2 and imported.skipped_messages == 1
    first = [s for s in imported.scenarios if s.persona.id.startswith("transcript/[EMAIL]/1")]
    second = [s for s in imported.scenarios if s.persona.id == "transcript/2"]
    assert [len(s.turns) for s in first] == [2, 4] and [len(s.turns) for s in second] == [1, 3]
    assert all(s.turns[-1].speaker == "customer" for s in imported.scenarios)
    # Consecutive messages of one speaker are one turn; a list of content parts is its text.
    assert first[0].turns[1].text.endswith("email [EMAIL].\nThis is really frustrating.")
    assert second[0].turns[0].text.startswith("My bag was delayed by more than a day")
    persona = first[0].persona
    assert (persona.source, persona.goal, persona.emotion, persona.demanding) == (
        "transcript",
        "",
        "frustrated",
        True,
    )
    assert "chats.jsonl, line 1" in persona.origin


def test_personal_details_are_masked_before_anything_is_kept(tmp_path: Path) -> None:
    imported = read_transcripts(write(tmp_path / "chats.jsonl", CHATS))
    text = "\n".join(s.text() + s.persona.id + s.persona.origin for s in imported.scenarios)
    assert not [detail for detail in PII if detail in text]
    assert imported.masked == {
        "[EMAIL]": 2,
        "[ORDER]": 1,
        "[ACCOUNT_ID]": 1,
        "[PHONE]": 1,
        "[CARD]": 1,
    }
    # A masked id carries a digest of the original, so ids stay distinct (issue 13).
    assert re.fullmatch(r"transcript/\[EMAIL\]/1~[0-9a-f]{10}", imported.scenarios[0].persona.id)


async def test_import_learns_entries_and_no_model_or_store_sees_a_detail(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    chats = write(tmp_path / "chats.jsonl", CHATS)
    space = Workspace.open(load_config(make_config(tmp_path)))
    try:
        summary = await import_transcripts(space, chats, QuietReporter())
        entries = space.store.entries()
        calls = space.store.calls(summary["run"])
    finally:
        space.close()
    assert summary["scenarios"] == 4 and summary["kept"] == len(entries) > 0
    assert {e.scenario.persona.source for e in entries} == {"transcript"}
    assert {e.provenance.round for e in entries} == {1}
    seen = json.dumps([e.scenario.text() for e in entries])
    seen += json.dumps([[m.content for m in c.request.messages] + [c.output] for c in calls])
    assert calls and not [detail for detail in PII if detail in seen]
    assert "[EMAIL]" in seen


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([CHATS[0], "{not json"], "line 2: not valid JSON"),
        ([CHATS[0], {"id": 3, "messages": [{"role": "robot", "text": "hi"}]}], "line 2: message 1"),
        ([{"id": 3, "messages": [{"role": "user"}]}], "line 1: message 1: text: Field required"),
        ([{"id": 3, "messages": [{"role": "agent", "text": "Hi"}]}], "line 1: no customer message"),
        ([{"id": 3}], "line 1: messages: Field required"),
        ([CHATS[0], CHATS[0]], "appears more than once"),
        ([], "no conversations"),
    ],
)
def test_a_bad_file_is_named_by_line_and_nothing_is_stored(
    tmp_path: Path,
    make_config: MakeConfig,
    monkeypatch: pytest.MonkeyPatch,
    lines: list[object],
    message: str,
) -> None:
    config = make_config(tmp_path)
    path = tmp_path / "chats.jsonl"
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    with pytest.raises(ImportFileError, match=message):
        read_transcripts(path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["import", "transcripts", "chats.jsonl", "-c", str(config)])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: transcripts chats.jsonl: ")
    with Store.open(tmp_path / "playbook.db") as store:
        assert store.runs() == [] and store.entries() == []


def test_import_command_prints_what_it_did(
    tmp_path: Path, make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path)
    write(tmp_path / "chats.jsonl", CHATS)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["import", "transcripts", "chats.jsonl", "-c", str(config)])
    assert result.exit_code == 0, result.stderr
    assert "Masked before use: 2 [EMAIL]" in result.stdout
    listed = CliRunner().invoke(app, ["entries", "list", "-c", str(config)])
    assert "transcript" in listed.stdout
