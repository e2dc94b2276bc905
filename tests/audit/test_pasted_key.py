"""A key pasted into `api_key_env` instead of a variable's name (issue 16): every command refuses
it in one line that does not repeat it, before anything is recorded, so the key reaches no
output, no table of the playbook and no page of the audit UI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from playbook.cli.main import app as cli
from playbook.workspace import example_domain

KEY = "sk-proj-Pasted0123456789abcdefSECRET"
COMMANDS = [
    ["learn"],
    ["learn", "--resume"],
    ["eval"],
    ["entries", "list"],
    ["entries", "reembed"],
    ["serve"],
    ["audit"],
]


@pytest.fixture
def pasted(playbook: Any, tmp_path: Path) -> Path:
    """A config for the suite's playbook whose teacher has the key itself as `api_key_env`."""
    config = tmp_path / "pasted.toml"
    config.write_text(
        f'domain = "{example_domain("airline")}"\nplaybook = "{playbook.path}"\n'
        + "".join(f'[models.{r}]\nspec = "sim:{r}"\n' for r in ("student", "customer", "judge"))
        + f'[models.teacher]\nspec = "openai:gpt-4o"\napi_key_env = "{KEY}"\n'
        + '[embedder]\nspec = "hash"\n'
    )
    return config


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_pasted_key_is_refused_in_one_line_that_does_not_repeat_it(
    pasted: Path, command: list[str]
) -> None:
    result = CliRunner().invoke(cli, [*command, "--config", str(pasted)])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert "models.teacher.api_key_env" in result.stderr and "not the key itself" in result.stderr
    assert KEY[:12] not in result.output


def test_a_refused_key_reaches_no_table_and_no_audit_page(
    pasted: Path, playbook: Any, server: str, kit: Any
) -> None:
    before = [r.id for r in playbook.store.runs()]
    for command in COMMANDS:
        CliRunner().invoke(cli, [*command, "--config", str(pasted)])
    runs = playbook.store.runs()
    assert [r.id for r in runs] == before  # nothing was recorded: no run, no stored config
    assert not any(KEY[:12] in str(r.config) for r in runs)
    files = [playbook.path, *playbook.path.parent.glob(f"{playbook.path.name}-*")]
    assert not any(KEY[:12].encode() in f.read_bytes() for f in files)
    pages = ["/runs", "/runs.json", *(f"/runs/{r.id}{ext}" for r in runs for ext in ("", ".json"))]
    for page in pages:
        answer = httpx.get(server + page, headers=kit.bearer)
        assert answer.status_code == 200, (page, answer.status_code)
        assert KEY[:12] not in answer.text, page
