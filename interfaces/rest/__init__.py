"""The REST API (contract: docs/api.md and /openapi.json)."""
