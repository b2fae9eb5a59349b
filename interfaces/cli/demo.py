"""tally demo: real model prices from the catalog, two plans, three customers
(prepaid, postpaid, invoice) and a background stream of usage, so balances
visibly move. Seeding is idempotent: a second run reuses what is there."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from application.errors import Conflict
from application.tally import Tally
from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from interfaces.observability.counting import count_usage

MODELS = [
    ("openai", "gpt-4o", "chat"),
    ("openai", "gpt-4o-mini", "autocomplete"),
    ("anthropic", "claude-sonnet-4-5", "agent"),
    ("anthropic", "claude-haiku-4-5", "summaries"),
    ("google", "gemini-2.5-flash", "search"),
]
CUSTOMERS = [
    ("acme", "Acme AI", "starter", "prepaid"),
    ("globex", "Globex Labs", "pro", "postpaid"),
    ("initech", "Initech", "pro", "invoice"),
]
BILLING_DETAILS = {
    "globex": {"name": "Globex Labs Inc.", "address": "1 Market Street\nSan Francisco, CA 94105\nUnited States"},
    "initech": {
        "name": "Initech GmbH",
        "address": "Friedrichstraße 68\n10117 Berlin\nGermany",
        "tax_id": "DE811907980",
    },
}
LOW_WALLET = Decimal("2")


def seed(app: Tally) -> None:
    try:
        app.catalog.create_price_book("default", "USD")
        start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        app.catalog.import_prices("default", ["openai", "anthropic", "google"], start)
    except Conflict:
        return  # seeded by an earlier run
    app.catalog.create_plan("starter", "default", Decimal("20"), [])
    app.catalog.create_plan(
        "pro", "default", Decimal("15"), [{"provider": "openai", "model": "gpt-4o-mini", "markup_percent": "50"}]
    )
    for customer_id, name, plan, billing in CUSTOMERS:
        app.customers.create_customer(customer_id, name, "USD", plan, billing, 30, None)
    for customer_id, details in BILLING_DETAILS.items():  # what their invoices print about them
        app.billing_details.set(customer_id, details)
    app.wallets.top_up("acme", "welcome-grant", "25.00", "grant", None)
    limits = {"period": "month", "soft_limit": "40", "hard_limit": "60", "alert_thresholds_percent": [50, 80, 100]}
    app.authorizations.set_limits("acme", {**limits, "low_balance": "5"})


def usage_stream(app: Tally, balance: Callable[[], Decimal], rate: int, stop: threading.Event) -> None:
    """Send `rate` events a second in one batch; refill acme's wallet when low."""
    generator = random.Random(7)
    sequence = 0
    refills = 0
    while not stop.wait(1.0):
        batch = []
        for _ in range(rate):
            provider, model, feature = generator.choice(MODELS)
            customer = generator.choice(CUSTOMERS)[0]
            sequence += 1
            batch.append(
                {
                    "id": f"demo-{time.time_ns()}-{sequence}",
                    "customer": customer,
                    "timestamp": datetime.now(UTC).isoformat(),
                    "provider": provider,
                    "model": model,
                    "feature": feature,
                    "usage": {
                        "input_tokens": generator.randint(200, 6000),
                        "output_tokens": generator.randint(50, 1500),
                    },
                }
            )
        count_usage(app.metering.record_usage(batch))
        if balance() < LOW_WALLET:
            refills += 1
            app.wallets.top_up("acme", f"demo-refill-{time.time_ns()}-{refills}", "20.00", "grant", None)


def run_demo(
    settings: Settings,
    host: str,
    port: int,
    seconds: float,
    rate: int,
    announce: Callable[..., None],
) -> None:
    import uvicorn

    from interfaces.rest.app import create_app

    services = bootstrap(settings)
    seed(services.app)
    dashboard_key = services.app.customers.issue_api_key("acme").key  # a read key for acme's dashboard, shown once
    stop = threading.Event()
    wallet = lambda: services.queries.balance("acme", "USD")[0]
    streamer = threading.Thread(target=usage_stream, args=(services.app, wallet, rate, stop), daemon=True)
    streamer.start()

    def stop_stream() -> None:
        stop.set()
        streamer.join(timeout=5)

    services.before_close.append(stop_stream)  # before the server's shutdown closes the pools it writes to
    announce(host, port, settings, show_key=True)
    print(f"  dashboard  http://{host}:{port}/dashboard  (sign in with acme's key {dashboard_key})", flush=True)
    server = uvicorn.Server(uvicorn.Config(create_app(services), host=host, port=port, log_level="warning"))
    if seconds > 0:
        threading.Timer(seconds, lambda: setattr(server, "should_exit", True)).start()
    try:
        server.run()
    finally:
        stop_stream()
