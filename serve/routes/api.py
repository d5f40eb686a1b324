"""The JSON prediction API: ``POST /api/predict`` with a caption and/or an image source."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from serve.dependencies import ServiceDep, SettingsDep
from serve.errors import RequestFailed
from serve.prediction import (
    MAX_URL_CHARS,
    SCHEMA_MAX_LABELS,
    SCHEMA_MAX_SEQ_LEN,
)
from serve.remote_images import ImageSource

router = APIRouter()


class Hashtag(BaseModel):
    tag: str
    score: float


class PredictResponse(BaseModel):
    hashtags: list[Hashtag]
    model: str
    latency_ms: float
    max_seq_len: int = Field(description="caption tokens the model read at most")
    notes: list[str] = Field(
        description="how the request was adjusted: a capped max_seq_len, an ignored image"
    )


class ApiPredictRequest(BaseModel):
    """A JSON prediction request; give a caption, one image source, or both."""

    text: str | None = Field(None, description="the caption")
    image_id: str | None = Field(None, description="public Google Drive file id")
    image_url: str | None = Field(None, max_length=MAX_URL_CHARS, description="http(s) image URL")
    image_base64: str | None = Field(None, description="the image file, base64-encoded")
    max_seq_len: int | None = Field(
        None,
        ge=1,
        le=SCHEMA_MAX_SEQ_LEN,
        description="caption tokens read; default and cap: the length the model was trained with",
    )
    n_label: int | None = Field(None, ge=1, le=SCHEMA_MAX_LABELS, description="default min(10, K)")


@router.post("/api/predict", summary="JSON prediction", response_model=PredictResponse)
async def predict_api(
    body: ApiPredictRequest, service: ServiceDep, settings: SettingsDep
) -> dict[str, Any]:
    upload = _decode_base64(body.image_base64, settings.max_upload_bytes)
    source = ImageSource(body.image_id, body.image_url, upload)
    outcome = await service.predict(body.text, source, body.max_seq_len, body.n_label)
    return outcome.as_json()


def _decode_base64(encoded: str | None, max_bytes: int) -> bytes | None:
    if not encoded:
        return None
    if len(encoded) > max_bytes * 4 // 3 + 4:
        raise RequestFailed(413, "upload_too_large", f"the image is over {max_bytes} bytes")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise RequestFailed(400, "bad_base64", "image_base64 is not valid base64") from None
