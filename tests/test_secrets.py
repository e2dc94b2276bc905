"""API keys never reach the database, logs, reports or pages: plant one and search every output."""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from playbook.config import load_config
from playbook.sim.models import SimWorld
from playbook.sim.server import create_openai_app
from playbook.testing import HashEmbedder, serve_app

PLAYBOOK = str(Path(sys.executable).with_name("playbook"))
KEY = "sk-planted-0123456789abcdef-SECRET"
MakeConfig = Callable[..., Path]


def requiring_key(app, key: str):  # type: ignore[no-untyped-def]
    """The upstream checks the bearer key, and echoes a wrong one back like OpenAI's 401 does."""

    async def checked(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            auth = dict(scope["headers"]).get(b"authorization", b"").decode()
            if auth != f"Bearer {key}":
                body = f'{{"error": {{"message": "Incorrect API key provided: {auth[7:]}"}}}}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body.encode()})
                return
        await app(scope, receive, send)

    return checked


def everything_written(folder: Path) -> bytes:
    """Every file the tool wrote (the configs are the user's own input)."""
    return b"".join(
        p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.suffix != ".toml"
    )


def test_a_planted_key_appears_in_no_output(
    tmp_path: Path, make_config: MakeConfig, airline
) -> None:  # type: ignore[no-untyped-def]
    world = SimWorld(airline)
    upstream = create_openai_app({n: world.model(n) for n in world.names()}, HashEmbedder())
    env = {**os.environ, "PLANTED_KEY": KEY, "PLAYBOOK_API_KEYS": "client-key-1234567890"}
    outputs: list[str] = []

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [PLAYBOOK, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        outputs.extend((done.stdout, done.stderr))
        return done

    with serve_app(requiring_key(upstream, KEY)) as url:
        config = make_config(tmp_path)
        text = config.read_text()
        for role in ("student", "teacher", "customer", "judge"):
            text = text.replace(
                f'spec = "sim:{role}"\n',
                f'spec = "openai:{role}"\nbase_url = "{url}/v1"\napi_key_env = "PLANTED_KEY"\n',
            )
        text += (
            f'[serve]\nupstream_base_url = "{url}/v1"\nupstream_api_key_env = "PLANTED_KEY"\n'
            'api_keys = ["client-key-in-config-0987654321"]\n'
        )
        config.write_text(text)
        assert cli("learn", "--config", "playbook.toml", "--json").returncode == 0
        assert cli("eval", "--config", "playbook.toml", "--report", "report").returncode == 0
        env["PLANTED_KEY"] = KEY[::-1]  # a wrong key: the server echoes it back in its 401
        other = tmp_path / "other.toml"
        other.write_text(text.replace('playbook = "playbook.db"', 'playbook = "other.db"'))
        refused = cli("learn", "--config", "other.toml")
        assert refused.returncode == 2 and "PLANTED_KEY" in refused.stderr
        env["PLANTED_KEY"] = KEY
        pages = served_pages(tmp_path / "playbook.toml", env)
    outputs += pages
    for secret in (KEY, KEY[::-1], "client-key-1234567890", "client-key-in-config-0987654321"):
        assert secret.encode() not in everything_written(tmp_path), "written to a file"
        assert not any(secret in text for text in outputs), "printed or served"


def served_pages(config: Path, env: dict[str, str]) -> list[str]:
    """Every page of the proxy, called with the client key."""
    from playbook.embed import build_embedder
    from playbook.server import Overrides, create_app, resolve_settings
    from playbook.store.core import Store

    loaded = load_config(config)
    settings = resolve_settings(loaded, Overrides(), env)
    store = Store.open(loaded.playbook)
    try:
        app = create_app(settings, store, build_embedder(loaded.embedder, env))
        with serve_app(app) as url:
            auth = {"Authorization": "Bearer client-key-1234567890"}
            chat = {
                "model": "student",
                "messages": [{"role": "user", "content": "I want a refund"}],
            }
            answers = [
                httpx.post(f"{url}/v1/chat/completions", json=chat, headers=auth, timeout=30),
                httpx.post(f"{url}/v1/guidance", json=chat, headers=auth, timeout=30),
                httpx.get(f"{url}/v1/models", headers=auth, timeout=30),
                httpx.get(f"{url}/healthz", timeout=30),
                httpx.get(f"{url}/metrics", timeout=30),
                httpx.post(f"{url}/v1/chat/completions", json=chat, timeout=30),  # no key: 401
            ]
    finally:
        store.close()
    assert answers[0].status_code == 200, answers[0].text
    return [f"{a.headers}\n{a.text}" for a in answers]
