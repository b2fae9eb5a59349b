"""An operator key with scopes: a bearer key that acts for the operator on
any customer, but only for what its scopes name. Issuing and revoking are
events in the log; the log holds the key's hash, never the key."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identifiers import aggregate_id

# What each scope lets a key do (interfaces/rest/operations.py names the routes):
# usage:write records usage, authorizations:write asks for and voids holds,
# read reads everything the admin key reads (GET routes and GraphQL queries).
SCOPES = ("usage:write", "authorizations:write", "read")


class OperatorKey(Aggregate):
    @staticmethod
    def create_id(key_id: str) -> UUID:
        return aggregate_id("operator-key", key_id)

    @event("Issued")
    def __init__(self, key_id: str, key_hash: str, scopes: list[str]) -> None:
        assert scopes, "an operator key names at least one scope"
        assert set(scopes) <= set(SCOPES), scopes
        assert len(key_hash) == 64, "the log keeps a SHA-256 hash of the key, never the key"
        self.key_id = key_id
        self.key_hash = key_hash
        self.scopes = list(scopes)
        self.revoked = False

    @event("Revoked")
    def revoke(self) -> None:
        assert not self.revoked, "a key is revoked once"
        self.revoked = True


OperatorKeyIssued: type[Aggregate.Event] = OperatorKey.Issued  # type: ignore[attr-defined]
OperatorKeyRevoked: type[Aggregate.Event] = OperatorKey.Revoked  # type: ignore[attr-defined]
