"""The web dashboard in headless Chromium (Debian's chromium, driven by
Playwright), on a real server: it signs in with a customer key, reads like
a bank statement (money in the currency's format, the period's dates, spend
against the soft and hard limits, every day of the period on the trend
chart, alerts in plain words, invoices with their status and PDF, an
invoice customer's amount due, unpriced usage as pending, empty states),
updates live when usage arrives, never shows the operator's cost, markup
or margin, and never makes the server log a traceback. Each test saves a
screenshot under build/screenshots/."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from tests.customer_view_checks import operator_words
from tests.e2e.consistency import consistent_balance
from tests.e2e.server import client, server_process
from tests.e2e.test_billing_flow import last_month
from tests.e2e.test_rest_flow import setup_catalog
from tests.support import ADMIN_KEY, event, just_now

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
WAIT_SECONDS = 30  # for a policy (alerts) to run; a bound, never a measure


@pytest.fixture
def logged_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A server on SQLite whose log the test reads: (URL, log file)."""
    log = tmp_path / "server.log"
    with server_process(f"sqlite:///{tmp_path}/tally.db", log=log) as (base, _process):
        yield base, log


def usd(amount: str | Decimal) -> str:
    """What Intl.NumberFormat shows for USD in en-US: half-even to the cent."""
    rounded = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return f"-${-rounded:,.2f}" if rounded < 0 else f"${rounded:,.2f}"


def open_dashboard(playwright: Any, base: str, key: str) -> tuple[Page, list[str]]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: scripts/ensure-chromium installs Debian's package")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
    page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="en-US", timezone_id="UTC")
    asked: list[str] = []  # every GraphQL request the page sends
    page.on("request", lambda request: "/graphql" in request.url and asked.append(request.post_data or ""))
    page.goto(f"{base}/dashboard")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-loaded]")
    return page, asked


def wait_for_alerts(api: httpx.Client, customer: str, count: int) -> None:
    query = f'{{ customer(id: "{customer}") {{ alerts {{ kind }} }} }}'
    deadline = time.monotonic() + WAIT_SECONDS
    while len(api.post("/graphql", json={"query": query}).json()["data"]["customer"]["alerts"]) < count:
        assert time.monotonic() < deadline, "the alert policy raised no alert"
        time.sleep(0.2)


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
    assert (SCREENSHOTS / name).stat().st_size > 10_000


