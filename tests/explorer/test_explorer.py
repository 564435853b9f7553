"""The decision explorer in a real browser (Debian's Chromium through Playwright) against a real
`ido serve` on 127.0.0.1: the README's demo run explained at a glance.

Each test fails on any request to a host other than 127.0.0.1 and on any
console error (the `page` fixture). Set IDO_SCREENSHOTS=docs to refresh the
README's screenshots while the tests run.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from browser_helpers import Served, start_serve, stop, watch
from playwright.sync_api import expect

LIVE_TIMEOUT_S = 90.0


def shot(page: Any, name: str) -> None:
    """Save a screenshot of the page (or one element) under IDO_SCREENSHOTS (the README's pictures), when set."""
    folder = os.environ.get("IDO_SCREENSHOTS")
    if folder:
        from PIL import Image  # matplotlib's dependency; 256 colours keep the PNGs small

        target = Path(folder) / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target))
        with Image.open(target) as image:
            image.convert("RGB").quantize(colors=256).save(target, optimize=True)


def rows(page: Any) -> list[str]:
    return [r.get_attribute("data-run") for r in page.locator("table.runs tbody tr[data-run]").all()]


def test_the_runs_list_shows_both_runs_marks_the_switch_and_filters_in_the_url(page: Any, served: Served) -> None:
    page.goto(f"{served.base}/")
    assert rows(page) == [served.plain_run, served.outage_run]
    outage = page.locator(f"tr[data-run='{served.outage_run}']")
    assert "switched providers" in outage.inner_text()
    assert "switched providers" not in page.locator(f"tr[data-run='{served.plain_run}']").inner_text()
    shot(page, "explorer-runs")

    page.get_by_label("Capability weighed").fill("payment.paypal-us")
    page.get_by_label("Verdict").select_option("unhealthy")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"verdict=unhealthy"))
    query = parse_qs(urlparse(page.url).query)
    assert query["capability"] == ["payment.paypal-us"] and query["verdict"] == ["unhealthy"]
    assert rows(page) == []  # PayPal was denied, never unhealthy

    page.get_by_label("Capability weighed").fill("payment.stripe-eu")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"capability=payment.stripe-eu"))
    assert rows(page) == [served.outage_run]  # only the outage run saw Stripe's circuit open


def test_the_runs_list_pages_with_the_api_cursor(page: Any, served: Served) -> None:
    page.goto(f"{served.base}/?status=succeeded&limit=1")
    first = rows(page)
    page.get_by_role("link", name="Older runs").click()
    page.wait_for_url(re.compile(r"cursor="))
    assert parse_qs(urlparse(page.url).query)["status"] == ["succeeded"]  # the filter stays in the URL
    second = rows(page)
    assert len(first) == len(second) == 1 and first != second  # the next page starts after the first
    assert "succeeded" in page.locator("table.runs tbody").inner_text()


def test_the_outage_run_says_why_it_switched_and_shows_every_alternative_with_its_verdict(
    page: Any, served: Served,
) -> None:
    page.goto(f"{served.base}/")
    page.locator(f"a[href='/runs/{served.outage_run}']").click()
    page.wait_for_url(re.compile(served.outage_run))
    outcome = page.locator("#outcome").inner_text()
    assert "succeeded after switching payment from stripe-eu (circuit open) to adyen-eu" in outcome
    assert re.search(r"cost 0\.\d\d; \d+\.\d s", outcome)
    switch = page.locator(".decision.move-switch").first
    assert "payment: payment.stripe-eu → payment.adyen-eu" in switch.locator("summary.decision-summary").inner_text()
    payment = switch.locator("section.role[aria-label='role payment']")
    verdicts = {r.get_attribute("data-capability"): r.get_attribute("data-verdict")
                for r in payment.locator("tr.alt").all()}
    assert verdicts == {"payment.adyen-eu": "chosen", "payment.stripe-eu": "unhealthy",
                        "payment.paypal-us": "denied", "payment.mollie-eu": "costlier"}
    # repeats of the previous decision are collapsed; opening them shows their verdicts
    repeats = payment.locator("details.repeats")
    assert repeats.count() == 1 and not repeats.get_attribute("open")
    assert not payment.locator("tr.alt[data-capability='payment.paypal-us']").is_visible()
    shot(page, "explorer-run")
    repeats.locator("summary").click()
    assert payment.locator("tr.alt[data-capability='payment.paypal-us']").is_visible()
    assert "down on payment.stripe-eu" in page.locator(".faults").inner_text()


