"""``/docs`` (Swagger UI) and ``/redoc`` served from installed packages, never from a CDN.

FastAPI's own pages load their JavaScript from jsDelivr, so on a machine without internet they
are blank. Swagger UI comes from the ``swagger-ui-bundle`` package and ReDoc's standalone build
from ``fastapi-offline`` (the PyPI package that ships ``redoc.standalone.js``; only its asset is
used), each mounted as static files beside the app.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)
REDOC_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
SWAGGER_URL = "/docs-assets/swagger"
REDOC_URL = "/docs-assets/redoc"


def install_docs(app: FastAPI, title: str) -> None:
    """Add ``/docs``, its OAuth2 redirect and ``/redoc`` to an app created with
    ``docs_url=None, redoc_url=None``."""
    app.mount(SWAGGER_URL, StaticFiles(directory=SWAGGER_DIR), name="swagger-assets")
    app.mount(REDOC_URL, StaticFiles(directory=REDOC_DIR), name="redoc-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title}: API docs",
            oauth2_redirect_url=oauth2_redirect,
            swagger_js_url=f"{SWAGGER_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_URL}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_URL}/favicon-32x32.png",
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title}: API reference",
            redoc_js_url=f"{REDOC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{REDOC_URL}/favicon.png",
            with_google_fonts=False,
        )
