"""playbook.api, the library's front door: the same runs as the commands, from Python."""

from collections.abc import Callable
from pathlib import Path

import pytest

from playbook.api import coach, evaluate, learn, read_config
from playbook.store.core import Store, StoreError

MakeConfig = Callable[..., Path]


async def test_learn_evaluate_and_coach_from_python(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    path = make_config(tmp_path)
    path.write_text(path.read_text().replace("rounds = 2", "rounds = 1"))
    config = read_config(path)  # a Config object works as well as a path
    learned = await learn(config, limit=3)
    assert learned["rounds"][0]["conversations"] == 3 and learned["entries"] > 0
    with Store.open(config.playbook, create=False) as store:
        assert [r.id for r in store.runs()] == [learned["run"]]

    scores = await evaluate(tmp_path, limit=2)  # a folder: its playbook.toml
    sets = {name: s["personas"] for name, s in scores["sets"].items() if name != "held_out"}
    assert sets["learning"] == 2 and max(sets.values()) == 2 and "sim:student" in scores["students"]

    async with coach(tmp_path / "playbook.toml") as playbook:
        with Store.open(config.playbook, create=False) as store:
            entry = store.entries()[0]
        messages = [{"role": _wire(t.speaker), "content": t.text} for t in entry.scenario.turns]
        found = await playbook.guidance([{"role": "system", "content": "ignored"}, *messages])
    assert found.entries and found.guidelines  # its own conversation finds guidance
    assert len(found.scores) == len(found.entries) and found.scores[0] > 0.5


def _wire(speaker: str) -> str:
    return "user" if speaker == "customer" else "assistant"


async def test_coach_on_a_mistyped_playbook_creates_nothing(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    path = make_config(tmp_path)
    path.write_text(path.read_text().replace('playbook = "playbook.db"', 'playbook = "playbok.db"'))
    with pytest.raises(StoreError, match=r"playbok\.db"):
        async with coach(path):
            pass
    assert not (tmp_path / "playbok.db").exists()
