"""The read model's tables. Every name carries a prefix, so the same schema can
be built beside the live one (a rebuild, an audit) and swapped in."""

from __future__ import annotations

from projections.database import Cursor, Dialect

TABLES = (
    "tracking", "postings", "accounts", "balances", "usage_daily", "customers", "usage_events", "usage_lines",
    "tier_months", "invoices", "top_ups", "hold_captures", "alerts", "deliveries",
)  # fmt: skip
VIEW_NAME = "ledger"


def create_statements(prefix: str, dialect: Dialect) -> list[str]:
    num = dialect.numeric
    p = prefix
    return [
        f"CREATE TABLE IF NOT EXISTS {p}tracking (name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS {p}postings (
            position BIGINT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
            cause_type TEXT NOT NULL, cause_id TEXT NOT NULL, cause_ref TEXT NOT NULL,
            customer TEXT, debit TEXT NOT NULL, credit TEXT NOT NULL,
            amount {num} NOT NULL, currency TEXT NOT NULL, posted_at TEXT NOT NULL, occurred_at TEXT NOT NULL,
            PRIMARY KEY (position, seq))""",
        f"CREATE INDEX IF NOT EXISTS {p}postings_debit ON {p}postings (debit, position)",
        f"CREATE INDEX IF NOT EXISTS {p}postings_credit ON {p}postings (credit, position)",
        f"CREATE INDEX IF NOT EXISTS {p}postings_customer ON {p}postings (customer, position)",
        f"CREATE INDEX IF NOT EXISTS {p}postings_posted_at ON {p}postings (posted_at)",
        f"""CREATE TABLE IF NOT EXISTS {p}accounts (
            account TEXT NOT NULL, currency TEXT NOT NULL, type TEXT NOT NULL,
            debits {num} NOT NULL, credits {num} NOT NULL, PRIMARY KEY (account, currency))""",
        f"""CREATE TABLE IF NOT EXISTS {p}balances (
            customer TEXT NOT NULL, currency TEXT NOT NULL, balance {num} NOT NULL,
            updated_at TEXT NOT NULL, PRIMARY KEY (customer, currency))""",
        f"""CREATE TABLE IF NOT EXISTS {p}usage_daily (
            customer TEXT NOT NULL, day TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
            feature TEXT NOT NULL, currency TEXT NOT NULL, events BIGINT NOT NULL,
            unpriced BIGINT NOT NULL, cost {num} NOT NULL, charge {num} NOT NULL,
            PRIMARY KEY (customer, day, provider, model, feature))""",
        f"""CREATE TABLE IF NOT EXISTS {p}customers (
            customer TEXT PRIMARY KEY, aggregate_id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, currency TEXT NOT NULL,
            plan TEXT NOT NULL, billing TEXT NOT NULL, status TEXT NOT NULL,
            created_at TEXT NOT NULL, position BIGINT NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS {p}usage_events (
            usage_id TEXT PRIMARY KEY, customer TEXT NOT NULL, event_id TEXT NOT NULL,
            occurred_at TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, feature TEXT,
            usage TEXT NOT NULL, version INTEGER NOT NULL, price_book TEXT, price_version INTEGER,
            plan TEXT, plan_version INTEGER, currency TEXT, cost {num}, charge {num}, account TEXT,
            tiered INTEGER NOT NULL, rated_position BIGINT, position BIGINT NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS {p}usage_events_customer ON {p}usage_events (customer, occurred_at)",
        f"""CREATE TABLE IF NOT EXISTS {p}usage_lines (
            usage_id TEXT NOT NULL, unit TEXT NOT NULL, customer TEXT NOT NULL, occurred_at TEXT NOT NULL,
            provider TEXT NOT NULL, model TEXT NOT NULL, feature TEXT NOT NULL, quantity BIGINT NOT NULL,
            cost {num} NOT NULL, charge {num} NOT NULL, PRIMARY KEY (usage_id, unit))""",
        f"CREATE INDEX IF NOT EXISTS {p}usage_lines_customer ON {p}usage_lines (customer, occurred_at)",
        f"CREATE INDEX IF NOT EXISTS {p}usage_events_occurred ON {p}usage_events (occurred_at, usage_id)",
        f"CREATE INDEX IF NOT EXISTS {p}usage_events_position ON {p}usage_events (position)",
        f"""CREATE TABLE IF NOT EXISTS {p}tier_months (
            customer TEXT NOT NULL, period TEXT NOT NULL, currency TEXT NOT NULL, tiered_cost {num} NOT NULL,
            difference {num} NOT NULL, closed INTEGER NOT NULL, position BIGINT NOT NULL,
            PRIMARY KEY (customer, period))""",
        f"""CREATE TABLE IF NOT EXISTS {p}invoices (
            invoice_id TEXT PRIMARY KEY, aggregate_id TEXT NOT NULL, customer TEXT NOT NULL, kind TEXT NOT NULL,
            billing TEXT NOT NULL, currency TEXT NOT NULL, period_start TEXT NOT NULL, period_end TEXT NOT NULL,
            cut BIGINT NOT NULL, total {num} NOT NULL, amount_due {num} NOT NULL, amount_paid {num} NOT NULL,
            credit_carried {num} NOT NULL, status TEXT NOT NULL, due_at TEXT, next_attempt_at TEXT,
            issued_at TEXT NOT NULL, position BIGINT NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS {p}invoices_customer ON {p}invoices (customer, period_end)",
        f"""CREATE TABLE IF NOT EXISTS {p}top_ups (
            customer TEXT NOT NULL, top_up_id TEXT NOT NULL, source TEXT NOT NULL, automatic INTEGER NOT NULL,
            amount {num} NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, expires_at TEXT,
            expired {num}, refunded {num} NOT NULL, disputed {num} NOT NULL, created_at TEXT NOT NULL,
            position BIGINT NOT NULL, PRIMARY KEY (customer, top_up_id))""",
        f"CREATE INDEX IF NOT EXISTS {p}top_ups_expiry ON {p}top_ups (expires_at)",
        # A hold is captured by the first usage of its own customer that names
        # it; another customer's usage naming it captures nothing of it.
        f"""CREATE TABLE IF NOT EXISTS {p}hold_captures (
            customer TEXT NOT NULL, authorization_id TEXT NOT NULL, usage_id TEXT NOT NULL,
            position BIGINT NOT NULL, PRIMARY KEY (customer, authorization_id))""",
        f"CREATE INDEX IF NOT EXISTS {p}hold_captures_position ON {p}hold_captures (customer, position)",
        # Stores made before hold_captures kept one capture per authorization
        # id, whichever customer's usage named it first: their rows move over
        # (an empty table of that shape is made first where there is none).
        f"""CREATE TABLE IF NOT EXISTS {p}captures (
            authorization_id TEXT PRIMARY KEY, customer TEXT NOT NULL, usage_id TEXT NOT NULL,
            position BIGINT NOT NULL)""",
        f"""INSERT INTO {p}hold_captures (customer, authorization_id, usage_id, position)
            SELECT customer, authorization_id, usage_id, position FROM {p}captures
            WHERE 1 = 1 ON CONFLICT (customer, authorization_id) DO NOTHING""",  # WHERE: SQLite's parser asks it
        f"DROP TABLE {p}captures",
        f"""CREATE TABLE IF NOT EXISTS {p}alerts (
            alert_id TEXT PRIMARY KEY, customer TEXT NOT NULL, kind TEXT NOT NULL, period TEXT NOT NULL,
            threshold TEXT NOT NULL, message TEXT NOT NULL, value TEXT NOT NULL, raised_at TEXT NOT NULL,
            position BIGINT NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS {p}alerts_customer ON {p}alerts (customer, position)",
        f"""CREATE TABLE IF NOT EXISTS {p}deliveries (
            endpoint_id TEXT NOT NULL, message_id TEXT NOT NULL, event_type TEXT NOT NULL, status TEXT NOT NULL,
            attempts INTEGER NOT NULL, last_status_code INTEGER, next_attempt_at TEXT, position BIGINT NOT NULL,
            PRIMARY KEY (endpoint_id, message_id))""",
        f"INSERT INTO {p}tracking (name, position) VALUES ('{VIEW_NAME}', 0) ON CONFLICT (name) DO NOTHING",
    ]


def create(cursor: Cursor, prefix: str, dialect: Dialect, *, indexes: bool = True) -> None:
    """The tables, and unless `indexes` is false their secondary indexes. A
    scratch view being rebuilt goes without them while it is filled: the fold
    reads and updates rows by their keys only, and building an index once
    from the full table is far cheaper than keeping it up to date row by
    row (docs/performance.md, section 21)."""
    for statement in create_statements(prefix, dialect):
        if indexes or not _is_index(statement):
            cursor.execute(statement)


def create_indexes(cursor: Cursor, prefix: str, dialect: Dialect) -> None:
    """The secondary indexes of tables made with `indexes=False`."""
    for statement in _index_statements(prefix, dialect):
        cursor.execute(statement)


def drop(cursor: Cursor, prefix: str) -> None:
    for table in TABLES:
        cursor.execute(f"DROP TABLE IF EXISTS {prefix}{table}")


def rename(cursor: Cursor, source_prefix: str, target_prefix: str, dialect: Dialect) -> None:
    """Swap a rebuilt schema into place, its indexes under the new names.
    PostgreSQL renames every index the source tables have (their keys' too);
    SQLite cannot rename one, so there, as for any secondary index the source
    lacks, it is built here, in the swap's transaction."""
    drop(cursor, target_prefix)
    for table in TABLES:
        cursor.execute(f"ALTER TABLE {source_prefix}{table} RENAME TO {target_prefix}{table}")
    if dialect.name == "postgresql":
        for table in TABLES:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?",
                (f"{target_prefix}{table}",),
            )
            for (index,) in cursor.fetchall():
                if index.startswith(source_prefix):
                    cursor.execute(f"ALTER INDEX {index} RENAME TO {target_prefix}{index[len(source_prefix) :]}")
    for statement in _index_statements(target_prefix, dialect):
        cursor.execute(statement)  # IF NOT EXISTS: an index renamed above is not built again
    for statement in _index_statements(source_prefix, dialect):
        cursor.execute(f"DROP INDEX IF EXISTS {_index_name(statement)}")


def _is_index(statement: str) -> bool:
    return statement.startswith("CREATE INDEX")


def _index_statements(prefix: str, dialect: Dialect) -> list[str]:
    return [statement for statement in create_statements(prefix, dialect) if _is_index(statement)]


def _index_name(statement: str) -> str:
    return statement.split()[5]  # CREATE INDEX IF NOT EXISTS <name> ON ...
