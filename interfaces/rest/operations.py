"""Every REST operation's decision, in one table: its stable operationId (the
name generated clients give it) and what a key needs to call it.

`scope` is the operator-key scope that lets a scoped key call the route; the
admin key may call every route. ADMIN_ONLY routes refuse every scoped key;
PUBLIC routes take no key. A route that is not in this table refuses every
scoped key, and the contract tests fail until it is added here: a new route
cannot ship without a decision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

READ = "read"
USAGE_WRITE = "usage:write"
AUTHORIZATIONS_WRITE = "authorizations:write"
ADMIN_ONLY = "admin"
PUBLIC = "public"
SCHEME = "bearer"  # the OpenAPI security scheme's name


@dataclass(frozen=True)
class Operation:
    operation_id: str
    scope: str  # READ, USAGE_WRITE, AUTHORIZATIONS_WRITE, ADMIN_ONLY or PUBLIC


OPERATIONS: dict[tuple[str, str], Operation] = {
    # health and metrics: no key
    ("GET", "/healthz"): Operation("getHealth", PUBLIC),
    ("GET", "/metrics"): Operation("getMetrics", PUBLIC),
    ("POST", "/v1/webhooks/stripe"): Operation("receiveStripeWebhook", PUBLIC),  # Stripe's signature instead
    # price books and plans
    ("POST", "/v1/price-books"): Operation("createPriceBook", ADMIN_ONLY),
    ("GET", "/v1/price-books/{price_book_id}"): Operation("getPriceBook", READ),
    ("POST", "/v1/price-books/{price_book_id}/versions"): Operation("publishPriceVersion", ADMIN_ONLY),
    ("POST", "/v1/price-books/{price_book_id}/import"): Operation("importPrices", ADMIN_ONLY),
    ("GET", "/v1/price-books/{price_book_id}/versions/{number}"): Operation("getPriceVersion", READ),
    ("POST", "/v1/plans"): Operation("createPlan", ADMIN_ONLY),
    ("GET", "/v1/plans/{plan_id}"): Operation("getPlan", READ),
    ("POST", "/v1/plans/{plan_id}/versions"): Operation("publishPlanVersion", ADMIN_ONLY),
    # customers and their keys
    ("POST", "/v1/customers"): Operation("createCustomer", ADMIN_ONLY),
    ("GET", "/v1/customers/{customer_id}"): Operation("getCustomer", READ),
    ("PATCH", "/v1/customers/{customer_id}"): Operation("updateCustomer", ADMIN_ONLY),
    ("PUT", "/v1/customers/{customer_id}/auto-top-up"): Operation("setAutoTopUp", ADMIN_ONLY),
    ("POST", "/v1/customers/{customer_id}/api-keys"): Operation("createCustomerApiKey", ADMIN_ONLY),
    ("DELETE", "/v1/customers/{customer_id}/api-keys/{key_id}"): Operation("revokeCustomerApiKey", ADMIN_ONLY),
    # operator keys: only the admin key manages keys (listing included: which keys exist is the admin's)
    ("POST", "/v1/api-keys"): Operation("createApiKey", ADMIN_ONLY),
    ("GET", "/v1/api-keys"): Operation("listApiKeys", ADMIN_ONLY),
    ("DELETE", "/v1/api-keys/{key_id}"): Operation("revokeApiKey", ADMIN_ONLY),
    ("GET", "/v1/whoami"): Operation("getWhoami", READ),
    # usage
    ("POST", "/v1/events"): Operation("createUsageEvents", USAGE_WRITE),
    ("GET", "/v1/events/{customer_id}/{event_id}"): Operation("getUsageEvent", READ),
    # authorizations and limits
    ("POST", "/v1/authorizations"): Operation("createAuthorization", AUTHORIZATIONS_WRITE),
    ("GET", "/v1/authorizations/{authorization_id}"): Operation("getAuthorization", READ),
    ("POST", "/v1/authorizations/{authorization_id}/void"): Operation("voidAuthorization", AUTHORIZATIONS_WRITE),
    ("PUT", "/v1/customers/{customer_id}/limits"): Operation("setLimits", ADMIN_ONLY),
    ("DELETE", "/v1/customers/{customer_id}/limits"): Operation("removeLimits", ADMIN_ONLY),
    # wallets
    ("POST", "/v1/customers/{customer_id}/top-ups"): Operation("createTopUp", ADMIN_ONLY),
    ("GET", "/v1/customers/{customer_id}/top-ups/{top_up_id}"): Operation("getTopUp", READ),
    ("GET", "/v1/customers/{customer_id}/balance"): Operation("getBalance", READ),
    # billing
    ("POST", "/v1/billing-runs"): Operation("createBillingRun", ADMIN_ONLY),
    ("GET", "/v1/invoices/{invoice_id}"): Operation("getInvoice", READ),
    ("GET", "/v1/invoices/{invoice_id}/pdf"): Operation("getInvoicePdf", READ),
    ("GET", "/v1/customers/{customer_id}/invoices"): Operation("listInvoices", READ),
    ("POST", "/v1/invoices/{invoice_id}/payments"): Operation("recordInvoicePayment", ADMIN_ONLY),
    # ledger
    ("GET", "/v1/ledger/entries"): Operation("listLedgerEntries", READ),
    ("GET", "/v1/ledger/trial-balance"): Operation("getTrialBalance", READ),
    # webhook endpoints and alerts
    ("POST", "/v1/webhook-endpoints"): Operation("createWebhookEndpoint", ADMIN_ONLY),
    ("GET", "/v1/webhook-endpoints/{endpoint_id}"): Operation("getWebhookEndpoint", READ),
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"): Operation("disableWebhookEndpoint", ADMIN_ONLY),
    ("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries/{message_id}"): Operation("getWebhookDelivery", READ),
    ("GET", "/v1/customers/{customer_id}/alerts"): Operation("listAlerts", READ),
    # simulations write nothing, but price what-ifs on the operator's terms: the admin's
    ("POST", "/v1/simulations"): Operation("createSimulation", ADMIN_ONLY),
}


def operation(method: str, path: str) -> Operation | None:
    return OPERATIONS.get((method.upper(), path))


def scope_allows(scopes: frozenset[str], method: str, path: str) -> bool:
    """May a key with these scopes call this route? (HEAD reads as GET.)"""
    found = operation("GET" if method.upper() == "HEAD" else method, path)
    return found is not None and found.scope in scopes


def document_security(document: dict[str, Any]) -> None:
    """The bearer scheme, and on each operation its stable operationId and the
    key it needs: the security requirement, and `x-tally-scope` naming the
    scope. An operation missing from the table keeps FastAPI's generated id
    and no scope, and fails the tests."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "The admin key (TALLY_ADMIN_KEY), a scoped operator key (POST /v1/api-keys) or a customer key.",
    }
    for path, item in document["paths"].items():
        for method, spec in item.items():
            found = operation(method, path)
            if not isinstance(spec, dict) or found is None:
                continue
            spec["operationId"] = found.operation_id
            spec["x-tally-scope"] = found.scope
            spec["security"] = [] if found.scope == PUBLIC else [{SCHEME: []}]
