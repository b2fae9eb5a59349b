"""The web dashboard in headless Chromium (Debian's chromium, driven by
Playwright): it signs in with a customer key, shows the numbers the API
gives, and updates live when usage arrives; it neither asks for nor shows
the operator's cost, markup or margin. The test saves a screenshot."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.customer_view_checks import operator_words
from tests.e2e.consistency import consistent_balance
from tests.e2e.server import client
from tests.e2e.test_rest_flow import setup_catalog
from tests.support import event, just_now

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip


def test_the_dashboard_shows_the_api_numbers_and_follows_usage(sqlite_server: str) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: scripts/ensure-chromium installs Debian's package")
    with client(sqlite_server) as api:
        setup_catalog(api)
        api.put("/v1/customers/acme/limits", json={"hard_limit": "10", "alert_thresholds_percent": [50]})
        api.post("/v1/events", json={"events": [event(f"d{i}", timestamp=just_now()) for i in range(10)]})
        api.post(
            "/v1/events", json={"events": [event(f"m{i}", model="gpt-4o-mini", timestamp=just_now()) for i in range(5)]}
        )
        shown = consistent_balance(api, "acme")["balance"]
        key = api.post("/v1/customers/acme/api-keys").json()["key"]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            asked: list[str] = []  # every GraphQL request the page sends
            page.on("request", lambda request: "/graphql" in request.url and asked.append(request.post_data or ""))
            page.goto(f"{sqlite_server}/dashboard")
            page.fill("#key", key)
            page.click("button[type=submit]")
            page.wait_for_selector("body[data-loaded]")
            assert page.text_content("#balance") == f"{shown} USD"
            models = page.locator("#bymodel tbody tr").all_inner_texts()
            assert any("gpt-4o-mini" in row for row in models) and len(models) == 2
            assert page.locator("#trend rect").count() >= 1
            assert page.text_content("#limit") == "of a 10 USD hard limit"
            assert asked and all(operator_words(query) == [] for query in asked), asked
            assert operator_words(page.inner_text("body")) == [], page.inner_text("body")
            page.wait_for_selector("#live:has-text('live')")

            api.post("/v1/events", json={"events": [event(f"late{i}", timestamp=just_now()) for i in range(20)]})
            after = consistent_balance(api, "acme")["balance"]
            assert after != shown
            page.wait_for_function(
                "expected => document.getElementById('balance').textContent === expected",
                arg=f"{after} USD",
                timeout=10_000,
            )
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
            page.fill("#customer", "globex")  # another customer, with this key: refused
            page.click("button[type=submit]")
            page.wait_for_selector("#error:not(:empty)")
            browser.close()
    assert (SCREENSHOTS / "dashboard.png").stat().st_size > 10_000
