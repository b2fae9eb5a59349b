"""Swagger UI, ReDoc and GraphiQL from local files: Swagger UI's from the
swagger-ui-bundle-v2 package, ReDoc's and GraphiQL's vendored beside this
module (see redoc/LICENSES.md and graphiql/LICENSES.md). A machine without
internet access shows all three pages."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

HERE = Path(__file__).parent
SWAGGER_ASSETS = "/assets/swagger-ui"
GRAPHIQL_ASSETS = "/assets/graphiql"
REDOC_ASSETS = "/assets/redoc"
DOCS_URL = "/docs"
# The pages may load and connect to this server only: what they would fetch
# from elsewhere (ReDoc's decorative logo) is refused by the browser before it
# leaves, so no page depends on, or tells, another host. Inline scripts and
# styles are how the three pages start.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:"
)
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def install(app: FastAPI) -> None:
    """Serve /docs, /redoc and the pages' assets; the app is created with
    docs_url=None and redoc_url=None, so FastAPI's own pages (which load
    from a CDN) are absent."""
    app.mount(SWAGGER_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui-assets")
    app.mount(GRAPHIQL_ASSETS, StaticFiles(directory=str(HERE / "graphiql")), name="graphiql-assets")
    app.mount(REDOC_ASSETS, StaticFiles(directory=str(HERE / "redoc")), name="redoc-assets")
    title = f"{app.title} - Swagger UI"
    openapi_url = app.openapi_url or "/openapi.json"

    async def swagger_ui() -> HTMLResponse:
        return local_only(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=title,
                oauth2_redirect_url=OAUTH2_REDIRECT_URL,
                swagger_js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{SWAGGER_ASSETS}/favicon-32x32.png",
            )
        )

    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc() -> HTMLResponse:
        return local_only(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{REDOC_ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{SWAGGER_ASSETS}/favicon-32x32.png",
                with_google_fonts=False,
            )
        )

    app.add_api_route(DOCS_URL, swagger_ui, include_in_schema=False)
    app.add_api_route(OAUTH2_REDIRECT_URL, oauth2_redirect, include_in_schema=False)
    app.add_api_route(REDOC_URL, redoc, include_in_schema=False)


def local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["content-security-policy"] = CONTENT_SECURITY_POLICY
    return page


@cache
def graphiql_html() -> str:
    """strawberry's GraphiQL page with its CDN addresses pointed at /assets/graphiql."""
    return (HERE / "graphiql.html").read_text(encoding="utf-8")
