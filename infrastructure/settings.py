"""Settings from the environment (TALLY_*), validated once at start."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, FilePath, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./tally.db"
IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")  # PNG, JPEG


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TALLY_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    admin_key: str | None = None
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=16 * 1024 * 1024)
    max_batch_events: int = Field(default=1000, ge=1, le=1000)
    follower: bool = True
    # POST /v1/events is refused (429 rate_limited, Retry-After) while the
    # read model is more than this many events behind the log: producers slow
    # to what the views follow, well before authorizations would stop (at
    # 100,000 behind, application/log_tail.py).
    ingest_max_behind: int = Field(default=50_000, ge=100, le=90_000)
    # Where the projection follower runs: auto = a thread on SQLite, a child
    # process on PostgreSQL (interfaces/projector.py).
    projector: Literal["auto", "thread", "process", "off"] = "auto"
    # A projector process may run at a lower CPU priority (Unix nice), so on
    # a machine with cores to spare requests come first (what customers,
    # gateways and authorizations read counts the log's tail beyond the view).
    # Off by default: on a saturated machine a niced projector gets little
    # CPU, and authorizations are refused once the view is 100,000 events behind.
    projector_nice: int = Field(default=0, ge=0, le=19)
    # Woken by an append while idle, the projector waits this long before it
    # reads, so the appends of that moment (a gateway call's hold and usage,
    # concurrent requests) are applied in one transaction rather than one
    # each: less CPU and fewer commits beside the requests, for a view this
    # much later. What balances, authorizations and gateways read counts the
    # log's tail beyond the view, so they do not wait for it. 0: at once.
    projector_gather_ms: int = Field(default=10, ge=0, le=1000)
    # The version watcher (re-rating) runs where the follower runs, except with
    # a projector process: then it runs in the server, so that re-rating and
    # projecting its adjustments use two cores.
    watcher: bool = True
    # Processes that fill a replay's (and an audit's) scratch view side by
    # side, each folding its own pages, written in log order. 0: one per core
    # (at most 4) on a log of 20,000 events or more; N: N on any log; 1: the
    # command's own process alone.
    replay_workers: int = Field(default=0, ge=0, le=16)
    # When /healthz names a part (the follower, each policy) as red: after this
    # many failed steps in a row (about one a second while a fault lasts) ...
    health_failures: int = Field(default=3, ge=1, le=1000)
    # ... when the log holds work for the follower and the read model's
    # position has not moved for this long ...
    health_stall_seconds: float = Field(default=30.0, gt=0, le=86_400)
    # ... or when one step of any part has run this long. A re-rating of a
    # long history is one step of the version watcher and may take minutes.
    health_step_seconds: float = Field(default=600.0, gt=0, le=86_400)

    # The gateway's upstream providers (TALLY_UPSTREAM_*): the operator's keys
    # go to the providers and nowhere else. Without a key, calls are forwarded
    # without one (a local model server). The timeout bounds the wait for an
    # answer to start and each wait between its parts.
    upstream_openai_url: str = "https://api.openai.com/v1"
    upstream_openai_key: str | None = None
    upstream_anthropic_url: str = "https://api.anthropic.com"
    upstream_anthropic_key: str | None = None
    upstream_timeout_seconds: float = Field(default=600.0, gt=0, le=3600)
    # A model call's body may carry images and files inline (base64).
    gateway_max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)

    # Stripe (the contract's names, without the TALLY_ prefix). Without a key,
    # card top-ups and card charges are refused with a 422.
    stripe_api_key: str | None = Field(default=None, validation_alias=AliasChoices("STRIPE_API_KEY", "stripe_api_key"))
    stripe_api_base: str | None = Field(
        default=None, validation_alias=AliasChoices("STRIPE_API_BASE", "stripe_api_base")
    )
    stripe_webhook_secret: str | None = Field(
        default=None, validation_alias=AliasChoices("STRIPE_WEBHOOK_SECRET", "stripe_webhook_secret")
    )
    # Days after a failed card charge at which it is retried; after the last
    # failure the invoice is uncollectible.
    dunning_days: list[int] = Field(default=[1, 3, 7], min_length=1, max_length=10)

    # Logs on standard error: one line per record, JSON for a log shipper or
    # text for a person (docs/observability.md); one line per HTTP request at info.
    log_format: Literal["json", "text"] = "text"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # The seller printed on invoices and statements: name, postal address
    # (lines separated by newlines or by a literal backslash-n), tax id (e.g. a VAT
    # id) and a PNG or JPEG logo; a logo path that does not exist stops the start.
    seller_name: str | None = Field(default=None, max_length=200)
    seller_address: str | None = Field(default=None, max_length=500)
    seller_tax_id: str | None = Field(default=None, max_length=64)
    seller_logo: FilePath | None = None

    @field_validator("seller_logo")
    @classmethod
    def _an_image(cls, logo: Path | None) -> Path | None:
        """A logo that is not a PNG or JPEG stops the start, not an invoice's rendering."""
        if logo is not None:
            with logo.open("rb") as file:
                head = file.read(8)
            if not head.startswith(IMAGE_SIGNATURES):
                raise ValueError(f"{logo} is not a PNG or JPEG image")
        return logo
