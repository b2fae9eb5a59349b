"""The benchmark suite: `make bench` (python -m bench) measures ingestion through
the application layer and over HTTP, the lag from acceptance to a visible
balance, and the plain-INSERT floor, on SQLite and PostgreSQL in one run."""