def test_the_plan_dag_at_a_decision_is_drawn_with_its_critical_path(page: Any, served: Served) -> None:
    page.goto(f"{served.base}/runs/{served.outage_run}")
    page.get_by_role("button", name="Plan DAG at #2").click()
    panel = page.locator("#dag-panel")
    panel.locator(".dag[data-drawn='1'] canvas").first.wait_for()
    assert "Critical path" in panel.inner_text()
    critical = panel.locator(".critical").inner_text()
    assert "payment.adyen-eu" in critical and "shipping.dhl" in critical
    page.wait_for_timeout(300)  # the layout's last frame, for the picture
    shot(page, "explorer-dag")


def test_why_not_paypal_quotes_the_gdpr_policy_at_every_decision(page: Any, served: Served) -> None:
    page.goto(f"{served.base}/runs/{served.outage_run}")
    page.get_by_label("Capability").fill("payment.paypal-us")
    page.get_by_role("button", name="Ask why not").click()
    answer = page.locator(".why-not-answer")
    answer.wait_for()
    text = answer.inner_text()
    assert "denied" in text and "gdpr-data-stays-in-eu" in text
    assert answer.locator("tbody tr").count() >= 5

    page.watched.allowed.append("422")  # the answer to a typo is a 422 with the message
    page.get_by_label("Capability").fill("payment.paypal")
    page.get_by_role("button", name="Ask why not").click()
    page.locator("#why-not-result .error").wait_for()
    assert "did you mean" in page.locator("#why-not-result").inner_text()


def test_a_what_if_without_the_gdpr_restriction_flips_decisions_on_the_timeline(page: Any, served: Served) -> None:
    page.goto(f"{served.base}/runs/{served.outage_run}")
    page.get_by_label("Declaration").select_option("policy:gdpr-data-stays-in-eu")
    text = page.get_by_label("Its YAML (edit it)")
    assert "not_in" in text.input_value()
    text.fill(text.input_value().replace("- eu", "- eu\n      - us"))  # allow the US region too
    page.get_by_role("button", name="Replay under this").click()
    answer = page.locator(".what-if-answer")
    answer.wait_for()
    assert "would change" in answer.inner_text()
    changed = page.locator(".decision.would-change")
    changed.first.wait_for()
    notes = " ".join(changed.locator(".what-if-note").all_inner_texts())
    assert "payment.paypal-us" in notes  # PayPal would have been chosen
    shot(page, "explorer-what-if")

    page.watched.allowed.append("422")
    text.fill("policies:\n  - name: gdpr-data-stays-in-eu\n    deny: {capability.tags.region: {not_in: [eu]}}\n")
    page.get_by_role("button", name="Replay under this").click()
    page.locator(".what-if-answer .problems").wait_for()
    assert "line 2" in page.locator(".what-if-answer .problems").inner_text()  # located, as `ido validate`
    expect(page.locator(".decision.would-change")).to_have_count(0)  # the marks of the last answer go


def test_a_waiting_run_is_approved_from_its_page_and_finishes_live(page: Any, served: Served) -> None:
    submitted = served.api("POST", "/api/v1/runs", json={"intent": "order-fulfilled",
                                                          "inputs": {"order_id": "ord-big", "amount": 1500}})
    assert submitted.status_code == 202, submitted.text
    run_id = submitted.json()["run_id"]
    limit = time.monotonic() + LIVE_TIMEOUT_S
    while served.api("GET", f"/api/v1/runs/{run_id}").json()["status"] != "waiting_approval":
        assert time.monotonic() < limit, "the run never waited for approval"
        time.sleep(0.3)
    page.goto(f"{served.base}/runs/{run_id}")
    outcome = page.locator("#outcome").inner_text()
    assert "waiting for a person to approve payment.stripe-eu (asked by large-payments-need-approval)" in outcome
    shot(page, "explorer-approval")
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="Approve").click()
    page.locator("#outcome.status-succeeded").wait_for(timeout=LIVE_TIMEOUT_S * 1000)
    assert page.evaluate("window.__sameDocument === true")  # updated live, never reloaded
    assert page.locator(".decision .move", has_text="succeed").count() == 1
    assert served.api("GET", f"/api/v1/runs/{run_id}").json()["status"] == "succeeded"


