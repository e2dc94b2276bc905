"""Serve settings from config, flags and environment; keys kept secret; refusals at startup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from playbook.cli.main import app
from playbook.config import Config, ConfigError, load_config
from playbook.embed import HashEmbedder
from playbook.server import Overrides, resolve_settings
from playbook.server.run import check_servable
from playbook.store.core import Store

SERVE = """
[serve]
upstream_base_url = "http://localhost:11434/v1/"
upstream_model = "qwen2.5:7b-instruct"
approved_only = true
record_content = true
api_keys = ["sk-from-file-0000000001"]
"""


def config(make_config: Any, tmp_path: Path, extra: str = "", **models: str) -> Config:
    return load_config(make_config(tmp_path, extra=extra, models=models or None))


def test_serve_section_flags_and_environment(make_config: Any, tmp_path: Path) -> None:
    cfg = config(make_config, tmp_path, SERVE + '[retrieval]\ninject = "last_message"\nk = 2\n')
    env = {"PLAYBOOK_API_KEYS": " sk-env-one-000000001 , sk-env-two-000000002,"}
    settings = resolve_settings(cfg, Overrides(port=9001, model="llama3"), env)
    assert settings.upstream_url == "http://localhost:11434/v1"
    assert settings.upstream_model == "llama3" and settings.port == 9001
    assert settings.approved_only and settings.statuses == ("approved",)
    assert (
        settings.inject == "last_message" and settings.retrieval.k == 2 and settings.record_content
    )
    assert settings.api_keys == {
        "sk-from-file-0000000001",
        "sk-env-one-000000001",
        "sk-env-two-000000002",
    }
    assert settings.playbook == tmp_path / "playbook.db"
    assert "sk-" not in repr(settings)


def test_keys_never_reach_a_dump_of_the_config(make_config: Any, tmp_path: Path) -> None:
    cfg = config(make_config, tmp_path, SERVE)
    assert "sk-from-file" not in str(cfg.model_dump()) + repr(cfg)


def test_the_upstream_defaults_to_the_configured_student(make_config: Any, tmp_path: Path) -> None:
    path = make_config(tmp_path, models={"student": "openai:qwen"})
    text = path.read_text().replace(
        'spec = "openai:qwen"\n',
        'spec = "openai:qwen"\nbase_url = "http://gpu:8000/v1"\napi_key_env = "VLLM_KEY"\n',
    )
    path.write_text(text)
    settings = resolve_settings(load_config(path), Overrides(), {"VLLM_KEY": "sk-vllm-000001"})
    assert settings.upstream_url == "http://gpu:8000/v1"
    assert settings.upstream_key == "sk-vllm-000001" and "sk-vllm" not in repr(settings)


@pytest.mark.parametrize(
    ("overrides", "env", "problem"),
    [
        (Overrides(), {}, "serve.upstream_base_url is missing"),
        (Overrides(upstream="localhost:8000"), {}, "must start with http"),
        (Overrides(upstream="http://x/v1", host="0.0.0.0"), {}, "no API keys"),
    ],
)
def test_refusals_say_what_to_fix(
    make_config: Any, tmp_path: Path, overrides: Overrides, env: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        resolve_settings(config(make_config, tmp_path), overrides, env)


def test_an_open_host_is_allowed_with_keys() -> None:
    overrides = Overrides(playbook=Path("p.db"), upstream="http://x/v1", host="0.0.0.0")
    settings = resolve_settings(None, overrides, {"PLAYBOOK_API_KEYS": "sk-1234567890"})
    assert settings.host == "0.0.0.0" and len(settings.api_keys) == 1


def test_a_missing_upstream_key_variable_is_named(make_config: Any, tmp_path: Path) -> None:
    extra = '[serve]\nupstream_base_url = "http://x/v1"\nupstream_api_key_env = "STUDENT_KEY"\n'
    cfg = config(make_config, tmp_path, extra)
    with pytest.raises(ConfigError, match="STUDENT_KEY, which is not set"):
        resolve_settings(cfg, Overrides(), {})
    assert resolve_settings(cfg, Overrides(), {"STUDENT_KEY": "k"}).upstream_key == "k"


def test_a_playbook_embedded_by_another_model_is_refused(tmp_path: Path, playbook: Any) -> None:
    check_servable(playbook.store, HashEmbedder())
    with pytest.raises(ConfigError, match="embedded 2 by 'hash-tfidf-v1-1024'"):
        check_servable(playbook.store, HashEmbedder(dim=64))
    with Store.open(tmp_path / "empty.db") as empty:
        check_servable(empty, HashEmbedder(dim=64))  # nothing to search is not a mismatch


def test_cli_startup_errors_end_in_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    upstream = ["--upstream", "http://127.0.0.1:9/v1"]
    missing = runner.invoke(app, ["serve", "--playbook", str(tmp_path / "none.db"), *upstream])
    assert missing.exit_code == 2
    assert "no playbook at" in missing.output and "Traceback" not in missing.output
    Store.open(tmp_path / "p.db").close()
    no_upstream = runner.invoke(app, ["serve", "--playbook", str(tmp_path / "p.db")])
    assert no_upstream.exit_code == 2 and "serve.upstream_base_url is missing" in no_upstream.output
