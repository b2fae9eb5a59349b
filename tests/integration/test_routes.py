"""The route table: no two routes answer the same request, so the order the
routers are included in (hot routes first, interfaces/rest/app.py) decides
how many routes a request is tried against, never which one answers it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Route

from interfaces.rest.app import create_app
from tests.conftest import open_services

PARAMETER = re.compile(r"{([^}:]+)(?::([a-z]+))?}")


def leaf_routes(routes: list[BaseRoute]) -> Iterator[Route]:
    for route in routes:
        nested = getattr(route, "original_router", None)  # an included router
        if nested is not None:
            yield from leaf_routes(nested.routes)
        elif isinstance(route, Route) and route.path.startswith("/"):
            yield route


def sample_path(template: str) -> str:
    """A concrete path the template matches: each parameter a plain value."""
    return PARAMETER.sub(lambda found: "a/b" if found.group(2) == "path" else "x1", template)


@pytest.fixture
def routes(tmp_path: Path) -> list[Route]:
    """The application's routes, in the order a request is matched against them."""
    services = open_services(f"sqlite:///{tmp_path}/tally.db")
    try:
        app = create_app(services)
    finally:
        services.close()
    return list(leaf_routes(app.routes))


def test_no_two_routes_answer_the_same_request(routes: list[Route]) -> None:
    assert sum(isinstance(route, APIRoute) for route in routes) > 50, "the routers' routes are all seen"
    clashes = []
    for route in routes:
        path = sample_path(route.path)
        assert route.path_regex.fullmatch(path), (route.path, path)
        for other in routes:
            if other is route or not (route.methods or set()) & (other.methods or set()):
                continue
            if other.path_regex.fullmatch(path):
                clashes.append(f"{sorted(route.methods or ())} {route.path} is also {other.path}")
    assert clashes == []


@pytest.mark.parametrize("path", ["/gateway/openai/v1/chat/completions", "/v1/events", "/v1/authorizations"])
def test_the_hot_routes_come_first(routes: list[Route], path: str) -> None:
    """What a gateway and a metering service call most is matched before the rest."""
    first = next(index for index, route in enumerate(routes) if route.path_regex.fullmatch(path))
    assert first < 12, (path, first)
