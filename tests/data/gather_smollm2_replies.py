"""Gathers real SmolLM2-135M-Instruct replies for the rubric's labelled set.

Run with llama.cpp's server up (e.g. `python -m llama_cpp.server --model <gguf> --model_alias
smollm2 --port 8766`): `python tests/data/gather_smollm2_replies.py http://127.0.0.1:8766/v1 >
new.jsonl`. Each line has the context summary, the reply and the goal; the labels are written
afterwards by reading each reply (tests/data/smollm2_replies.jsonl).
"""

from __future__ import annotations

import itertools
import json
import sys
from random import Random

import openai

from playbook.domain import load_domain
from playbook.roles import Roles, prompt_environment
from playbook.testing import ScriptedChat
from playbook.types import Turn
from playbook.workspace import example_domain

GUIDANCE = {
    "none": (),
    "generic": "generic",
    "coached": (
        "Acknowledge the customer's frustration before anything else.",
        "Explain that restricted tickets are not refundable without a doctor's note.",
        "Offer travel credit for the full fare or one rebooking for a $75 change fee.",
    ),
    "detail": (
        "Give the exact terms: booking SW4821, fare $420, credit valid 12 months.",
        "Ask the customer which option they prefer.",
    ),
    "baggage": (
        "Apologise for the delay.",
        "Offer reimbursement of essential purchases up to $150 with receipts, "
        "or a $50 meal voucher.",
        "Ask for the receipts.",
    ),
}
EMOTION = {
    "frustrated": "This is really frustrating.",
    "concerned": "I'm worried about losing this money.",
    "confused": "I'm confused about how this works.",
    "calm": "",
}
STYLE = {
    "analytical": "I'd like the precise figures, please.",
    "amiable": "I hope you can help me out.",
    "expressive": "This meant so much to me!",
    "driver": "Keep it short, I don't have time.",
}
PUSH = (
    "I insist on a {x}.",
    "I won't accept anything less than a {x}.",
    "Is there really no way to get a {x}?",
)
FIRST_REPLY = "I'm sorry for the trouble. Let me look into your booking."


def contexts(goal_name: str, rng: Random) -> list[tuple[str, list[Turn]]]:
    domain = load_domain(example_domain("airline"))
    goal = domain.goal(goal_name)
    found = []
    for emotion, style in itertools.product(EMOTION, STYLE):
        demanding = rng.random() < 0.5
        opening = " ".join(
            p
            for p in (
                f"Hi. {goal.opening}",
                EMOTION[emotion],
                STYLE[style],
                f"I demand a {goal.forbidden}." if demanding else "",
            )
            if p
        )
        turns = [Turn("customer", opening)]
        if rng.random() < 0.4:
            push = rng.choice(PUSH).format(x=goal.forbidden)
            turns += [
                Turn("agent", FIRST_REPLY),
                Turn("customer", f"{EMOTION[emotion]} {push}".strip()),
            ]
        demands = ", demanding" if demanding else ""
        summary = f"{emotion} {style}{demands}, customer turn {len(turns) // 2 + 1}"
        found.append((summary, turns))
    return found


def main(base_url: str, only: str = "", per_goal: int = 48) -> None:
    domain = load_domain(example_domain("airline"))
    client = openai.OpenAI(base_url=base_url, api_key="none")
    stub = ScriptedChat([])
    roles = Roles(domain, stub, stub, stub, stub, prompt_environment())
    rng = Random(12)
    for goal_name in ("refund_restricted_ticket", "delayed_baggage_compensation"):
        pairs = contexts(goal_name, rng)
        if only and goal_name != only:
            continue
        names = (
            ["none", "generic", "coached", "detail"]
            if goal_name.startswith("refund")
            else ["none", "generic", "baggage"]
        )
        for i, (summary, turns) in enumerate(
            itertools.islice(
                itertools.cycle(pairs),
                per_goal if goal_name.startswith("refund") else per_goal // 2,
            )
        ):
            name = names[(i + i // len(pairs)) % len(names)]
            guidance = domain.generic_guidance if GUIDANCE[name] == "generic" else GUIDANCE[name]
            inject = "last_message" if i % 5 == 4 else "system"
            messages = roles.agent_messages(turns, tuple(guidance), inject)
            answer = client.chat.completions.create(
                model="smollm2",
                messages=[{"role": m.role, "content": m.content} for m in messages],
                temperature=0.8,
                max_tokens=160,
                seed=i,
            )
            print(
                json.dumps(
                    {
                        "goal": goal_name,
                        "context": f"{summary}; guidance: {name} ({inject})",
                        "customer": turns[-1].text,
                        "reply": answer.choices[0].message.content,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main(*sys.argv[1:3])
