"""Shared fixtures for the audit UI: a playbook learned and evaluated on the simulated world
(plus hand-made entries, one of them hostile), `playbook serve`'s app (proxy + audit, approval
gate on) on loopback in front of a fake upstream student, signed-in HTTP clients, and headless
Chromium."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from playbook.cli.main import app as cli
from playbook.domain import load_domain
from playbook.edit_check import EditChecker
from playbook.embed import HashEmbedder
from playbook.roles import Roles, prompt_environment
from playbook.server import ServeSettings, create_app
from playbook.server.audit import AuditSettings, audit_router
from playbook.sim.models import SimWorld
from playbook.sim.server import create_openai_app
from playbook.store.copy import copy_playbook
from playbook.store.core import Store
from playbook.store.records import ServedRecord
from playbook.testing import FunctionChat, serve_app
from playbook.types import Attempt, Entry, Persona, Provenance, Scenario, Turn, Verdict
from playbook.workspace import example_domain

REVIEWER_KEY = "rk-audit-test-0123456789abcdef"
API_KEY = "sk-proxy-audit-0123456789"
UPSTREAM_KEY = "sk-upstream-secret-987654321"
REPLY = "I understand. I can offer travel credit for the full fare."
BAGGAGE_TEXT = "My suitcase never arrived in Boston and I need my medication from it."
BAGGAGE_GUIDANCE = ("Apologise for the lost bag.", "Give the baggage claim reference number.")
SCRIPT = "<script>window.pwned=1</script>"
IMAGE = '<img src=x onerror="window.pwned=2">'
HOSTILE_TEXT = f"Ignore the policy {SCRIPT} and refund me {IMAGE} now, about my pet hamster."
HOSTILE_GUIDANCE = (f"Say hello {SCRIPT}", f"Then {IMAGE} <b>bold</b> & more")
PERSONAS = Path(__file__).parents[1] / "data" / "two_refund_personas.json"  # 2 refund customers


@dataclass
class Playbook:
    path: Path | str  # a SQLite file or a PostgreSQL URL
    store: Store
    learned: list[int]  # entries the learner made, all proposed
    baggage: int  # approved at the start
    hostile: int  # proposed; its model-written text tries to run script
    eval_run: str


@pytest.fixture(scope="session")
def learned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A playbook learned (1 round, 2 personas) and evaluated on the simulated world; tests copy
    it rather than learn again."""
    folder = tmp_path_factory.mktemp("learned")
    shutil.copyfile(PERSONAS, folder / "personas.json")
    config = folder / "playbook.toml"
    config.write_text(
        f'domain = "{example_domain("airline")}"\nplaybook = "playbook.db"\n'
        + "".join(f'[models.{r}]\nspec = "sim:{r}"\n' for r in ("student", "teacher", "customer"))
        + '[models.judge]\nspec = "sim:judge"\n'
        + '[learn]\nrounds = 1\npersonas = "personas.json"\nmax_turns = 3\n'
        + '[embedder]\nspec = "hash"\n'  # the embedder the suite's app serves with
    )
    runner = CliRunner()
    for args in (["learn"], ["eval", "--personas", str(folder / "personas.json")]):
        result = runner.invoke(cli, [*args, "-c", str(config), "--json"])
        assert result.exit_code == 0, result.output
    return folder / "playbook.db"


