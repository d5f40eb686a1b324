"""The HTTP app: the seed's ``GET /predict``, uploads, a JSON API, the form page, probes, metrics.

Every prediction route funnels into :func:`_Service.predict`, so validation, modality rules and
timing are written once; routes differ only in where inputs come from and how answers render.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import jinja2
from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from PIL import Image
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serve.batching import MicroBatcher
from serve.docs_assets import install_docs
from serve.errors import RequestFailed
from serve.metrics import ServeMetrics, create_metrics
from serve.remote_images import (
    DRIVE_ID_PATTERN,
    FetchPolicy,
    decode_image,
    fetch_drive,
    fetch_url,
    preview_data_uri,
    within_deadline,
)
from serve.settings import ServeSettings

if TYPE_CHECKING:  # the app only calls it; importing it would load torch for type hints
    from train.predictor import Predictor

PACKAGE_DIR = Path(__file__).resolve().parent
SEED_MAX_SEQ_LEN = 20
SEED_N_LABEL = 10
# Generous static bounds for the schema; the model's own limits are checked per request.
SCHEMA_MAX_SEQ_LEN = 4096
SCHEMA_MAX_LABELS = 100_000
MAX_URL_CHARS = 2048
# Multipart framing and the small form fields around an upload.
FORM_OVERHEAD_BYTES = 64 * 1024
# The form page's worked example: a caption as people write it (the hashtag and the mention are
# removed before the model reads it; the emoji is kept, or spelt out for a demojized dataset).
EXAMPLE_CAPTION = "Golden hour on the beach with friends 🌅 #sunset @sam"
# Request fields the form page fills in again after an error (files cannot be re-filled).
FORM_FIELDS = ("text", "image_url", "n_label", "max_seq_len")


class Hashtag(BaseModel):
    tag: str
    score: float


class PredictResponse(BaseModel):
    hashtags: list[Hashtag]
    model: str
    latency_ms: float


class ApiPredictRequest(BaseModel):
    """A JSON prediction request; give a caption, one image source, or both."""

    text: str | None = Field(None, description="the caption")
    image_id: str | None = Field(None, description="public Google Drive file id")
    image_url: str | None = Field(None, max_length=MAX_URL_CHARS, description="http(s) image URL")
    image_base64: str | None = Field(None, description="the image file, base64-encoded")
    max_seq_len: int | None = Field(
        None, ge=1, le=SCHEMA_MAX_SEQ_LEN, description="default min(20, the model's maximum)"
    )
    n_label: int | None = Field(None, ge=1, le=SCHEMA_MAX_LABELS, description="default min(10, K)")


# The HTML routes also answer JSON (content negotiation); the schema says so. A reference, not
# ``model_json_schema()`` inline: that one's "#/$defs/Hashtag" points nowhere in the OpenAPI
# document, and ReDoc stops at it. /api/predict's response_model puts PredictResponse there.
JSON_ALTERNATIVE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/PredictResponse"}}
        }
    }
}


@dataclasses.dataclass(frozen=True)
class _Outcome:
    caption: str
    image: Image.Image | None
    hashtags: list[tuple[str, float]]
    model: str
    latency_ms: float

    def as_json(self) -> dict[str, Any]:
        tags = [{"tag": tag, "score": round(score, 6)} for tag, score in self.hashtags]
        return {"hashtags": tags, "model": self.model, "latency_ms": round(self.latency_ms, 3)}


@dataclasses.dataclass(frozen=True)
class _ImageSource:
    """Where a request's image comes from; at most one field may be set."""

    image_id: str | None = None
    image_url: str | None = None
    upload: bytes | None = None


