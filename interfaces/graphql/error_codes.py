"""Every GraphQL error carries the contract's machine-readable code in
`extensions.code`, as REST problems do: a client (or a fuzzer) can tell a
query it must change from a failure on tally's side."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from application.errors import TallyError

NOT_ALLOWED_CODES = {"unauthorized": "unauthorized", "forbidden": "forbidden"}


def code_of(error: GraphQLError) -> str:
    original = error.original_error
    if original is None:  # the query itself: syntax, unknown fields, wrong argument types, limits
        return "validation_error"
    if isinstance(original, TallyError):
        return original.code
    if isinstance(original, PermissionError):  # "unauthorized: ...", "forbidden: ...", or a customer not shown
        prefix = str(original).split(":", 1)[0]
        return NOT_ALLOWED_CODES.get(prefix, "not_found")
    if isinstance(original, ValueError):
        return "validation_error"
    return "internal_error"


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in (result.errors or []) if result is not None else []:
            if not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": code_of(error)}
