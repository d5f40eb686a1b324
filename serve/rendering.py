"""How answers and refusals look: the HTML pages for people, JSON for API clients.

The page routes negotiate: JSON when the Accept header ranks it above HTML (or under /api/),
else the form page or the result page. The form comes back filled in as sent, after an answer
and after a refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from serve.errors import RequestFailed
from serve.prediction import Outcome, default_n_label
from serve.prometheus import ServeMetrics
from serve.remote_images import preview_data_uri

if TYPE_CHECKING:
    from train.predictor import Predictor

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
# The form page's worked example: a caption as people write it (the hashtag and the mention are
# removed before the model reads it; the emoji is kept, or spelt out for a demojized dataset).
EXAMPLE_CAPTION = "Golden hour on the beach with friends 🌅 #sunset @sam"
# Request fields the form page fills in again, after an answer or an error (files cannot be).
FORM_FIELDS = ("text", "image_url", "n_label", "max_seq_len")


@dataclasses.dataclass(frozen=True)
class Pages:
    """The templates and what they show about the model; errors are counted in ``metrics``."""

    templates: Jinja2Templates
    predictor: Predictor
    metrics: ServeMetrics

    @classmethod
    def create(cls, predictor: Predictor, metrics: ServeMetrics) -> Pages:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True)
        return cls(Jinja2Templates(env=env), predictor, metrics)

    def index(self, request: Request) -> Response:
        context = page_context(None, self.predictor)
        return self.templates.TemplateResponse(request, "index.html", context)

    async def render(self, request: Request, outcome: Outcome, template: str) -> Response:
        if wants_json(request):
            return JSONResponse(outcome.as_json())
        # The preview is a JPEG encode of the image: CPU work, kept off the event loop.
        context = await asyncio.to_thread(page_context, outcome, self.predictor)
        # The form keeps the settings it was sent with, the caption tokens as they were read.
        submitted = {**await _submitted(request), "max_seq_len": str(outcome.max_seq_len)}
        context["submitted"] = submitted
        return self.templates.TemplateResponse(request, template, context)

    async def render_error(self, request: Request, error: RequestFailed) -> Response:
        """JSON for API clients; for people, the form again, filled in as they sent it."""
        if wants_json(request):
            return error_json(error, self.metrics)
        self.metrics.errors.labels(error.reason).inc()
        context = {
            **page_context(None, self.predictor),
            "error": error,
            "submitted": await _submitted(request),
        }
        return self.templates.TemplateResponse(
            request, "index.html", context, status_code=error.status
        )


def error_json(error: RequestFailed, metrics: ServeMetrics) -> JSONResponse:
    """The JSON answer to a refused request, counted by reason."""
    metrics.errors.labels(error.reason).inc()
    return JSONResponse({"detail": error.message, "reason": error.reason}, status_code=error.status)


def wants_json(request: Request) -> bool:
    """JSON for the API path, or when the Accept header ranks JSON above HTML."""
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "").lower()
    json_at = accept.find("application/json")
    html_at = accept.find("text/html")
    return json_at >= 0 and (html_at < 0 or json_at < html_at)


def page_context(outcome: Outcome | None, predictor: Predictor) -> dict[str, Any]:
    context: dict[str, Any] = {
        "model": predictor.name,
        "modality": predictor.modality,
        "label_count": len(predictor.labels),
        "labels": predictor.labels,
        "max_seq_len": predictor.max_seq_len,
        "default_n_label": default_n_label(predictor),
        "example": {"text": EXAMPLE_CAPTION, "n_label": min(5, len(predictor.labels))},
        "outcome": outcome,
        "error": None,
        "submitted": {},
        "image_src": None,
    }
    if outcome is not None and outcome.image is not None:
        context["image_src"] = preview_data_uri(outcome.image)
    return context


async def _submitted(request: Request) -> dict[str, str]:
    """The form fields (or query parameters) a request carried, to show them again.

    The route has already parsed the form and Starlette keeps it on the request; a body that
    could not be parsed leaves only the query parameters.
    """
    values = dict(request.query_params)
    if request.method == "POST":
        with contextlib.suppress(StarletteHTTPException, ClientDisconnect, RuntimeError):
            form = await request.form()
            values.update((key, value) for key, value in form.items() if isinstance(value, str))
    return {key: values[key] for key in FORM_FIELDS if values.get(key)}
