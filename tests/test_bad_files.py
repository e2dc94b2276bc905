"""Bad files and bad disks (issue 13): a YAML bomb, deep nesting, a byte order mark, a full disk
and a read-only playbook end in one line naming the file and the problem, with nothing
written; ids in exports and imports cannot break the Markdown or collapse into one."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result
from typer.testing import CliRunner

from playbook.cli.main import app
from playbook.domain import DomainError, load_domain, load_personas
from playbook.exchange import to_markdown
from playbook.store.core import Store
from playbook.store.exchange import EntryDump
from playbook.transcripts import read_transcripts
from playbook.types import Attempt, Entry, Persona, Provenance, Scenario, Turn, Verdict
from playbook.workspace import example_domain

DATA = Path(__file__).parent / "data" / "tau2"
BOMB = "".join(
    f"- &{name} [{', '.join([f'*{prev}'] * 9 if prev else ['lol'] * 9)}]\n"
    for prev, name in zip(["", "a", "b", "c", "d", "e", "f", "g"], "abcdefghi", strict=False)
)
PERSONA = {
    "id": "p1", "goal": "refund_restricted_ticket", "personality": "driver",
    "emotion": "frustrated", "demanding": True,
}  # fmt: skip
CHAT = {"id": "c-1", "messages": [{"role": "customer", "text": "I want a refund now!"}]}


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    assert cli("init").exit_code == 0
    return tmp_path


def one_line_error(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert len(result.stderr) < 400, result.stderr[:400]
    for word in words:
        assert word in result.stderr, result.stderr


def test_a_yaml_bomb_is_refused_in_one_short_line(tmp_path: Path) -> None:
    # Bug: 400 bytes of nested aliases expanded into a 312 MB error message (about 70 s).
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    assert len(BOMB) < 500
    with pytest.raises(DomainError) as caught:
        load_personas(path, load_domain(example_domain("airline")))
    message = str(caught.value)
    assert "\n" not in message and len(message) < 200
    assert str(path) in message and "aliases" in message


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_deeply_nested_persona_file_is_one_line(tmp_path: Path, suffix: str) -> None:
    # Bug: a RecursionError traceback of more than a hundred lines.
    path = tmp_path / f"deep{suffix}"
    path.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(DomainError, match="nested too deeply") as caught:
        load_personas(path, load_domain(example_domain("airline")))
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_persona_file_with_a_byte_order_mark_is_read(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"bom{suffix}"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps([PERSONA]).encode())
    personas = load_personas(path, load_domain(example_domain("airline")))
    assert [p.id for p in personas] == ["p1"]


def test_a_transcript_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "chats.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(CHAT).encode() + b"\n")
    assert read_transcripts(path).conversations == 1


def test_deeply_nested_tau2_tasks_are_one_line_and_nothing_is_written(project: Path) -> None:
    (project / "tasks.json").write_text("[" * 5000 + "]" * 5000)
    result = cli(
        "import", "tau2", "tasks.json", "--goal", "refund_restricted_ticket", "-c",
        "playbook.toml", "--out", "p.yaml",
    )  # fmt: skip
    one_line_error(result, "tasks.json", "nested too deeply")
    assert not (project / "p.yaml").exists()


def test_a_deeply_nested_transcript_line_is_one_line(project: Path) -> None:
    nested = {"id": "c", "messages": [{"role": "customer", "text": "hi"}], "x": None}
    line = json.dumps(nested).replace("null", "[" * 5000 + "]" * 5000)
    (project / "chats.jsonl").write_text(line + "\n")
    result = cli("import", "transcripts", "chats.jsonl", "-c", "playbook.toml")
    one_line_error(result, "chats.jsonl", "line 1")


def limited_run(args: list[str], cwd: Path, max_bytes: int) -> subprocess.CompletedProcess[str]:
    """The CLI in a process that may write no file larger than `max_bytes`: a full disk for
    every file it writes (the write fails with EFBIG instead of ENOSPC; SIGXFSZ is ignored)."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    command = [sys.executable, "-c", "from playbook.cli.main import main; main()", *args]
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, preexec_fn=limit, timeout=120
    )


