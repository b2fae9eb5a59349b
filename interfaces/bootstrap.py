"""The composition root: settings → store → application, read model and
follower, wired once for the server, the CLI and the tests."""

from __future__ import annotations

from dataclasses import dataclass

from application.ports import Clock
from application.tally import Tally, utc_now
from infrastructure.databases import open_database
from infrastructure.log_listener import LogListener
from infrastructure.price_catalog import GenaiPricesCatalog
from infrastructure.settings import Settings
from infrastructure.storage import Store, parse_database_url
from infrastructure.usage_index import usage_index_for
from projections import schema
from projections.database import Database
from projections.follower import Follower
from projections.queries import LedgerQueries

LIVE_PREFIX = "view_"


@dataclass
class Services:
    settings: Settings
    store: Store
    app: Tally
    database: Database
    follower: Follower
    queries: LedgerQueries
    listener: LogListener

    def close(self) -> None:
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
) -> Services:
    settings = settings or Settings()
    store = parse_database_url(settings.database_url)
    database = open_database(store)
    app = Tally(env=store.env, usage_index=usage_index_for, price_catalog=GenaiPricesCatalog(), clock=clock)
    with database.transaction(write=True) as cursor:
        schema.create(cursor, prefix, database.dialect)
    follower = Follower(app.recorder, app.mapper.to_domain_event, database, prefix)
    app.saved_listeners.append(follower.notify)
    listener = LogListener(app.recorder, follower.notify)
    if start_follower and settings.follower:
        follower.start()
        listener.start()
    return Services(settings, store, app, database, follower, LedgerQueries(database, prefix), listener)