@dataclasses.dataclass(frozen=True)
class _Service:
    """The per-app state shared by the routes."""

    settings: ServeSettings
    predictor: Predictor
    batcher: MicroBatcher
    policy: FetchPolicy

    async def load_image(self, source: _ImageSource) -> Image.Image | None:
        image_id, image_url, upload = source.image_id, source.image_url, source.upload
        sources = [
            name
            for name, value in (("image_id", image_id), ("image_url", image_url), ("image", upload))
            if value
        ]
        if len(sources) > 1:
            raise RequestFailed(
                422, "two_images", f"give one image source, not {' and '.join(sources)}"
            )
        if image_id or image_url:
            fetch = (
                fetch_drive(image_id, self.settings.drive_base_url, self.policy)
                if image_id
                else fetch_url(image_url, self.policy)
            )
            data = await within_deadline(fetch, self.policy, upstream=bool(image_id))
        elif upload:
            data = upload
        else:
            return None
        # Decoding is CPU-bound; a thread keeps the event loop answering meanwhile.
        return await asyncio.to_thread(decode_image, data, self.settings.max_image_pixels)

    async def predict(
        self,
        text: str | None,
        source: _ImageSource,
        max_seq_len: int | None,
        n_label: int | None,
    ) -> _Outcome:
        """Predict with the seed's defaults: 20 tokens and 10 tags, capped by what the model has.

        Cheap checks come first, so a request that will be refused never triggers a download.
        """
        caption = text or ""
        max_seq_len = max_seq_len or min(SEED_MAX_SEQ_LEN, self.predictor.max_seq_len)
        self._check_limits(caption, max_seq_len, n_label)
        image = await self.load_image(source)
        # The predictor turns the caption into model text itself; this copy only tells whether
        # anything is left of it.
        model_text = self.predictor.model_text(caption) or None
        self._check_modality(model_text, caption, image)
        top_k = n_label or min(SEED_N_LABEL, len(self.predictor.labels))
        started = time.perf_counter()
        hashtags = await self.batcher.predict(caption, image, top_k, max_seq_len)
        latency_ms = (time.perf_counter() - started) * 1000.0
        return _Outcome(caption, image, hashtags, self.predictor.name, latency_ms)

    def _check_limits(self, caption: str, max_seq_len: int, n_label: int | None) -> None:
        limit = self.settings.max_text_chars
        if len(caption) > limit:
            raise RequestFailed(
                422, "text_too_long", f"text is {len(caption)} characters; the limit is {limit}"
            )
        model_len = self.predictor.max_seq_len
        if not 1 <= max_seq_len <= model_len:
            raise RequestFailed(
                422, "bad_max_seq_len", f"max_seq_len must be between 1 and {model_len}"
            )
        labels = len(self.predictor.labels)
        if n_label is not None and not 1 <= n_label <= labels:
            raise RequestFailed(
                422,
                "bad_n_label",
                f"n_label must be between 1 and {labels} (the number of hashtags the model knows)",
            )

    def _check_modality(
        self, model_text: str | None, caption: str, image: Image.Image | None
    ) -> None:
        modality = self.predictor.modality
        if modality == "image" and image is None:
            raise RequestFailed(
                422,
                "image_required",
                "this model predicts from images: send image_id, image_url or an image file",
            )
        if modality == "text" and model_text is None:
            raise RequestFailed(
                422,
                "text_required",
                "this model predicts from captions: send a non-empty text "
                "(hashtags, mentions and URLs alone are removed)",
            )
        if model_text is None and image is None:
            detail = " (hashtags, mentions and URLs are removed from it)" if caption else ""
            raise RequestFailed(422, "no_input", f"send a caption{detail}, an image, or both")


