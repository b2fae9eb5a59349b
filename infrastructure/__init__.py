"""Adapters: the event store's configuration, SQL databases for the read
model, the usage index and settings."""
