"""`playbook check`: one tiny request per role through the openai SDK, one line per failing
endpoint, an estimate of the run, and nothing written."""

import json
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from fastapi import Request, Response
from fastapi.responses import JSONResponse

from playbook.domain import load_domain
from playbook.embed import HashEmbedder
from playbook.sim.models import SimWorld
from playbook.sim.server import create_openai_app
from playbook.testing import serve_app
from playbook.workspace import example_domain

PLAYBOOK = str(Path(sys.executable).with_name("playbook"))
ROLES = ("student", "teacher", "customer", "judge")
KEY = "sk-right-key-1234567890"


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [PLAYBOOK, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    """The simulated world over HTTP, refusing any request without the right key."""
    world = SimWorld(load_domain(example_domain("airline")))
    app = create_openai_app({n: world.model(n) for n in world.names()}, HashEmbedder())

    @app.middleware("http")
    async def require_key(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            message = {"message": "Incorrect API key provided", "type": "invalid_request_error"}
            return JSONResponse({"error": message}, status_code=401)
        return await call_next(request)

    with serve_app(app) as url:
        yield url


def write_config(
    folder: Path, base_urls: dict[str, str], names: dict[str, str] | None = None
) -> None:
    text = f'domain = "{example_domain("airline")}"\nplaybook = "playbook.db"\n'
    for role in ROLES:
        name = (names or {}).get(role, role)
        text += (
            f'[models.{role}]\nspec = "openai:{name}"\nbase_url = "{base_urls[role]}"\n'
            'api_key_env = "SIM_KEY"\nprice_input = 1.0\nprice_output = 2.0\n'
        )
    text += '[learn]\nrounds = 2\ngoals = ["refund_restricted_ticket"]\n'
    (folder / "playbook.toml").write_text(text)


def refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again: nothing listens there


def test_every_role_answers_over_http_and_the_run_is_estimated(
    tmp_path: Path, sim_url: str
) -> None:
    write_config(tmp_path, dict.fromkeys(ROLES, f"{sim_url}/v1"))
    result = run("check", "--json", cwd=tmp_path, env={"SIM_KEY": KEY})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [e["role"] for e in report["endpoints"]] == list(ROLES)
    assert all(e["ok"] and e["where"] == f"{sim_url}/v1" for e in report["endpoints"])
    estimate = report["estimate"]
    assert estimate["rounds"] == 2 and estimate["personas"] > 0
    assert 0 < estimate["calls"] <= estimate["max_calls"]
    assert 0 < estimate["cost"] <= estimate["max_cost"]  # prices are configured
    assert not (tmp_path / "playbook.db").exists()  # a check writes nothing

    limited = json.loads(
        run("check", "--json", "--limit", "2", cwd=tmp_path, env={"SIM_KEY": KEY}).stdout
    )
    assert limited["estimate"]["personas"] == 2
    assert limited["estimate"]["max_calls"] < estimate["max_calls"]


def test_each_failing_endpoint_is_one_line_saying_what_to_fix(tmp_path: Path, sim_url: str) -> None:
    urls = {
        "student": f"http://127.0.0.1:{refused_port()}/v1",
        "teacher": sim_url,  # /v1 left out
        "customer": f"{sim_url}/v1",
        "judge": f"{sim_url}/v1",
    }
    write_config(tmp_path, urls, names={"customer": "no-such-model"})
    result = run("check", cwd=tmp_path, env={"SIM_KEY": KEY})
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    by_role = {line.split(":")[1].strip(): line for line in errors if "did not answer" not in line}
    assert set(by_role) == {"student", "teacher", "customer"}
    assert "connection refused" in by_role["student"] and urls["student"] in by_role["student"]
    assert f"try {sim_url}/v1" in by_role["teacher"]
    assert "'no-such-model' not found" in by_role["customer"]
    assert "judge: ok" in result.stdout
    assert "3 of 4 models did not answer" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_refused_key_is_named_and_never_printed(tmp_path: Path, sim_url: str) -> None:
    write_config(tmp_path, dict.fromkeys(ROLES, f"{sim_url}/v1"))
    wrong = "sk-wrong-key-0987654321"
    result = run("check", cwd=tmp_path, env={"SIM_KEY": wrong})
    assert result.returncode == 2
    assert result.stderr.count("refused the API key (401") == 4
    assert "SIM_KEY" in result.stderr
    assert wrong not in result.stdout + result.stderr


def test_a_simulated_config_checks_offline_and_writes_nothing(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    result = run("check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok, sim:") == 4
    assert "playbook learn: 48 personas" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["domain.toml", "playbook.toml"]


def test_limit_learns_and_evaluates_on_the_first_personas_only(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    config = tmp_path / "playbook.toml"
    config.write_text(config.read_text().replace("rounds = 3", "rounds = 1"))
    learned = run("learn", "--limit", "2", "--json", cwd=tmp_path)
    assert learned.returncode == 0, learned.stderr
    summary = json.loads(learned.stdout)
    assert summary["rounds"][0]["conversations"] == 2
    assert summary["calls"]["customer"]["calls"] <= 2 * 6  # two conversations of max_turns

    evaluated = run("eval", "--limit", "1", "--json", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    sets = json.loads(evaluated.stdout)["sets"]
    each = {name: s["personas"] for name, s in sets.items() if name != "held_out"}  # the union
    assert len(each) > 1 and set(each.values()) == {1}

    # A resumed run is the run it was: another limit is another run.
    again = run("learn", "--resume", "--limit", "3", cwd=tmp_path)
    assert again.returncode == 2 and "Traceback" not in again.stderr


def test_an_embedding_endpoint_is_checked_too(tmp_path: Path, sim_url: str) -> None:
    write_config(tmp_path, dict.fromkeys(ROLES, f"{sim_url}/v1"))
    config = tmp_path / "playbook.toml"
    refused = f"http://127.0.0.1:{refused_port()}/v1"
    config.write_text(
        config.read_text()
        + f'[embedder]\nspec = "openai:hash"\nbase_url = "{refused}"\napi_key_env = "SIM_KEY"\n'
    )
    result = run("check", cwd=tmp_path, env={"SIM_KEY": KEY})
    assert result.returncode == 2
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error: embedder")]
    assert refused in line and "1 of 5 models did not answer" in result.stderr

    config.write_text(config.read_text().replace(refused, f"{sim_url}/v1"))
    fixed = run("check", cwd=tmp_path, env={"SIM_KEY": KEY})
    assert fixed.returncode == 0, fixed.stderr
    assert "embedder: ok, openai:hash" in fixed.stdout
