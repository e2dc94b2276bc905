"""tau2-bench tasks become personas the customer simulator plays; its policy a domain's policy.

The data in tests/data/tau2 are the train-split tasks and the airline policy of tau2-bench
(MIT, see LICENSE.md there), unchanged.
"""

import json
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from playbook.cli.main import app
from playbook.dialogue import rollout
from playbook.domain import load_domain, load_personas, personas_text
from playbook.files import ImportFileError
from playbook.roles import Roles, prompt_environment
from playbook.sim.models import SimWorld
from playbook.tau2 import import_tasks
from playbook.traits import infer_traits
from playbook.types import Domain, Turn
from playbook.workspace import example_domain

DATA = Path(__file__).parent / "data" / "tau2"
# Each train file, with an example domain and goal to give its personas.
TRAIN = [
    ("airline_tasks_train.json", "airline", "refund_restricted_ticket", 30),
    ("retail_tasks_train.json", "electronics", "late_laptop_return", 74),
]


def sim_roles(domain: Domain) -> Roles:
    world = SimWorld(domain)
    models = {role: world.model(role) for role in ("student", "teacher", "customer", "judge")}
    return Roles(domain, prompts=prompt_environment(), **models)


@pytest.mark.parametrize(("file", "domain_name", "goal", "count"), TRAIN)
async def test_every_train_task_is_a_persona_the_simulator_plays(
    tmp_path: Path, file: str, domain_name: str, goal: str, count: int
) -> None:
    domain = load_domain(example_domain(domain_name))
    imported = import_tasks(DATA / file, domain, goal)
    personas = imported.personas
    assert len(personas) == count == len(json.loads((DATA / file).read_text()))
    assert len({p.id for p in personas}) == count
    assert imported.ignored["evaluation_criteria"] == count  # and the user is told so
    written = tmp_path / "personas.yaml"
    written.write_text(personas_text(personas))
    assert load_personas(written, domain) == personas  # a file the learn config can list

    roles, agent_goal = sim_roles(domain), domain.goal(goal)

    async def teacher(turns: tuple[Turn, ...], seed: int) -> str:
        return await roles.teacher_reply(turns, seed)

    for persona in personas:
        assert persona.source == "tau2" and persona.goal == goal and persona.situation
        conversation = await rollout(roles, persona, teacher, max_turns=2, seed=1)
        said = [t.text for t in conversation.turns if t.speaker == "customer"]
        replies = [t.text for t in conversation.turns if t.speaker == "agent"]
        assert said and replies, persona.id
        assert any(o in said[0] for o in agent_goal.all_openings()), persona.id  # its goal


def test_a_persona_records_where_it_came_from_and_what_was_inferred() -> None:
    airline = load_domain(example_domain("airline"))
    personas = import_tasks(DATA / "airline_tasks_train.json", airline, "refund_restricted_ticket")
    upset = next(p for p in personas.personas if p.id == "tau2/airline/4")
    assert "You are upset and insist on receiving compensation." in upset.hidden_intentions
    assert (upset.emotion, upset.demanding) == ("frustrated", True)
    assert "tau2-bench airline task 4 (airline_tasks_train.json); purpose: " in upset.origin
    assert "emotion frustrated ('upset')" in upset.origin and "demanding ('insist')" in upset.origin
    first = personas.personas[0]
    assert "emma_kim_9957" in first.facts  # benchmark people are fictional: nothing is masked
    assert "(no cue; default)" in first.origin


def test_the_customer_prompt_shows_the_situation_but_not_the_origin(
    sim_roles: Roles, airline: Domain
) -> None:
    persona = import_tasks(
        DATA / "airline_tasks_train.json", airline, "refund_restricted_ticket"
    ).personas[0]
    prompt = sim_roles.render(
        "customer_system.j2", persona=persona, goal=airline.goal(persona.goal)
    )
    assert "You want to cancel reservation EHGLP3." in prompt
    assert "mention that you were told" in prompt  # the task instructions, as hidden intentions
    assert "Testing that agent refuses" not in prompt  # what the task tests stays hidden


