"""The invoice PDF through a real server on both stores: the seller from
TALLY_SELLER_*, the buyer's billing details set on the customer over REST
(and kept in its events), the PDF asked for with the customer's own key and
read back as text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from tests.customer_view_checks import operator_words, pdf_text
from tests.e2e.consistency import consistent_balance
from tests.e2e.server import client, running_server
from tests.e2e.test_billing_flow import last_month
from tests.support import event, rates_json

DETAILS = {"name": "Zoë Überstudio GmbH", "address": "Łódź Street 5\n00-950 Warszawa", "tax_id": "PL5260250274"}


@pytest.fixture
def seller_server(database_url: str, tmp_path: Path) -> Iterator[str]:
    logo = tmp_path / "logo.png"
    Image.new("RGB", (90, 30), (37, 99, 235)).save(logo)
    env = {"TALLY_SELLER_NAME": "Tally Billing GmbH", "TALLY_SELLER_ADDRESS": "Chausseestraße 1\\n10115 Berlin",
           "TALLY_SELLER_TAX_ID": "DE123456789", "TALLY_SELLER_LOGO": str(logo)}  # fmt: skip
    with running_server(database_url, env_extra=env) as base:
        yield base


def test_billing_details_are_kept_and_printed_on_the_invoice(seller_server: str) -> None:
    moment, period_end = last_month()
    with client(seller_server) as api:
        api.post("/v1/price-books", json={"id": "default", "currency": "EUR"})
        api.post(
            "/v1/price-books/default/versions", json={"effective_from": "2020-01-01T00:00:00Z", "rates": rates_json()}
        )
        api.post("/v1/plans", json={"id": "pro", "price_book": "default", "markup_percent": "20"})
        body = {"id": "zoe", "name": "Zoe", "currency": "EUR", "plan": "pro", "billing": "invoice"}
        bad = api.post("/v1/customers", json={**body, "billing_details": {"name": "a\x07b"}})
        assert bad.status_code == 422 and bad.json()["code"] == "validation_error", bad.text
        assert api.get("/v1/customers/zoe").status_code == 404  # a refused detail created nothing
        for wrong in ({"vat": "x"}, {"tax_id": "x" * 65}, {"address": "\n".join("l" * 7)}):
            refused = api.post("/v1/customers", json={**body, "billing_details": wrong})
            assert refused.status_code == 422 and refused.json()["code"] == "validation_error", refused.text
        created = api.post("/v1/customers", json={**body, "billing_details": {**DETAILS, "email": " "}})
        assert created.status_code == 201 and created.json()["billing_details"] == DETAILS, created.text
        assert api.get("/v1/customers/zoe").json()["billing_details"] == DETAILS
        cleared = api.patch("/v1/customers/zoe", json={"billing_details": {}})
        assert cleared.status_code == 200 and cleared.json()["billing_details"] is None
        assert api.patch("/v1/customers/zoe", json={"billing_details": DETAILS}).json()["billing_details"] == DETAILS
        assert api.patch("/v1/customers/zoe", json={"name": "Zoe S."}).json()["billing_details"] == DETAILS

        events = [event(f"z{i}", "zoe", timestamp=moment, input_tokens=123_456, output_tokens=7_890) for i in range(9)]
        assert api.post("/v1/events", json={"events": events}).status_code == 200
        consistent_balance(api, "zoe")
        run = api.post("/v1/billing-runs", json={"period_end": period_end})
        assert run.status_code == 201, run.text
        invoice_id = run.json()["invoices"][0]["id"]
        key = api.post("/v1/customers/zoe/api-keys").json()["key"]
        with client(seller_server, key) as own:
            shown = own.get(f"/v1/invoices/{invoice_id}").json()
            document = own.get(f"/v1/invoices/{invoice_id}/pdf")
    assert document.status_code == 200 and document.headers["content-type"] == "application/pdf"
    text = pdf_text(document.content)
    for expected in ("Tally Billing GmbH", "Chausseestraße 1", "10115 Berlin", "Tax id: DE123456789",
                     "Zoë Überstudio GmbH", "Łódź Street 5", "PL5260250274", invoice_id):  # fmt: skip
        assert expected in text, (expected, text)
    assert "Zoe S." not in text  # the billing name, not the account's display name
    assert "Input tokens 1,111,104 " in text and "Output tokens 71,010 " in text  # 9 × 123,456 and 9 × 7,890
    total = Decimal(shown["total"])
    assert f"Total €{total:,.2f}" in text and f"Amount due €{Decimal(shown['amount_due']):,.2f}" in text
    amounts = [Decimal(a.replace(",", "")) for a in re.findall(r"/ 1M €([0-9,]+\.[0-9]{2})$", text, re.M)]
    rounding = re.search(r"^Rounding (-?)€([0-9.]+)$", text, re.M)
    assert sum(amounts) + (Decimal(rounding.group(1) + rounding.group(2)) if rounding else 0) == total, text
    assert operator_words(text) == [], text
