"""What `playbook local` runs, with its defaults written once here. Light on purpose: the
command's flags read these defaults, and `playbook --help` must not load the model stack."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The recorder keys its cache on the endpoint (base URL included), so a fixed default port is
# what lets a second run of the same command be answered from the first one's calls.
DEFAULT_PORT = 8766


@dataclass(frozen=True)
class LocalSettings:
    """What `playbook local` runs; the defaults finish within 30 minutes on 2 cores."""

    out: Path = Path("playbook-local")
    port: int = DEFAULT_PORT
    personas: int = 6  # learning personas, from the refund goal's grid
    held_out: int = 8  # evaluation personas, none of them seen in learning
    samples: int = 2  # conversations per held-out persona
    rounds: int = 1  # a second round (the student's own states) doubles the learning time
    max_turns: int = 2  # customer messages per conversation
    k: int = 1  # retrieval: nearest entries whose guidelines are used
    # Guidance appended to the customer's last message, not in the system prompt: SmolLM2 followed
    # it better there (README, "What it measured": the levers, then the main job with each).
    inject: str = "last_message"
    temperature: float = 0.2
    max_tokens: int = 80  # SmolLM2 rambles to any cap; about 60 words is a full chat reply
    # llama-cpp-python's own default; more threads than free cores make llama.cpp many times slower.
    threads: int = max((os.cpu_count() or 2) // 2, 1)
