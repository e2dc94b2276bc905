"""Model-written text is shown as text, never as markup; and no secret (reviewer key, client
keys, the upstream's key, keys in the environment or a config) appears on any page."""

from __future__ import annotations

from typing import Any

import httpx

from playbook.config import Config

ESCAPED_SCRIPT = "&lt;script&gt;window.pwned=1&lt;/script&gt;"


def test_a_hostile_entry_is_escaped_in_every_page(ann: Any, playbook: Any) -> None:
    pages = [f"/entries/{playbook.hostile}", "/entries", "/entries?q=hello"]
    for path in pages:
        html = ann.client.get(path).text
        assert ESCAPED_SCRIPT in html, path
        assert "<script>window.pwned" not in html and "<img" not in html, path
        assert "&lt;img src=x onerror=" in html, path
    html = ann.client.get(f"/entries/{playbook.hostile}").text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in html  # guidelines
    assert "written for a test &lt;script&gt;" in html  # the persona's origin
    assert "Reference &lt;script&gt;" in html and "Bad &lt;img" in html  # reference, verdict


def test_the_json_twin_carries_the_text_as_data(server: str, playbook: Any, kit: Any) -> None:
    answer = httpx.get(f"{server}/entries/{playbook.hostile}.json", headers=kit.bearer)
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.json()["guidance"] == list(kit.hostile_guidance)


def test_an_edit_with_markup_is_stored_as_written_and_shown_escaped(
    ann: Any, playbook: Any
) -> None:
    entry = playbook.learned[0]
    ann.post(f"/entries/{entry}/edit", guidance='<svg onload="window.pwned=3">hi</svg>')
    html = ann.client.get(f"/entries/{entry}").text
    assert "&lt;svg onload=" in html and "<svg onload" not in html
    # It helps the student no more than no guidance: kept as a draft, as written, not served.
    (draft,) = playbook.store.drafts(entry)
    assert draft.guidance == ('<svg onload="window.pwned=3">hi</svg>',)
    assert playbook.store.entry(entry).guidance != draft.guidance


def test_no_secret_appears_on_any_page_or_twin(
    server: str, ann: Any, playbook: Any, kit: Any, monkeypatch: Any
) -> None:
    env_secret = "sk-env-openai-planted-0001"
    monkeypatch.setenv("OPENAI_API_KEY", env_secret)
    config = Config.model_validate(
        {
            "domain": "domain.toml",
            "models": {
                role: {"spec": "openai:gpt-4o", "api_key_env": "OPENAI_API_KEY"}
                for role in ("student", "teacher", "customer", "judge")
            },
            "serve": {"api_keys": ["sk-config-client-0002"], "reviewer_key": "rk-config-0003-xxxx"},
        }
    )
    stored = config.model_dump(mode="json")  # what `playbook learn` stores with a run
    planted = {**stored, "legacy": {"api_key": "sk-literal-0004", "token": "tok-0005"}}
    run = playbook.store.start_run("learn", planted, {"student": "openai:gpt-4o"})
    secrets = [
        kit.reviewer_key,
        kit.api_key,
        kit.upstream_key,
        env_secret,
        "sk-config-client-0002",
        "rk-config-0003-xxxx",
        "sk-literal-0004",
        "tok-0005",
    ]
    paths = ["/entries", "/runs", "/reports", "/exchange", f"/runs/{run}"]
    paths += [f"/entries/{i}" for i in (*playbook.learned, playbook.baggage, playbook.hostile)]
    paths += [f"/runs/{r.id}" for r in playbook.store.runs()] + [f"/reports/{playbook.eval_run}"]
    twins = [f"{p}.json" for p in paths]
    downloads = ["/export.md?status=all", "/export.jsonl?status=all"]
    for path in paths + twins + downloads:
        answer = ann.client.get(path)
        assert answer.status_code == 200, path
        for secret in secrets:
            assert secret not in answer.text, (path, secret)
            assert secret not in str(answer.headers), (path, secret)
    sign_in_page = httpx.get(f"{server}/signin").text
    assert not [secret for secret in secrets if secret in sign_in_page]
    shown = ann.client.get(f"/runs/{run}.json").json()["config"]
    assert shown["models"]["teacher"]["api_key_env"] == "OPENAI_API_KEY"  # the name is shown
    assert shown["legacy"] == {"api_key": "***", "token": "***"}