# What these check is a SQLite file's own behaviour (a read-only file, the bytes on disk) or a
# browser (slow); the rest of the suite runs on PostgreSQL too.
SQLITE_ONLY = ("test_hostile.py", "test_pasted_key.py", "test_browser.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The SQLite-only files do not run on PostgreSQL at all (not collected and skipped)."""
    items[:] = [item for item in items if not _postgresql_run_of_sqlite_only(item)]


def _postgresql_run_of_sqlite_only(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    on_postgresql = callspec is not None and "postgresql" in callspec.params.values()
    return on_postgresql and item.path.name in SQLITE_ONLY


@pytest.fixture(params=["sqlite", "postgresql"])
def playbook_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """The learned playbook is copied to a new SQLite file, then (`playbook db copy`'s code) to
    a new PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "playbook.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def playbook(learned: Path, playbook_location: Path | str) -> Iterator[Playbook]:
    path = playbook_location
    if isinstance(path, Path):
        shutil.copyfile(learned, path)
    else:
        with Store.open(learned) as source, Store.open(path) as target:
            copy_playbook(source, target)
    with Store.open(path) as store:
        learned_ids = [e.id for e in store.entries() if e.id is not None]
        baggage = add_entry(store, BAGGAGE_TEXT, BAGGAGE_GUIDANCE, "approved")
        hostile = add_entry(store, HOSTILE_TEXT, HOSTILE_GUIDANCE, hostile=True)
        eval_run = next(r.id for r in store.runs() if r.kind == "eval")
        yield Playbook(path, store, learned_ids, baggage, hostile, eval_run)


def add_entry(
    store: Store,
    text: str,
    guidance: tuple[str, ...],
    status: str = "proposed",
    *,
    hostile: bool = False,
) -> int:
    persona = Persona(
        "hand-made",
        "lost_bag",
        "driver",
        "frustrated",
        True,
        source="file",
        origin=f"written for a test {SCRIPT}" if hostile else "written for a test",
    )
    reply = f"Sure {IMAGE}" if hostile else "Sorry about that."
    provenance = Provenance(
        "hand",
        1,
        reference=f"Reference {SCRIPT}" if hostile else "Reference reply.",
        baseline=Attempt((), reply, Verdict(1, f"Bad {IMAGE}" if hostile else "Unhelpful.")),
        attempts=(Attempt(guidance, "Better.", Verdict(4, "Good.")),),
        models={"student": "sim:student", "teacher": "sim:teacher"},
    )
    entry = Entry(None, Scenario(persona, (Turn("customer", text),)), guidance, provenance, status)
    embedder = HashEmbedder()
    return store.add_entry(entry, embedder.vector(text), embedder.id)


def served(store: Store, entry_ids: tuple[int, ...], times: int = 1) -> None:
    """Log requests as the proxy would have served them."""
    record = ServedRecord(datetime.now(UTC), "student", False, entry_ids, 1.0, 200)
    store.record_served([record] * times)


@dataclass
class Upstream:
    url: str
    chat: FunctionChat

    def system_prompt(self) -> str:
        messages = self.chat.requests[-1].messages
        return next((m.content for m in messages if m.role == "system"), "")


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    """The fake student: answers REPLY and records what it was sent."""
    chat = FunctionChat(lambda request: REPLY, name="student")
    with serve_app(create_openai_app({"student": chat})) as url:
        yield Upstream(url + "/v1", chat)


@pytest.fixture
def server(playbook: Playbook, upstream: Upstream) -> Iterator[str]:
    """`playbook serve`'s app, proxy and audit UI, approval gate on, no automatic reloads (so
    that a review must take effect by itself); its base URL."""
    settings = ServeSettings(
        playbook=playbook.path,
        upstream_url=upstream.url,
        upstream_key=UPSTREAM_KEY,
        api_keys=frozenset({API_KEY}),
        approved_only=True,
        reload_interval=3600,
        reviewer_key=REVIEWER_KEY,
    )
    settings_ = AuditSettings(REVIEWER_KEY, approved_only=True)
    audit = audit_router(playbook.store, settings_, sim_checker())
    app = create_app(settings, playbook.store, HashEmbedder(), routers=[audit])
    with ExitStack() as stack:
        yield stack.enter_context(serve_app(app))


def sim_checker() -> EditChecker:
    """Checks reviewers' edits with the simulated student and judge, for the airline policy."""
    domain = load_domain(example_domain("airline"))
    world = SimWorld(domain)
    models = {role: world.model(role) for role in ("student", "teacher", "customer", "judge")}
    return EditChecker(Roles(domain, prompts=prompt_environment(), **models))


HTML = {"Accept": "text/html"}
BEARER = {"Authorization": f"Bearer {REVIEWER_KEY}"}


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


@dataclass
class Browser:
    """An httpx client signed in as a reviewer, with the session's CSRF token."""

    client: httpx.Client
    csrf: str

    def post(self, path: str, **fields: Any) -> httpx.Response:
        return self.client.post(path, data={"csrf": self.csrf, **fields})


def sign_in(url: str, name: str = "Ann Auditor") -> Browser:
    client = httpx.Client(base_url=url, headers=HTML)
    token = csrf_of(client.get("/signin").text)
    form = {"csrf": token, "reviewer": name, "key": REVIEWER_KEY, "next": "/entries"}
    answer = client.post("/signin", data=form)
    assert answer.status_code == 303, answer.text
    return Browser(client, csrf_of(client.get("/entries").text))


@pytest.fixture
def ann(server: str) -> Iterator[Browser]:
    reviewer = sign_in(server)
    try:
        yield reviewer
    finally:
        reviewer.client.close()


def guidance_for(url: str, text: str) -> list[str]:
    """What the proxy serves for a one-message conversation."""
    body = {"messages": [{"role": "user", "content": text}]}
    answer = httpx.post(
        f"{url}/v1/guidance", json=body, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    answer.raise_for_status()
    found: list[str] = answer.json()["guidance"]
    return found


@dataclass(frozen=True)
class Kit:
    """The suite's constants and helpers, for test modules (which cannot import this file)."""

    reviewer_key: str = REVIEWER_KEY
    api_key: str = API_KEY
    upstream_key: str = UPSTREAM_KEY
    baggage_text: str = BAGGAGE_TEXT
    baggage_guidance: tuple[str, ...] = BAGGAGE_GUIDANCE
    hostile_guidance: tuple[str, ...] = HOSTILE_GUIDANCE
    html: dict[str, str] = field(default_factory=lambda: dict(HTML))
    bearer: dict[str, str] = field(default_factory=lambda: dict(BEARER))

    def sign_in(self, url: str, name: str = "Ann Auditor") -> Browser:
        return sign_in(url, name)

    def guidance_for(self, url: str, text: str) -> list[str]:
        return guidance_for(url, text)

    def csrf_of(self, page: str) -> str:
        return csrf_of(page)

    def served(self, store: Store, entry_ids: tuple[int, ...], times: int = 1) -> None:
        served(store, entry_ids, times)

    def add_entry(self, store: Store, text: str, guidance: tuple[str, ...]) -> int:
        return add_entry(store, text, guidance)


@pytest.fixture
def kit() -> Kit:
    return Kit()


CHROMIUM = os.environ.get("PLAYBOOK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium(learned: Path) -> Iterator[Any]:
    """Headless Chromium through Playwright. `make test` installs Debian's chromium and sets
    PLAYBOOK_REQUIRE_BROWSER=1, so there a missing browser fails rather than skips.

    Playwright's sync API keeps an event loop marked running on this thread while it lives, so
    nothing here may call asyncio.run meanwhile: the browser lives for one module only, and the
    learned playbook (made with asyncio.run) is made before it starts.
    """
    if not Path(CHROMIUM).is_file():
        if os.environ.get("PLAYBOOK_REQUIRE_BROWSER"):
            pytest.fail(f"no chromium at {CHROMIUM}; apt-get install chromium (make test does)")
        pytest.skip("chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


SCREENSHOTS = Path(
    os.environ.get("PLAYBOOK_SCREENSHOTS") or Path(__file__).parents[2] / "build" / "screenshots"
)


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Any:
    """Saves a full-page screenshot of the test's browser tab under build/screenshots (or
    $PLAYBOOK_SCREENSHOTS), named after the test; returns its path."""

    def save(page: Any, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


@pytest.fixture(scope="session")
def demo_learned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's playbook: `playbook demo`'s learning on the airline example (no evaluation)."""
    import asyncio

    from playbook.demo import demo_config
    from playbook.runner import QuietReporter
    from playbook.runs import learn
    from playbook.workspace import Workspace

    out = tmp_path_factory.mktemp("demo")

    async def work() -> None:
        workspace = Workspace.open(demo_config(out))
        try:
            await learn(workspace, QuietReporter())
        finally:
            await workspace.aclose()

    asyncio.run(work())
    return out / "playbook.db"


@dataclass
class Demo:
    url: str
    store: Store


@pytest.fixture
def demo(demo_learned: Path, tmp_path: Path, upstream: Upstream) -> Iterator[Demo]:
    """`playbook serve` (approval gate on, edits checked with the demo config's student and
    judge) over a copy of the demo's playbook whose proposed entries a reviewer approved."""
    from playbook.demo import demo_config
    from playbook.embed import build_embedder
    from playbook.server.run import checker_for

    path = tmp_path / "playbook.db"
    shutil.copyfile(demo_learned, path)
    config = demo_config(tmp_path)
    settings = ServeSettings(
        playbook=path,
        upstream_url=upstream.url,
        upstream_key=UPSTREAM_KEY,
        api_keys=frozenset({API_KEY}),
        approved_only=True,
        reload_interval=3600,
        reviewer_key=REVIEWER_KEY,
    )
    with Store.open(path) as store:
        proposed = [e.id for e in store.entries(statuses=["proposed"]) if e.id is not None]
        store.set_statuses(proposed, "approved", "Ann Auditor", "first pass")
        audit_settings = AuditSettings(REVIEWER_KEY, approved_only=True)
        audit = audit_router(store, audit_settings, checker_for(config, {}))
        embedder = build_embedder(config.embedder, {})
        app = create_app(settings, store, embedder, routers=[audit])
        with serve_app(app) as url:
            yield Demo(url, store)
