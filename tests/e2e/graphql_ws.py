"""A GraphQL subscription client over websockets (graphql-transport-ws), for
the tests and the benchmark."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from websockets.sync.client import ClientConnection, connect


@contextmanager
def subscription(base: str, key: str, query: str) -> Iterator[ClientConnection]:
    url = base.replace("http://", "ws://") + "/graphql"
    with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {key}"}}))
        assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
        socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        yield socket


def next_data(socket: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    message = json.loads(socket.recv(timeout=timeout))
    assert message["type"] == "next", message
    data: dict[str, Any] = message["payload"]["data"]
    return data
