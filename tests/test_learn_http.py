"""`playbook learn` against real OpenAI-compatible endpoints: the simulated world over HTTP."""

from collections.abc import Callable
from pathlib import Path

from playbook.config import load_config
from playbook.domain import load_domain
from playbook.embed import HashEmbedder
from playbook.runner import QuietReporter
from playbook.runs import learn
from playbook.sim.models import SimWorld
from playbook.sim.server import create_openai_app
from playbook.testing import serve_app
from playbook.workspace import Workspace, example_domain

MakeConfig = Callable[..., Path]


async def test_learn_through_the_openai_sdk_over_loopback_http(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    world = SimWorld(load_domain(example_domain("airline")))
    app = create_openai_app({n: world.model(n) for n in world.names()}, HashEmbedder())
    with serve_app(app) as base_url:
        models = {role: f"openai:{role}" for role in ("student", "teacher", "customer", "judge")}
        config_path = make_config(tmp_path, models=models)
        text = config_path.read_text()
        for role in models:
            text = text.replace(
                f'spec = "openai:{role}"\n',
                f'spec = "openai:{role}"\nbase_url = "{base_url}/v1"\napi_key_env = "SIM_KEY"\n'
                "price_input = 1.0\nprice_output = 2.0\n",
            )
        text += f'[embedder]\nspec = "openai:hash"\nbase_url = "{base_url}/v1"\n'
        config_path.write_text(text)
        workspace = Workspace.open(load_config(config_path), env={"SIM_KEY": "sk-test-123456789"})
        try:
            result = await learn(workspace, QuietReporter())
            entries = workspace.store.entries()
            stats = workspace.store.call_stats(result.run_id)
        finally:
            await workspace.aclose()
    assert result.kept > 0 and entries
    assert entries[0].provenance.models["teacher"] == "openai:teacher"
    assert stats["judge"].calls > 0 and stats["judge"].input_tokens > 0
    assert stats["teacher"].cost > 0  # prices are configured per million tokens