def create_app(settings: ServeSettings, predictor: Predictor) -> FastAPI:
    """Build the app around an already-loaded predictor (the CLI loads it once)."""
    metrics = create_metrics()
    batcher = MicroBatcher(
        predictor.predict,
        settings.max_batch_size,
        settings.max_wait_ms,
        on_batch=metrics.batch_sizes.observe,
    )
    policy = FetchPolicy(
        allow_private=settings.allow_private_urls,
        timeout_s=settings.fetch_timeout_s,
        max_bytes=settings.max_upload_bytes,
        max_redirects=settings.max_redirects,
    )
    service = _Service(settings, predictor, batcher, policy)
    templates = Jinja2Templates(
        env=jinja2.Environment(
            loader=jinja2.FileSystemLoader(PACKAGE_DIR / "templates"), autoescape=True
        )
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        batcher.close()

    app = FastAPI(
        title="hashtag-serve",
        description=f"Hashtag prediction for a caption and an image (ALBERT + VGG16): model "
        f"{predictor.name}, {len(predictor.labels)} hashtags.",
        lifespan=lifespan,
        docs_url=None,  # install_docs serves both from packages: FastAPI's load from a CDN
        redoc_url=None,
    )
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    install_docs(app, "hashtag-serve")
    _install_observability(app, metrics, settings)

    async def render(request: Request, outcome: _Outcome, template: str) -> Response:
        if _wants_json(request):
            return JSONResponse(outcome.as_json())
        # The preview is a JPEG encode of the image: CPU work, kept off the event loop.
        context = await asyncio.to_thread(_page_context, outcome, predictor)
        return templates.TemplateResponse(request, template, context)

    async def render_error(request: Request, error: RequestFailed) -> Response:
        """JSON for API clients; for people, the form again, filled in as they sent it."""
        if _wants_json(request):
            return _error_json(error, metrics)
        metrics.errors.labels(error.reason).inc()
        context = {
            **_page_context(None, predictor),
            "error": error,
            "submitted": await _submitted(request),
        }
        return templates.TemplateResponse(request, "index.html", context, status_code=error.status)

    @app.exception_handler(RequestFailed)
    async def on_request_failed(request: Request, error: RequestFailed) -> Response:
        return await render_error(request, error)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, error: RequestValidationError) -> Response:
        return await render_error(request, RequestFailed(422, "validation", _one_line(error)))

    @app.get("/", response_class=HTMLResponse, summary="The form page")
    async def index(request: Request) -> Response:
        return templates.TemplateResponse(request, "index.html", _page_context(None, predictor))

    @app.get(
        "/predict",
        summary="The seed's prediction URL: HTML result page, or JSON if Accept asks for it",
        response_class=HTMLResponse,
        responses=JSON_ALTERNATIVE,
    )
    async def predict_get(
        request: Request,
        image_id: Annotated[str | None, Query(pattern=DRIVE_ID_PATTERN)] = None,
        image_url: Annotated[str | None, Query(max_length=MAX_URL_CHARS)] = None,
        text: str = "",
        max_seq_len: Annotated[int | None, Query(ge=1, le=SCHEMA_MAX_SEQ_LEN)] = None,
        n_label: Annotated[int | None, Query(ge=1, le=SCHEMA_MAX_LABELS)] = None,
    ) -> Response:
        source = _ImageSource(image_id=image_id, image_url=image_url)
        outcome = await service.predict(text, source, max_seq_len, n_label)
        return await render(request, outcome, "result.html")

    @app.post(
        "/predict",
        summary="Form upload (multipart): the index page with results, or JSON if Accept asks",
        response_class=HTMLResponse,
        responses=JSON_ALTERNATIVE,
    )
    async def predict_form(
        request: Request,
        image: Annotated[UploadFile | None, File()] = None,
        image_url: Annotated[str, Form(max_length=MAX_URL_CHARS)] = "",
        text: Annotated[str, Form()] = "",
        max_seq_len: Annotated[int | None, Form(ge=1, le=SCHEMA_MAX_SEQ_LEN)] = None,
        n_label: Annotated[int | None, Form(ge=1, le=SCHEMA_MAX_LABELS)] = None,
    ) -> Response:
        upload = await _read_upload(image, settings.max_upload_bytes)
        source = _ImageSource(image_url=image_url.strip() or None, upload=upload)
        outcome = await service.predict(text, source, max_seq_len, n_label)
        return await render(request, outcome, "index.html")

    @app.post("/api/predict", summary="JSON prediction", response_model=PredictResponse)
    async def predict_api(body: ApiPredictRequest) -> dict[str, Any]:
        upload = _decode_base64(body.image_base64, settings.max_upload_bytes)
        source = _ImageSource(body.image_id, body.image_url, upload)
        outcome = await service.predict(body.text, source, body.max_seq_len, body.n_label)
        return outcome.as_json()

    @app.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: the model is loaded and the batcher runs")
    async def readyz() -> JSONResponse:
        ready = batcher.is_alive()
        body = {"status": "ready" if ready else "stopping", "model": predictor.name}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _install_observability(app: FastAPI, metrics: ServeMetrics, settings: ServeSettings) -> None:
    """Count and time every request, and refuse oversized bodies before reading them.

    A chunked body declares no length, so this check could not see it coming and the body
    parsers would take all of it (to disk for forms, to memory for JSON); it gets 411 instead.
    """
    body_limit = settings.max_upload_bytes * 4 // 3 + FORM_OVERHEAD_BYTES
    app.add_middleware(_Observe, metrics=metrics, body_limit=body_limit)