def test_another_site_cannot_act_on_a_run_without_the_login_cookie(browser: Any, served: Served) -> None:
    context = browser.new_context()  # no login cookie
    try:
        tab = context.new_page()
        watched = watch(tab)
        for action in ("act/approve", "act/cancel", "what-if"):
            answer = tab.request.post(f"{served.base}/runs/{served.outage_run}/{action}",
                                      headers={"Origin": "http://attacker.example"}, form={"pick": "policy:x"})
            assert answer.status == 401, (action, answer.status)
            assert "login" in answer.text()  # the page says how to sign in
        watched.check()
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/runs/nope-no-such-run", "/?verdict=bogus"])
def test_an_unknown_run_or_filter_is_a_page_with_the_error_not_a_traceback(page: Any, served: Served, path: str) -> None:
    page.watched.allowed.extend(["404", "400"])
    answer = page.goto(f"{served.base}{path}")
    assert answer is not None and answer.status in (400, 404)
    assert page.locator("p.error").is_visible()
    assert "Traceback" not in page.content()


def test_capability_health_over_time_shows_stripe_circuit_opening_with_charts(page: Any, served: Served) -> None:
    page.goto(f"{served.base}/health")
    stripe = page.locator("table.health-table tr", has=page.locator("code", has_text="payment.stripe-eu"))
    cells = stripe.locator("td").all_inner_texts()
    assert int(cells[4]) >= 1  # its circuit opened during the outage run
    stripe.get_by_role("link").click()
    page.wait_for_url(re.compile(r"capability=payment.stripe-eu"))
    page.locator("#health-rate[data-drawn='1'] canvas").first.wait_for()
    page.locator("#health-latency[data-drawn='1'] canvas").first.wait_for()
    assert page.locator("h2#chart-h").inner_text() == "payment.stripe-eu"
    shot(page, "explorer-health")


def test_a_simulation_run_from_the_page_compares_the_three_strategies_in_charts(page: Any, served: Served) -> None:
    page.goto(f"{served.base}/simulate")
    page.get_by_label("Scenario").select_option("payments-outage")
    page.get_by_label("Runs per strategy").fill("60")  # arrivals every 200 ms: 12 s, past Stripe's outage at 10 s
    page.get_by_role("button", name="Run the simulation").click()
    table = page.locator("#simulation-result table.bars")
    table.wait_for(timeout=120_000)
    strategies = [r.get_attribute("data-strategy") for r in table.locator("tbody tr").all()]
    assert strategies == ["adaptive", "static", "static-fallback"]
    page.locator("#simulation-success[data-drawn='1'] canvas").first.wait_for()
    page.locator("#simulation-latency[data-drawn='1'] canvas").first.wait_for()
    success = {r.get_attribute("data-strategy"): float(r.locator("td").first.inner_text().strip().rstrip("%"))
               for r in table.locator("tbody tr").all()}
    assert success["adaptive"] > success["static"]  # the outage costs the fixed path, not ido
    shot(page, "explorer-simulation")


def test_two_runs_side_by_side_show_where_they_diverged_and_why(page: Any, served: Served) -> None:
    page.goto(f"{served.base}/compare")
    page.get_by_label("Run A").fill(served.outage_run)
    page.get_by_label("Run B").fill(served.plain_run)
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url(re.compile(r"/compare\?a="))
    assert "first diverge at decision 2" in page.locator("#first-divergence").inner_text()
    diverged = page.locator("tr[data-diverged='1']").first.inner_text()
    # the outage run took fraud screening next (payment moved to adyen-eu); the plain run paid stripe-eu
    assert "stripe-eu" in diverged or "adyen-eu" in diverged
    shot(page, "explorer-compare")


