"""The HTTP app, assembled: shared state, routers, error handlers, middleware, static files.

The routes live in serve/routes/ by audience (pages: the form and the original's ``GET /predict``;
api: ``POST /api/predict``; ops: probes and metrics) and take what they share (predictor,
settings, batcher, image fetcher) as dependencies from serve/dependencies.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from serve.dependencies import ServeState, serve_state
from serve.docs_assets import install_docs
from serve.errors import RequestFailed
from serve.middleware import install_observability
from serve.routes import api, ops, pages
from serve.settings import ServeSettings

if TYPE_CHECKING:  # the app only calls it; importing it would load torch for type hints
    from train.predictor import Predictor

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(settings: ServeSettings, predictor: Predictor) -> FastAPI:
    """Build the app around an already-loaded predictor (the CLI loads it once)."""
    state = ServeState.create(settings, predictor)
    app = FastAPI(
        title="hashtag-serve",
        description=f"Hashtag prediction for a caption and an image: model {predictor.name} "
        f"({predictor.modality}), {len(predictor.labels)} hashtags.",
        lifespan=_lifespan,
        docs_url=None,  # install_docs serves both from packages: FastAPI's load from a CDN
        redoc_url=None,
    )
    app.state.serve = state
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_docs(app, "hashtag-serve")
    install_observability(app, state.metrics, settings)
    app.add_exception_handler(RequestFailed, _on_request_failed)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    for router in (pages.router, api.router, ops.router):
        app.include_router(router)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    app.state.serve.batcher.close()


async def _on_request_failed(request: Request, error: RequestFailed) -> Response:
    return await serve_state(request).pages.render_error(request, error)


async def _on_validation_error(request: Request, error: RequestValidationError) -> Response:
    failure = RequestFailed(422, "validation", _one_line(error))
    return await serve_state(request).pages.render_error(request, failure)


def _one_line(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part not in ("query", "body"))
        parts.append(f"{where or 'request'}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"