class _Observe:
    """Plain ASGI middleware (Starlette's ``BaseHTTPMiddleware`` costs a task and two memory
    streams per request, a measurable share of a 15 ms answer)."""

    def __init__(self, app: ASGIApp, metrics: ServeMetrics, body_limit: int) -> None:
        self.app = app
        self.metrics = metrics
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            refusal = self._refusal(Headers(scope=scope))
            if refusal is None:
                await self.app(scope, receive, send_observed)
            else:
                await _error_json(refusal, self.metrics)(scope, receive, send_observed)
        finally:
            # The router records the matched route in the shared scope.
            label = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(label, str(status)).inc()
            self.metrics.latency.labels(label).observe(time.perf_counter() - started)

    def _refusal(self, headers: Headers) -> RequestFailed | None:
        declared = headers.get("content-length", "")
        if "transfer-encoding" in headers:
            return RequestFailed(411, "length_required", "send the body with a Content-Length")
        if declared.isdigit() and int(declared) > self.body_limit:
            return RequestFailed(413, "too_large", f"request body over {self.body_limit} bytes")
        return None


def _error_json(error: RequestFailed, metrics: ServeMetrics) -> JSONResponse:
    """The JSON answer to a refused request, counted by reason."""
    metrics.errors.labels(error.reason).inc()
    return JSONResponse({"detail": error.message, "reason": error.reason}, status_code=error.status)


async def _read_upload(upload: UploadFile | None, max_bytes: int) -> bytes | None:
    if upload is None:
        return None
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise RequestFailed(413, "upload_too_large", f"the upload is over {max_bytes} bytes")
    return data or None


def _decode_base64(encoded: str | None, max_bytes: int) -> bytes | None:
    if not encoded:
        return None
    if len(encoded) > max_bytes * 4 // 3 + 4:
        raise RequestFailed(413, "upload_too_large", f"the image is over {max_bytes} bytes")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise RequestFailed(400, "bad_base64", "image_base64 is not valid base64") from None


def _wants_json(request: Request) -> bool:
    """JSON for the API path, or when the Accept header ranks JSON above HTML."""
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "").lower()
    json_at = accept.find("application/json")
    html_at = accept.find("text/html")
    return json_at >= 0 and (html_at < 0 or json_at < html_at)


def _one_line(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part not in ("query", "body"))
        parts.append(f"{where or 'request'}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def _submitted(request: Request) -> dict[str, str]:
    """The form fields (or query parameters) a refused request carried, to show them again.

    The route has already parsed the form and Starlette keeps it on the request; a body that
    could not be parsed leaves only the query parameters.
    """
    values = dict(request.query_params)
    if request.method == "POST":
        with contextlib.suppress(StarletteHTTPException, ClientDisconnect, RuntimeError):
            form = await request.form()
            values.update((key, value) for key, value in form.items() if isinstance(value, str))
    return {key: values[key] for key in FORM_FIELDS if values.get(key)}


def _page_context(outcome: _Outcome | None, predictor: Predictor) -> dict[str, Any]:
    context: dict[str, Any] = {
        "model": predictor.name,
        "modality": predictor.modality,
        "label_count": len(predictor.labels),
        "labels": predictor.labels,
        "max_seq_len": predictor.max_seq_len,
        "default_seq_len": min(SEED_MAX_SEQ_LEN, predictor.max_seq_len),
        "example": {"text": EXAMPLE_CAPTION, "n_label": min(5, len(predictor.labels))},
        "outcome": outcome,
        "error": None,
        "submitted": {},
        "image_src": None,
    }
    if outcome is not None and outcome.image is not None:
        context["image_src"] = preview_data_uri(outcome.image)
    return context