def test_other_domains_fields_are_used_or_ignored_and_said_so(tmp_path: Path) -> None:
    """A telecom-style task: a persona text, customer-side tools and device state."""
    task = {
        "id": "[mobile_data_issue]roaming[PERSONA:Easy]",
        "description": {"purpose": "Test resolution path.", "relevant_policies": None},
        "user_scenario": {
            "persona": "As a 41-year-old office administrator, you are friendly and patient.",
            "instructions": {
                "domain": "telecom",
                "reason_for_call": "Your mobile data is not working abroad.",
                "known_info": "You are John Smith with phone number 555-123-2002.",
                "unknown_info": None,
                "task_instructions": "Express mild frustration after the first failed attempt.",
            },
        },
        "ticket": "The user has no mobile data.",
        "initial_state": {"initialization_actions": [{"env_type": "user", "func_name": "x"}]},
        "user_tools": ["toggle_roaming"],
        "evaluation_criteria": {"env_assertions": [{"env_type": "user", "func_name": "y"}]},
    }
    old_style = {"id": 7, "user_scenario": {"instructions": "You want to change your plan."}}
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps([task, old_style]))
    airline = load_domain(example_domain("airline"))
    imported = import_tasks(path, airline, "refund_restricted_ticket")
    telecom, old = imported.personas
    assert telecom.id == "tau2/telecom/[mobile_data_issue]roaming[PERSONA:Easy]"
    assert telecom.situation.startswith("About you: As a 41-year-old office administrator")
    assert (telecom.personality, telecom.emotion) == ("amiable", "frustrated")
    assert old.id == "tau2/tasks/7" and old.situation == "You want to change your plan."
    assert imported.ignored == {
        "evaluation_criteria": 1,
        "initial_state": 1,
        "ticket": 1,
        "user_tools": 1,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"id": "0",\n "user_scenario": }]', "not valid JSON (line 2, column 19"),
        ('{"id": "0"}', "expected a JSON list of tasks"),
        ("[]", "the list of tasks is empty"),
        (
            '[{"id": "0", "user_scenario": {"instructions": {"reason_for_call": "x"}}}, '
            '{"id": "1", "user_scenario": {"instructions": {"domain": "retail"}}}]',
            "record 2 (task id '1'): user_scenario.instructions.reason_for_call: Field required",
        ),
        (
            '[{"id": "0", "user_scenario": {"instructions": "a"}}, '
            '{"id": "0", "user_scenario": {"instructions": "b"}}]',
            "record 2: task id '0' is also record 1's",
        ),
    ],
)
def test_malformed_tasks_are_named_and_nothing_is_written(
    project: Path, text: str, message: str
) -> None:
    (project / "tasks.json").write_text(text)
    result = cli(
        "import", "tau2", "tasks.json", "--goal", "refund_restricted_ticket", "-c",
        "playbook.toml", "--out", "p.yaml",
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert not (project / "p.yaml").exists()


def test_an_unknown_goal_is_refused_before_reading_the_tasks(tmp_path: Path) -> None:
    airline = load_domain(example_domain("airline"))
    with pytest.raises(ImportFileError, match="'refund' is not a goal of domain 'airline'"):
        import_tasks(DATA / "airline_tasks_train.json", airline, "refund")


def test_import_command_writes_a_file_learn_can_use_and_never_overwrites(project: Path) -> None:
    args = ("import", "tau2", str(DATA / "airline_tasks_train.json"), "-c", "playbook.toml")
    args += ("--goal", "refund_restricted_ticket", "--out", "tau2.yaml")
    first = cli(*args)
    assert first.exit_code == 0, first.stderr
    assert "Wrote 30 personas" in first.stdout and "evaluation_criteria (30 tasks)" in first.stdout
    before = (project / "tau2.yaml").read_text()
    again = cli(*args)
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert (project / "tau2.yaml").read_text() == before


def test_policy_import_replaces_only_the_policy(project: Path) -> None:
    domain_file = project / "domain.toml"
    before = domain_file.read_text()
    result = cli(
        "import", "tau2-policy", str(DATA / "airline_policy.md"), "--domain", "domain.toml"
    )
    assert result.exit_code == 0, result.stderr
    after = domain_file.read_text()
    assert after.startswith("# An example domain written for llm-playbook")  # comments kept
    assert after.split("[[goals]]", 1)[1] == before.split("[[goals]]", 1)[1]
    domain = load_domain(domain_file)
    assert domain.policy.strip() == (DATA / "airline_policy.md").read_text().strip()
    assert domain.goals == load_domain(example_domain("airline")).goals


@pytest.mark.parametrize("policy", ["", "   \n\n"])
def test_an_empty_policy_changes_nothing(project: Path, policy: str) -> None:
    (project / "policy.md").write_text(policy)
    before = (project / "domain.toml").read_text()
    result = cli("import", "tau2-policy", "policy.md", "--domain", "domain.toml")
    assert result.exit_code == 2 and "policy.md: empty" in result.stderr
    assert (project / "domain.toml").read_text() == before


def test_policy_with_quotes_and_backslashes_survives(tmp_path: Path) -> None:
    from playbook.tau2 import policy_into_domain

    domain_file = tmp_path / "domain.toml"
    domain_file.write_text(example_domain("airline").read_text())
    policy = "# Policy\nNever say '''no''' or \"\"\"yes\"\"\"; a path C:\\temp\\x is fine.\tTab."
    (tmp_path / "policy.md").write_text(policy)
    domain_file.write_text(policy_into_domain(tmp_path / "policy.md", domain_file))
    assert load_domain(domain_file).policy == policy


@pytest.mark.parametrize(
    ("text", "traits"),
    [
        ("You are impatient and want the refund as soon as possible.", ("driver", "calm", False)),
        ("You are detail-oriented and rigid.", ("analytical", "calm", True)),
        ("You are a bit absent minded.", ("amiable", "confused", False)),
        ("You are sad, organized, pessimistic.", ("analytical", "concerned", False)),
        ("You are outgoing but very upset; do not take no for an answer.", None),
    ],
)
def test_traits_come_from_keywords(text: str, traits: tuple[str, str, bool] | None) -> None:
    found = infer_traits(text)
    expected = traits or ("expressive", "frustrated", True)
    assert (found.personality, found.emotion, found.demanding) == expected


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder made by `playbook init` (airline example, simulated models), as the cwd."""
    monkeypatch.chdir(tmp_path)
    assert cli("init").exit_code == 0
    return tmp_path


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))
