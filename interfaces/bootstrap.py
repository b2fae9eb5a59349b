"""The composition root: settings → store → application, read model and
follower, wired once for the server, the CLI and the tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess

from application.ingestion_guard import IngestionGuard
from application.ports import Clock
from application.tally import ReadModel, Tally, utc_now
from application.tier_settler import TierSettler
from infrastructure.counted_webhook_sender import CountedWebhookSender
from infrastructure.databases import creating_store, log_head_statement, open_database
from infrastructure.log_listener import LogListener
from infrastructure.price_catalog import GenaiPricesCatalog
from infrastructure.settings import Settings
from infrastructure.storage import Store, parse_database_url
from infrastructure.stripe_gateway import StripeGateway
from infrastructure.usage_index import usage_index_for
from infrastructure.webhook_sender import StandardWebhookSender
from interfaces.following import LIVE_PREFIX as LIVE_PREFIX
from interfaces.following import create_views, follow
from interfaces.projector import resolve_mode, start_projector_process, stop_projector_process
from projections.alert_queries import AlertQueries
from projections.authorization_queries import AuthorizationQueries
from projections.billing_queries import BillingQueries, WalletQueries
from projections.checkpoints import SqlCheckpoints
from projections.database import Database
from projections.follower import Follower
from projections.loop import StepLoop, stop_loops
from projections.part_health import PartHealth, ProgressWatch
from projections.queries import LedgerQueries, UsageHistoryQueries

WAIT_POLL_SECONDS = 0.005
POLICY_IDLE_SECONDS = 0.5


@dataclass
class Services:
    settings: Settings
    store: Store
    app: Tally
    database: Database
    follower: Follower
    queries: LedgerQueries
    listener: LogListener
    policies: list[StepLoop]  # one loop per policy, each with its own thread and health
    settler: TierSettler
    projector: BaseProcess | None = None
    follower_mode: str = "off"  # thread, process or off (interfaces/projector.py)
    follower_health: PartHealth | None = None  # this process's follower's, or its projector process's
    progress_watch: ProgressWatch = field(default_factory=ProgressWatch)
    ingestion_guard: IngestionGuard | None = None  # backpressure on POST /v1/events
    before_close: list[Callable[[], None]] = field(default_factory=list)  # e.g. the demo's usage stream

    def wait_projected(self, position: int, timeout: float) -> bool:
        """Read-your-writes wherever the follower runs: until the read model
        has applied `position` (or the timeout passes)."""
        deadline = time.monotonic() + timeout
        while self.queries.position() < position:
            if time.monotonic() > deadline:
                return False
            self.follower.wait(position, WAIT_POLL_SECONDS)
        return True

    def stop_policies(self) -> None:
        stop_loops(self.policies)

    def close(self) -> None:
        for stop in self.before_close:  # what still writes through these services stops first
            stop()
        # A re-rating or a billing run waiting for the read model to catch up
        # stops waiting and defers (it runs again later); then the policies
        # stop, before the followers, so a step under way still sees the read
        # model it reads.
        self.app.barrier.close()
        self.stop_policies()
        stop_projector_process(self.projector)
        self.listener.stop()
        self.follower.stop()
        self.database.close()
        self.app.close()


def bootstrap(
    settings: Settings | None = None,
    *,
    start_follower: bool = True,
    clock: Clock = utc_now,
    prefix: str = LIVE_PREFIX,
    follower_health: PartHealth | None = None,
) -> Services:
    settings = settings or Settings()
    store = parse_database_url(settings.database_url)
    with creating_store(store):  # one process at a time creates the store's schema and tables
        database, app, checkpoints = _open_store(settings, store, clock, prefix)
    follower, listener = follow(app.store, database, prefix, follower_health, settings.projector_gather_ms / 1000)
    settler = app.tier_settler(checkpoints)
    policies = policy_loops(app, checkpoints, settler)
    queries = LedgerQueries(database, prefix)
    services = Services(settings, store, app, database, follower, queries, listener, policies, settler)
    services.ingestion_guard = IngestionGuard(app.store.head, queries.position, settings.ingest_max_behind)
    mode = resolve_mode(settings, store.kind) if start_follower else "off"
    services.follower_mode = mode
    if mode == "thread":
        follower.start()
        listener.start()
        services.follower_health = follower.health
    elif mode == "process":
        services.projector, services.follower_health = start_projector_process(settings)
    if mode != "off" and settings.watcher:
        for loop in policies:
            loop.start()
    return services


def _open_store(settings: Settings, store: Store, clock: Clock, prefix: str) -> tuple[Database, Tally, SqlCheckpoints]:
    """The read model's database, the application on the event store, and the
    policies' checkpoints, each creating its tables if they are missing."""
    database = open_database(store)
    history = UsageHistoryQueries(database, prefix)
    authorizations = AuthorizationQueries(database, prefix)
    app = Tally(
        env=store.env,
        usage_index=usage_index_for,
        price_catalog=GenaiPricesCatalog(),
        clock=clock,
        reads=ReadModel(
            usage_history=history,
            billing=BillingQueries(database, prefix),
            wallets=WalletQueries(database, prefix),
            authorizations=authorizations,
            alerts=AlertQueries(database, prefix),
        ),
        payments=StripeGateway(settings.stripe_api_key, settings.stripe_api_base) if settings.stripe_api_key else None,
        webhooks=CountedWebhookSender(StandardWebhookSender()),
        dunning_days=tuple(settings.dunning_days),
    )
    authorizations.read_head_with(log_head_statement(app.store.recorder))  # the views live beside the log
    create_views(database, prefix)
    return database, app, SqlCheckpoints(database)


def policy_loops(app: Tally, checkpoints: SqlCheckpoints, settler: TierSettler) -> list[StepLoop]:
    """One loop per policy, each with its own thread and health: a policy
    whose steps fail is retried on its own and named by /healthz, and never
    holds up the steps of another."""
    steps: dict[str, Callable[[], int]] = {
        "version-watcher": app.version_watcher(checkpoints).step,
        "tier-settler": settler.step,
        "dunning": app.dunning().step,
        "wallet-policies": app.wallet_policies.step,
        "alerts": app.alert_policy(checkpoints).step,
        "webhooks": app.webhook_dispatcher(checkpoints).step,
    }
    return [StepLoop(step, name, POLICY_IDLE_SECONDS) for name, step in steps.items()]