def test_a_full_disk_while_writing_personas_is_one_line_and_leaves_nothing(
    project: Path,
) -> None:
    # Bug: the OSError from the write ended in a traceback.
    args = ["import", "tau2", str(DATA / "airline_tasks_train.json"), "-c", "playbook.toml"]
    args += ["--goal", "refund_restricted_ticket", "--out", "tau2.yaml"]
    result = limited_run(args, project, 2000)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "tau2.yaml" in result.stderr and "nothing was written" in result.stderr
    assert not [p for p in project.iterdir() if p.name.startswith((".tau2", "tau2"))]


def test_a_full_disk_under_the_playbook_is_one_line(project: Path) -> None:
    (project / "chats.jsonl").write_text(json.dumps(CHAT) + "\n")
    result = limited_run(
        ["import", "transcripts", "chats.jsonl", "-c", "playbook.toml"], project, 0
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "playbook.db" in result.stderr


@contextmanager
def read_only_sqlite() -> Iterator[None]:
    """Every SQLite connection opened meanwhile refuses writes, as a read-only file makes it
    (root, who runs CI here, writes to a chmod 0400 file anyway)."""

    def refuse_writes(connection: Any, _record: object) -> None:
        connection.execute("PRAGMA query_only=1")

    sa.event.listen(sa.engine.Engine, "connect", refuse_writes)
    try:
        yield
    finally:
        sa.event.remove(sa.engine.Engine, "connect", refuse_writes)


def test_a_read_only_playbook_is_one_line(project: Path) -> None:
    # Bug: "attempt to write a readonly database" ended in a long traceback.
    (project / "chats.jsonl").write_text(json.dumps(CHAT) + "\n")
    Store.open(project / "playbook.db").close()
    with read_only_sqlite():
        result = cli("import", "transcripts", "chats.jsonl", "-c", "playbook.toml")
    one_line_error(result, "playbook.db", "read-only", "nothing was written")
    with Store.open(project / "playbook.db") as store:
        assert not store.entries()


def dump(persona_id: str) -> EntryDump:
    persona = Persona(persona_id, "refund_restricted_ticket", "driver", "frustrated", True)
    baseline = Attempt((), "No.", Verdict(1, "Unhelpful."))
    provenance = Provenance(
        "run\n# Heading", 1, "ref", baseline, (Attempt(("Be kind.",), "ok", Verdict(4, "ok")),)
    )
    entry = Entry(
        7, Scenario(persona, (Turn("customer", "hi"),)), ("Be kind.",), provenance, "approved"
    )
    return EntryDump(entry, datetime.now(UTC), "hash", b"", (), ())


def test_an_id_with_a_newline_cannot_put_markup_into_the_markdown_export() -> None:
    # Bug: the id sat in a code span, and a line break ended the span: the rest was raw HTML.
    text = to_markdown([dump("p1\n\n<img src=x onerror=alert(1)>\n## Fake heading")], "Export")
    lines = text.splitlines()
    assert not [line for line in lines if line.startswith(("<", "## Fake"))], text
    assert not [line for line in lines if line.startswith("# Heading")]
    persona_line = next(line for line in lines if line.startswith("- Persona"))
    assert "<img src=x onerror=alert(1)> ## Fake heading" in persona_line  # inside `...`


def test_transcript_ids_holding_emails_stay_distinct_and_hold_no_email(tmp_path: Path) -> None:
    # Bug: every id masked to "[EMAIL]", so the file was refused for duplicate ids.
    path = tmp_path / "chats.jsonl"
    ids = ["jane.doe@example.com", "bob@example.org", "ticket-42"]
    path.write_text("".join(json.dumps({**CHAT, "id": i}) + "\n" for i in ids))
    names = [s.persona.id for s in read_transcripts(path).scenarios]
    again = [s.persona.id for s in read_transcripts(path).scenarios]
    assert names == again and len(set(names)) == 3
    assert not [n for n in names if "@" in n]
