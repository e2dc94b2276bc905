"""The evaluation report inside the audit UI, in headless Chromium (issue 17): a title a person
can read (run, date, models), bars wide enough to read with their values, the entries used as
links with their guidelines, the worst conversations of the playbook condition too, and the UI's
navigation around it."""

from __future__ import annotations

import re
from typing import Any

import httpx


def test_the_report_reads_well_inside_the_ui(
    page: Any, server: str, playbook: Any, kit: Any, screenshot: Any
) -> None:
    run = playbook.store.run(playbook.eval_run)
    summary = httpx.get(f"{server}/reports/{run.id}.json", headers=kit.bearer).json()
    page.goto(f"{server}/reports/{run.id}")
    page.fill("input[name=reviewer]", "Ann Auditor")
    page.fill("input[name=key]", kit.reviewer_key)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/reports/{run.id}")
    screenshot(page, "report")

    title = page.text_content("#report-title")
    assert run.id in title and run.started_at.strftime("%Y-%m-%d") in title
    assert "student sim:student" in title and "judge sim:judge" in title
    assert page.title().startswith("Evaluation ")
    assert page.locator("header a[href='/entries']").count() == 1  # the UI's navigation
    assert page.locator("header a.current[href='/reports']").count() == 1

    bars = page.locator("#bars rect")
    means = [
        n["overall"]["mean"] for r in summary["students"].values() for n in r["conditions"].values()
    ]
    assert bars.count() == len(means)
    assert all(float(bars.nth(i).get_attribute("width")) >= 40 for i in range(bars.count()))
    labels = [float(t) for t in page.locator("#bars text.value").all_text_contents()]
    assert labels == [round(m, 2) for m in means]

    used = page.locator("#entries-used a[href^='/entries/']")
    assert used.count() == len(summary["entries"]) >= 1
    first = int(re.sub(r"\D", "", used.first.get_attribute("href")))
    row = page.locator("#entries-used tr", has=page.locator(f"a[href='/entries/{first}']"))
    assert playbook.store.entry(first).guidance[0] in row.text_content()

    assert page.locator("h3[data-worst=playbook]").count() == 1
    assert page.locator("details.worst[data-condition=playbook]").count() >= 1
    used.first.click()
    page.wait_for_url(f"**/entries/{first}")
