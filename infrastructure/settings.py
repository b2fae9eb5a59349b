"""Settings from the environment (TALLY_*), validated once at start."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./tally.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TALLY_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    admin_key: str | None = None
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=16 * 1024 * 1024)
    max_batch_events: int = Field(default=1000, ge=1, le=1000)
    follower: bool = True
    # Where the projection follower runs: auto = a thread on SQLite, a child
    # process on PostgreSQL (interfaces/projector.py).
    projector: Literal["auto", "thread", "process", "off"] = "auto"
    # The version watcher (re-rating) runs where the follower runs, except with
    # a projector process: then it runs in the server, so that re-rating and
    # projecting its adjustments use two cores.
    watcher: bool = True
