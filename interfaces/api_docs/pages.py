"""Swagger UI and GraphiQL from local files: Swagger UI's from the
swagger-ui-bundle-v2 package, GraphiQL's vendored beside this module (see
graphiql/LICENSES.md). A machine without internet access shows both pages."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

HERE = Path(__file__).parent
SWAGGER_ASSETS = "/assets/swagger-ui"
GRAPHIQL_ASSETS = "/assets/graphiql"
DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def install(app: FastAPI) -> None:
    """Serve /docs and both pages' assets; the app is created with
    docs_url=None, so FastAPI's own /docs (which loads from a CDN) is absent."""
    app.mount(SWAGGER_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui-assets")
    app.mount(GRAPHIQL_ASSETS, StaticFiles(directory=str(HERE / "graphiql")), name="graphiql-assets")
    title = f"{app.title} - Swagger UI"
    openapi_url = app.openapi_url or "/openapi.json"

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            swagger_js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_ASSETS}/favicon-32x32.png",
        )

    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_api_route(DOCS_URL, swagger_ui, include_in_schema=False)
    app.add_api_route(OAUTH2_REDIRECT_URL, oauth2_redirect, include_in_schema=False)


@cache
def graphiql_html() -> str:
    """strawberry's GraphiQL page with its CDN addresses pointed at /assets/graphiql."""
    return (HERE / "graphiql.html").read_text(encoding="utf-8")
