"""How the simulated teacher proposes new personas: variations of the worst-rated scenarios.

It reads the weak scenarios in the prompt (the persona line, the rating, the reviewer's
explanation) and keeps what made each one hard (personality and emotion) while changing one
thing that matters: the goal, the customer's demands, or a complication in their situation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from playbook.sim import language
from playbook.types import Domain

COMPLICATIONS = (
    (
        "You already contacted support once about this and were told someone would call back.",
        "You will mention that a friend got a better deal for the same problem.",
    ),
    (
        "You are asking on behalf of an elderly parent who is not comfortable with chat.",
        "You want the agent to put the outcome in writing.",
    ),
    (
        "This is the second time this has happened to you this year.",
        "You are thinking about leaving for a competitor if this goes badly.",
    ),
    (
        "You have only a few minutes before a meeting and need an answer now.",
        "You will accept less if the agent is quick and clear.",
    ),
)


@dataclass(frozen=True)
class _Weak:
    goal: str
    personality: str
    emotion: str
    demanding: bool
    rating: str
    explanation: str


def propose_personas(domain: Domain, prompt: str) -> str:
    """A short preface and a fenced JSON list, as a real teacher might answer."""
    count_match = re.search(r"Propose (\d+) new customers", prompt)
    count = int(count_match.group(1)) if count_match else 1
    weak = [_read_weak(domain, block) for block in _weak_blocks(prompt)]
    if not weak:
        return "I need some weak scenarios to work from."
    proposals = [_variation(domain, weak[i % len(weak)], i) for i in range(count)]
    return (
        "Here are customers aimed at those weak spots:\n```json\n"
        + json.dumps(proposals, indent=2)
        + "\n```"
    )


def _weak_blocks(prompt: str) -> list[tuple[str, str]]:
    pattern = r'<weak_scenario rating="([^"]*)">\n?(.*?)</weak_scenario>'
    return re.findall(pattern, prompt, re.S)


def _read_weak(domain: Domain, block: tuple[str, str]) -> _Weak:
    rating, body = block
    fields = dict(re.findall(r"(\w+)=([^;\n]+)", _line(body, "Persona")))
    goal = fields.get("goal", "unknown")
    if goal not in {g.name for g in domain.goals}:  # e.g. a transcript: read the conversation
        said = re.search(r"<conversation>(.*?)</conversation>", body, re.S)
        goal = language.match_goal(domain, said.group(1) if said else body).name
    return _Weak(
        goal=goal,
        personality=fields.get("personality", "amiable"),
        emotion=fields.get("emotion", "calm"),
        demanding=fields.get("demanding", "no") == "yes",
        rating=rating,
        explanation=_line(body, "Reviewer"),
    )


def _line(body: str, label: str) -> str:
    match = re.search(rf"^{label}: *(.*)$", body, re.M)
    return match.group(1).strip() if match else ""


def _variation(domain: Domain, weak: _Weak, index: int) -> dict[str, object]:
    """Keep the personality and emotion that were hard; change the goal or the demands."""
    goals = [g.name for g in domain.goals]
    change = index % 3
    goal, demanding = weak.goal, weak.demanding
    if change == 0 and len(goals) > 1:
        goal = goals[(goals.index(weak.goal) + 1) % len(goals)]
        what = f"the same kind of customer with another request ({goal})"
    elif change in (0, 1) and not weak.demanding:
        demanding = True
        what = "the same customer, now insisting"
    else:
        what = "the same customer with a complication"
    situation, intention = COMPLICATIONS[index % len(COMPLICATIONS)]
    return {
        "goal": goal,
        "personality": weak.personality,
        "emotion": weak.emotion,
        "demanding": demanding,
        "situation": situation,
        "facts": domain.goal(goal).facts,
        "hidden_intentions": intention,
        "reason": f"The agent was rated {weak.rating} with a {weak.emotion} {weak.personality} "
        f"customer ({weak.explanation.rstrip('.')}); {what} tests the same weakness.",
    }