UNLABELLED = """() => Array.from(document.querySelectorAll("input, select, textarea, button"))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !(el.textContent || "").trim())
  .map(el => el.outerHTML.slice(0, 80))"""


@pytest.mark.parametrize("path", ["/", "/runs/{run}", "/health", "/simulate", "/compare?a={run}&b={run}"])
def test_every_page_has_landmarks_labelled_controls_and_a_skip_link_for_the_keyboard(
    page: Any, served: Served, path: str,
) -> None:
    page.goto(served.base + path.format(run=served.outage_run))
    assert page.locator("header nav[aria-label]").count() == 1 and page.locator("main#main").count() == 1
    assert page.evaluate(UNLABELLED) == []
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_the_timeline_opens_and_closes_decisions_from_the_keyboard(page: Any, served: Served) -> None:
    page.goto(f"{served.base}/runs/{served.outage_run}")
    summary = page.locator("#d2 summary.decision-summary")
    summary.focus()
    assert page.locator("#d2 > details").get_attribute("open") is not None
    page.keyboard.press("Enter")
    expect(page.locator("#d2 > details")).not_to_have_attribute("open", "")
    page.keyboard.press("Enter")
    expect(page.locator("#d2 > details")).to_have_attribute("open", "")


def test_a_waiting_run_is_cancelled_from_its_page_and_ends_live(page: Any, served: Served) -> None:
    submitted = served.api("POST", "/api/v1/runs", json={"intent": "order-fulfilled",
                                                          "inputs": {"order_id": "ord-cancel", "amount": 2500}})
    run_id = submitted.json()["run_id"]
    limit = time.monotonic() + LIVE_TIMEOUT_S
    while served.api("GET", f"/api/v1/runs/{run_id}").json()["status"] != "waiting_approval":
        assert time.monotonic() < limit, "the run never waited for approval"
        time.sleep(0.3)
    page.goto(f"{served.base}/runs/{run_id}")
    page.once("dialog", lambda dialog: dialog.accept())  # "Cancel run ...? It compensates per its on_failure."
    page.get_by_role("button", name="Cancel run").click()
    expect(page.locator("#action-result")).to_contain_text("cancel requested")
    page.locator("#live[data-live='0']").wait_for(timeout=LIVE_TIMEOUT_S * 1000)  # ended, shown without a reload
    ended = served.api("GET", f"/api/v1/runs/{run_id}").json()["status"]
    assert ended in ("failed", "compensated"), ended  # it compensates per its on_failure
    assert ended.replace("_", " ") in page.locator("#outcome").inner_text()


def test_with_a_token_file_a_person_signs_in_with_a_token_and_reads_the_runs(
    browser: Any, served: Served, tmp_path: Path,
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("explorer-operate-token-0123456789 operate\n")
    proc, base = start_serve(served.root, served.store, tmp_path / "serve.log", "--token-file", str(tokens))[:2]
    context = browser.new_context()
    try:
        tab = context.new_page()
        watched = watch(tab)
        watched.allowed.append("401")  # the first page, before signing in, answers 401
        tab.goto(f"{base}/runs/{served.outage_run}")
        tab.get_by_role("link", name="Sign in with a token").click()
        tab.get_by_label("Token").fill("explorer-operate-token-0123456789")
        tab.get_by_role("button", name="Sign in").click()
        tab.wait_for_url(f"{base}/")
        assert served.outage_run in rows(tab)
        cookie = next(c for c in context.cookies() if c["name"] == "ido_explorer_token")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        tab.goto(f"{base}/runs/{served.outage_run}")
        assert "switching payment from stripe-eu" in tab.locator("#outcome").inner_text()
        assert "explorer-operate-token" not in tab.content()  # the token is never in a page
        watched.check()
    finally:
        context.close()
        stop(proc)
    assert "explorer-operate-token" not in (tmp_path / "serve.log").read_text()