def test_the_dashboard_reads_like_a_statement_and_follows_usage(logged_server: tuple[str, Path]) -> None:
    base, log = logged_server
    now = datetime.now(UTC)
    # Two days ago, in this period from its third day on; before that, today,
    # so that the period's spend still passes the soft limit (a limit alert).
    earlier = now - timedelta(days=2) if now.day > 2 else now
    with client(base) as api:
        setup_catalog(api)
        limits = {"soft_limit": "0.10", "hard_limit": "10", "alert_thresholds_percent": [50, 100]}
        assert api.put("/v1/customers/acme/limits", json=limits).status_code == 200
        api.post("/v1/events", json={"events": [event(f"e{i}", timestamp=earlier.isoformat()) for i in range(4)]})
        api.post("/v1/events", json={"events": [event(f"d{i}", timestamp=just_now()) for i in range(10)]})
        api.post(
            "/v1/events", json={"events": [event(f"m{i}", model="gpt-4o-mini", timestamp=just_now()) for i in range(5)]}
        )
        unpriced = api.post("/v1/events", json={"events": [event("u1", model="gpt-9-preview", timestamp=just_now())]})
        assert unpriced.json()["results"][0]["warnings"] == ["unpriced"]
        shown = consistent_balance(api, "acme")["balance"]
        wait_for_alerts(api, "acme", 3)  # 50 % and 100 % of the soft limit, and the unpriced event
        period = api.post("/graphql", json={"query": '{ customer(id: "acme") { currentPeriod { spend { amount } } } }'})
        spend = period.json()["data"]["customer"]["currentPeriod"]["spend"]["amount"]
        key = api.post("/v1/customers/acme/api-keys").json()["key"]
        with sync_playwright() as playwright:
            page, asked = open_dashboard(playwright, base, key)
            assert page.text_content("#balancetitle") == "Balance"
            assert page.text_content("#balance") == usd(shown)
            assert page.get_attribute("#balance span", "title") == f"{shown} USD"  # the exact amount on hover
            assert page.text_content("#spend") == usd(spend)
            last_day = (now.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
            dates = page.text_content("#period")  # e.g. "Nov 1 – 30, 2026 · 2 days left"
            assert f"{now:%b} 1" in dates and f"{last_day.day}, {now.year}" in dates and "left" in dates, dates
            soft, hard = (round(100 * Decimal(spend) / Decimal(limit)) for limit in ("0.10", "10"))
            assert page.text_content("#limit") == f"$0.10 soft limit ({soft}% used) · $10.00 hard limit ({hard}% used)"
            assert page.locator("#meter .mark").count() == 1  # the soft limit on the hard limit's scale
            assert page.text_content("#unpriced") == "1 usage event pending pricing (not charged yet)"
            models = page.locator("#bymodel tbody tr").all_inner_texts()
            assert any("OpenAI gpt-4o-mini" in row for row in models) and len(models) == 3, models
            assert any("gpt-9-preview" in row and "1 pending pricing" in row for row in models), models
            days = page.locator("#trend rect")
            assert days.count() == now.day  # every day of the period so far, the empty ones too
            spent_days = {now.date().isoformat()} | (
                {earlier.date().isoformat()} if earlier.month == now.month else set()
            )
            assert set(days.evaluate_all("rs => rs.map(r => r.dataset.day)")) >= spent_days
            assert days.evaluate_all("rs => rs.filter(r => r.dataset.spend !== '0').length") == len(spent_days)
            assert "$0.00" in page.text_content("#trend")  # the spend axis is labelled in money
            alerts = page.locator("#alerts li").all_inner_texts()
            month = f"{now:%B %Y}"
            assert any(f"reached 100% of your $0.10 soft limit for {month}" in a for a in alerts), alerts
            assert any(f"reached 50% of your $0.10 soft limit for {month}" in a for a in alerts), alerts
            assert any("1 usage event on " in a and "had no price yet" in a for a in alerts), alerts
            assert page.locator("#invoices td.empty").inner_text() == "No invoices yet."
            assert asked and all(operator_words(query) == [] for query in asked), asked
            assert not any("customers" in query for query in asked), asked  # no probe of an operator-only field
            assert operator_words(page.inner_text("body")) == [], page.inner_text("body")
            page.wait_for_selector("#live:has-text('live')")

            api.post("/v1/events", json={"events": [event(f"late{i}", timestamp=just_now()) for i in range(20)]})
            after = consistent_balance(api, "acme")["balance"]
            assert after != shown
            page.wait_for_function(
                "expected => document.querySelector('#balance span').title === expected",
                arg=f"{after} USD",
                timeout=10_000,
            )
            screenshot(page, "dashboard-prepaid.png")
            page.fill("#customer", "globex")  # another customer, with this key: refused before any query
            page.click("button[type=submit]")
            page.wait_for_selector("#error:not(:empty)")
            assert page.text_content("#error") == "this key shows only its own customer"
    said = log.read_text()
    assert "Traceback" not in said and "ERROR" not in said, said


def test_an_invoice_customer_sees_what_it_owes_and_its_invoices(logged_server: tuple[str, Path]) -> None:
    base, log = logged_server
    moment, period_end = last_month()
    with client(base) as api:
        setup_catalog(api)
        customer = {"id": "initech", "name": "Initech", "currency": "USD", "plan": "pro", "billing": "invoice"}
        assert api.post("/v1/customers", json=customer).status_code == 201
        api.post("/v1/events", json={"events": [event(f"p{i}", "initech", timestamp=moment) for i in range(40)]})
        api.post("/v1/events", json={"events": [event(f"n{i}", "initech", timestamp=just_now()) for i in range(7)]})
        consistent_balance(api, "initech")
        run = api.post("/v1/billing-runs", json={"period_end": period_end, "customers": ["initech"]})
        assert run.status_code == 201, run.text
        invoice = run.json()["invoices"][0]
        balance = consistent_balance(api, "initech")["balance"]
        assert Decimal(balance) < 0  # what it owes, as the API gives it
        key = api.post("/v1/customers/initech/api-keys").json()["key"]
        api.post("/v1/customers", json={**customer, "id": "newco", "name": "Newco"})
        newco = api.post("/v1/customers/newco/api-keys").json()["key"]
        with sync_playwright() as playwright:
            page, _ = open_dashboard(playwright, base, key)
            assert page.text_content("#balancetitle") == "Amount due"
            assert page.text_content("#balance") == usd(-Decimal(balance))
            note = page.text_content("#balancenote")
            usage = -Decimal(balance) - Decimal(invoice["amount_due"])
            assert note == f"{usd(invoice['amount_due'])} on open invoices · {usd(usage)} of usage not invoiced yet"
            rows = page.locator("#invoices tbody tr").all_inner_texts()
            assert len(rows) == 1 and "Open" in rows[0] and usd(invoice["amount_due"]) in rows[0], rows
            start = datetime.fromisoformat(period_end) - timedelta(days=1)
            assert f"{start.day}, {start.year}" in rows[0]  # the period's last day, not its exclusive end
            with page.expect_response(f"**/v1/invoices/{invoice['id']}/pdf") as answer:
                page.click(f"#invoices a[data-invoice='{invoice['id']}']")
            assert answer.value.status == 200 and answer.value.headers["content-type"] == "application/pdf"
            assert page.locator("#alerts li").inner_text() == "No alerts."
            assert page.text_content("#limit") == "No spending limit set"
            screenshot(page, "dashboard-invoice.png")

            page.fill("#key", newco)  # a customer with nothing yet: every part says so
            page.click("button[type=submit]")
            page.wait_for_function("() => document.getElementById('who').textContent === 'Newco'")
            assert page.text_content("#balance") == "$0.00" and page.text_content("#spend") == "$0.00"
            assert page.locator("#bymodel td.empty").inner_text() == "No usage this period."
            assert page.locator("#invoices td.empty").inner_text() == "No invoices yet."
            assert page.locator("#trend rect.none").count() == page.locator("#trend rect").count() > 0
            assert "No spend yet this period" in page.text_content("#trend")
            assert page.text_content("#balancenote") == "Nothing owed"
            screenshot(page, "dashboard-empty.png")

            page.fill("#key", ADMIN_KEY)  # an operator key names the customer to show
            page.fill("#customer", "")
            page.click("button[type=submit]")
            page.wait_for_selector("#error:has-text('name the customer')")
            page.fill("#customer", "initech")
            page.click("button[type=submit]")
            page.wait_for_function("() => document.getElementById('who').textContent === 'Initech'")
            assert page.text_content("#balance") == usd(-Decimal(balance)) and page.text_content("#error") == ""
    said = log.read_text()
    assert "Traceback" not in said, said
