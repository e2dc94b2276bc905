"""Shared fixtures: the airline example domain and its simulated roles; hypothesis profiles."""

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from playbook.domain import load_domain
from playbook.pgtest import PostgresUnavailable, TemporaryPostgres
from playbook.roles import Roles, prompt_environment
from playbook.sim.models import SimWorld
from playbook.types import PERSONALITIES, Domain
from playbook.workspace import example_domain

# `make test` and CI draw the same examples on every run (a seed per test, no example database,
# no deadline: a loaded machine is not a failure), so a red build is a real failure that
# reproduces. HYPOTHESIS_PROFILE=explore draws new, and more, examples to look for new bugs.
settings.register_profile("deterministic", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[TemporaryPostgres]:
    """A real PostgreSQL server for the whole session (initdb into a temporary folder, a free
    port), stopped and deleted at the end. Without PostgreSQL binaries the tests that need it
    are skipped, unless PLAYBOOK_REQUIRE_POSTGRES is set (`make test` sets it): then they fail."""
    try:
        server = TemporaryPostgres().start()
    except (PostgresUnavailable, ImportError) as exc:
        if os.environ.get("PLAYBOOK_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required here: {exc}")
        pytest.skip(f"no PostgreSQL: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres: TemporaryPostgres) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    url = postgres.new_database()
    yield url
    postgres.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def playbook_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's playbook lives, once per backend: a new SQLite file, then a new
    PostgreSQL database (its URL)."""
    if request.param == "sqlite":
        return tmp_path / "playbook.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def airline() -> Domain:
    return load_domain(example_domain("airline"))


@pytest.fixture
def sim_roles(airline: Domain) -> Roles:
    world = SimWorld(airline)
    return Roles(
        airline,
        student=world.model("student"),
        teacher=world.model("teacher"),
        customer=world.model("customer"),
        judge=world.model("judge"),
        prompts=prompt_environment(),
    )


PERSONAS = [
    {
        "id": f"p-{personality}-{emotion}",
        "goal": "refund_restricted_ticket",
        "personality": personality,
        "emotion": emotion,
        "demanding": emotion == "frustrated",
    }
    for personality in PERSONALITIES
    for emotion in ("frustrated", "confused")
]


def _write_config(
    folder: Path,
    *,
    extra: str = "",
    models: dict[str, str] | None = None,
    playbook: Path | str = "playbook.db",
) -> Path:
    (folder / "personas.json").write_text(json.dumps(PERSONAS))
    specs = {
        "student": "sim:student",
        "teacher": "sim:teacher",
        "customer": "sim:customer",
        "judge": "sim:judge",
        **(models or {}),
    }
    text = f'domain = "{example_domain("airline")}"\nplaybook = "{playbook}"\n'
    for role, spec in specs.items():
        text += f'[models.{role}]\nspec = "{spec}"\n'
    text += '[learn]\nrounds = 2\npersonas = "personas.json"\nconcurrency = 4\n' + extra
    path = folder / "playbook.toml"
    path.write_text(text)
    return path


MakeConfig = Callable[..., Path]


@pytest.fixture
def make_config() -> MakeConfig:
    """Writes a config for 8 airline personas on the simulated world; override models/extra,
    or the playbook (a file name or a PostgreSQL URL)."""
    return _write_config
