"""The pages: the form, and the original's ``/predict`` URL (GET with query parameters, POST from
the form with an upload). Each answers HTML, or JSON when the Accept header asks for it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from serve.dependencies import PagesDep, ServiceDep, SettingsDep
from serve.errors import RequestFailed
from serve.prediction import MAX_URL_CHARS, SCHEMA_MAX_LABELS, SCHEMA_MAX_SEQ_LEN
from serve.remote_images import DRIVE_ID_PATTERN, ImageSource

router = APIRouter()

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


@router.get("/", response_class=HTMLResponse, summary="The form page")
async def index(request: Request, pages: PagesDep) -> Response:
    return pages.index(request)


@router.get(
    "/predict",
    summary="The original's prediction URL: HTML result page, or JSON if Accept asks for it",
    response_class=HTMLResponse,
    responses=JSON_ALTERNATIVE,
)
async def predict_get(
    request: Request,
    service: ServiceDep,
    pages: PagesDep,
    image_id: Annotated[str | None, Query(pattern=DRIVE_ID_PATTERN)] = None,
    image_url: Annotated[str | None, Query(max_length=MAX_URL_CHARS)] = None,
    text: str = "",
    max_seq_len: Annotated[int | None, Query(ge=1, le=SCHEMA_MAX_SEQ_LEN)] = None,
    n_label: Annotated[int | None, Query(ge=1, le=SCHEMA_MAX_LABELS)] = None,
) -> Response:
    source = ImageSource(image_id=image_id, image_url=image_url)
    outcome = await service.predict(text, source, max_seq_len, n_label)
    return await pages.render(request, outcome, "result.html")


@router.post(
    "/predict",
    summary="Form upload (multipart): the index page with results, or JSON if Accept asks",
    response_class=HTMLResponse,
    responses=JSON_ALTERNATIVE,
)
async def predict_form(
    request: Request,
    service: ServiceDep,
    pages: PagesDep,
    settings: SettingsDep,
    image: Annotated[UploadFile | None, File()] = None,
    image_url: Annotated[str, Form(max_length=MAX_URL_CHARS)] = "",
    text: Annotated[str, Form()] = "",
    max_seq_len: Annotated[int | None, Form(ge=1, le=SCHEMA_MAX_SEQ_LEN)] = None,
    n_label: Annotated[int | None, Form(ge=1, le=SCHEMA_MAX_LABELS)] = None,
) -> Response:
    upload = await _read_upload(image, settings.max_upload_bytes)
    source = ImageSource(image_url=image_url.strip() or None, upload=upload)
    outcome = await service.predict(text, source, max_seq_len, n_label)
    return await pages.render(request, outcome, "index.html")


async def _read_upload(upload: UploadFile | None, max_bytes: int) -> bytes | None:
    if upload is None:
        return None
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise RequestFailed(413, "upload_too_large", f"the upload is over {max_bytes} bytes")
    return data or None
