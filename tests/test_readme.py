"""The README as a new user follows it (issue 16): its commands and code blocks, as written, on a
fresh directory. Bug: the library example crashed (`Store.open` took only a Path, and the
example's embedder was not the one the playbook was learned with).

Not run here: the `make` targets (they build the environment these tests run in), commands with
placeholders (`[--out FILE]`, `tasks.json`), and the serving examples (tests/server runs the
proxy itself).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from playbook.config import Config
from playbook.domain import example_domain, load_domain, load_personas

README = Path(__file__).resolve().parent.parent / "README.md"
PLAYBOOK = str(Path(sys.executable).with_name("playbook"))
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def section(title: str) -> str:
    """The README's text under a `##` or `###` heading, up to the next heading."""
    text = README.read_text()
    found = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ )", text, re.MULTILINE | re.DOTALL)
    assert found, f"no section {title!r} in the README"
    return found.group(1)


def blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == language]


def run_commands(block: str, cwd: Path) -> list[str]:
    """Each command of a shell block, as written (comments dropped); their outputs."""
    outputs = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        assert words[0] == "playbook", line
        done = subprocess.run(
            [PLAYBOOK, *words[1:]], cwd=cwd, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{line}\n{done.stderr}"
        outputs.append(done.stdout)
    return outputs


def test_the_users_path_and_the_library_example_run_as_written(tmp_path: Path) -> None:
    [path] = blocks(section("Using it on your own models"), "sh")
    outputs = run_commands(path, tmp_path)
    assert "Guidelines" in outputs[-1]  # `entries show 12`
    [library] = blocks(section("Library"), "python")
    (tmp_path / "example.py").write_text(library)
    done = subprocess.run(
        [sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    guidance = done.stdout.strip()
    assert guidance.startswith("(") and len(guidance) > 10, guidance  # guidelines were found

    # Chat transcripts, from the config's folder: the example line is a transcript file.
    folder = tmp_path / "my-agent"
    [line] = blocks(section("Chat transcripts"), "json")
    (folder / "chats.jsonl").write_text(line)
    [command] = blocks(section("Chat transcripts"), "sh")
    run_commands(command, folder)


def test_every_config_example_is_a_valid_config() -> None:
    starter = tomllib.loads(example_domain("airline").with_name("playbook.toml").read_text())
    examples = blocks(README.read_text(), "toml")
    assert len(examples) >= 3
    for example in examples:
        Config.model_validate(merged(starter, tomllib.loads(example)))


def merged(base: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """`more` laid over `base`, table by table."""
    out = dict(base)
    for key, value in more.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merged(out[key], value) if both else value
    return out


def test_the_persona_example_is_a_valid_persona_file(tmp_path: Path) -> None:
    [example] = blocks(section("Personas"), "yaml")
    (tmp_path / "vip.yaml").write_text(example)
    [persona] = load_personas(tmp_path / "vip.yaml", load_domain(example_domain("airline")))
    assert persona.id == "worried-parent"
