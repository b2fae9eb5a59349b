"""Swagger UI at /docs, ReDoc at /redoc and GraphiQL at /graphql in headless
Chromium, through a real server, with every request that leaves 127.0.0.1
refused: each page renders all the same (Swagger and ReDoc list the
operations, GraphiQL shows its editor), and no page asked anything of
another host."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, Route, sync_playwright

from tests.e2e.test_dashboard_page import CHROMIUM, FLAGS, SCREENSHOTS

LOCAL_HOSTS = {"127.0.0.1"}
LOCAL_SCHEMES = {"data", "blob", "about"}


@pytest.fixture
def offline_page() -> Iterator[tuple[Page, list[str]]]:
    """A page whose requests to any other host are refused at the network;
    every URL it asked for, and (appended as "left: <url>") every request
    that reached the network for another host."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: scripts/ensure-chromium installs Debian's package")
    asked: list[str] = []

    def only_local(route: Route) -> None:
        if is_local(route.request.url):
            route.continue_()
        else:
            asked.append(f"left: {route.request.url}")
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("request", lambda request: asked.append(request.url))
        page.route("**/*", only_local)
        yield page, asked
        browser.close()


def is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in LOCAL_SCHEMES or parsed.hostname in LOCAL_HOSTS


def left(asked: list[str]) -> list[str]:
    return [url for url in asked if url.startswith("left: ")]


def test_swagger_ui_renders_the_operations_from_local_assets(
    sqlite_server: str, offline_page: tuple[Page, list[str]]
) -> None:
    page, asked = offline_page
    page.goto(f"{sqlite_server}/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/v1/events" in path for path in paths), paths
    assert any("/v1/authorizations" in path for path in paths), paths
    assert any("/assets/swagger-ui/swagger-ui-bundle.js" in url for url in asked), asked
    assert [url for url in asked if not is_local(url)] == []  # nothing asked of another host at all
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "swagger-ui.png"))


def test_redoc_renders_the_operations_from_local_assets(
    sqlite_server: str, offline_page: tuple[Page, list[str]]
) -> None:
    page, asked = offline_page
    page.goto(f"{sqlite_server}/redoc")
    page.wait_for_selector("[data-role='redoc-summary']", state="attached", timeout=30_000)
    assert "/v1/events" in page.inner_text("body")
    assert any("/assets/redoc/redoc.standalone.js" in url for url in asked), asked
    # ReDoc's bundle asks for its maker's logo from a CDN; the page's content
    # security policy refuses it in the browser, so it never reaches the network.
    assert left(asked) == []
    response = page.request.get(f"{sqlite_server}/redoc")
    assert "img-src 'self' data:" in response.headers["content-security-policy"]


def test_graphiql_renders_its_editor_from_local_assets(
    sqlite_server: str, offline_page: tuple[Page, list[str]]
) -> None:
    page, asked = offline_page
    page.goto(f"{sqlite_server}/graphql")
    page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=20_000)
    assert page.locator(".graphiql-execute-button").count() == 1
    assert "Welcome to GraphiQL" in page.inner_text(".graphiql-query-editor")
    assert any("/assets/graphiql/graphiql.min.js" in url for url in asked), asked
    assert [url for url in asked if not is_local(url)] == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "graphiql.png"))
