"""Server settings: one frozen dataclass, filled from defaults, ``HASHTAG_SERVE_*`` and flags.

A dataclass (rather than pydantic-settings, which is not a dependency) keeps the knobs in one
place with their types, so environment strings can be converted without a table of parsers.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from runtime.errors import UsageError

ENV_PREFIX = "HASHTAG_SERVE_"
BACKENDS = ("auto", "onnxruntime", "torch")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclasses.dataclass(frozen=True)
class ServeSettings:
    """Everything the app, the fetcher and the batcher can be tuned with."""

    checkpoint: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    device: str = "cpu"
    # Fetching: Drive's public download endpoint; the ``id`` query parameter is appended.
    drive_base_url: str = "https://drive.google.com/uc"
    allow_private_urls: bool = False
    fetch_timeout_s: float = 10.0
    max_redirects: int = 5
    # Input limits. 2,200 characters is Instagram's own caption limit.
    max_upload_bytes: int = 10 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    max_text_chars: int = 2200
    # Micro-batching.
    max_batch_size: int = 8
    max_wait_ms: float = 2.0
    # CPU tuning (serve/inference.py); 0 threads means "one per core".
    backend: str = "auto"  # auto | onnxruntime | torch
    num_threads: int = 0
    # Off: dynamic int8 scales activations by the range of the whole batch tensor, so a batched
    # answer differs from the single one, and on a MiniLM checkpoint it changed the top-10 of
    # most test posts. Opt in only where your test split says top-k stays the same.
    quantize: bool = False
    channels_last: bool = True
    bf16_images: str = "off"  # auto | on | off: bf16 moves ~1% of top-10 lists (docs/serving.md)
    graceful_timeout_s: float = 10.0


def settings_from(values: Mapping[str, Any]) -> ServeSettings:
    """Build settings from already-typed or string values, ignoring ``None`` (unset) entries."""
    known = {field.name: field for field in dataclasses.fields(ServeSettings)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UsageError(f"unknown serve setting(s): {', '.join(unknown)}")
    typed = {
        name: _convert(name, value, type(getattr(ServeSettings, name)))
        for name, value in values.items()
        if value is not None
    }
    settings = ServeSettings(**typed)
    _check_ranges(settings)
    return settings


def _check_ranges(settings: ServeSettings) -> None:
    if settings.backend not in BACKENDS:
        raise UsageError(
            f"backend must be {', '.join(BACKENDS[:-1])} or {BACKENDS[-1]}, "
            f"got {settings.backend!r}"
        )
    if settings.bf16_images not in ("auto", "on", "off"):
        raise UsageError(f"bf16_images must be auto, on or off, got {settings.bf16_images!r}")
    if not 0 <= settings.port <= 65535:
        raise UsageError(f"port must be between 0 and 65535, got {settings.port}")
    positive = ("max_batch_size", "max_upload_bytes", "max_image_pixels", "max_text_chars")
    for name in positive:
        if getattr(settings, name) < 1:
            raise UsageError(f"{name} must be at least 1, got {getattr(settings, name)}")
    for name in ("max_wait_ms", "num_threads", "max_redirects", "fetch_timeout_s"):
        if getattr(settings, name) < 0:
            raise UsageError(f"{name} must not be negative, got {getattr(settings, name)}")


def env_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``HASHTAG_SERVE_<FIELD>`` variables present, keyed by field name."""
    environ = os.environ if environ is None else environ
    names = {field.name for field in dataclasses.fields(ServeSettings)}
    return {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :].lower() in names
    }


def _convert(name: str, value: Any, kind: type) -> Any:
    if not isinstance(value, str):
        return kind(value)
    text = value.strip()
    try:
        if kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError(text)
        return kind(text)
    except ValueError:
        raise UsageError(
            f"serve setting {name}: {value!r} is not a valid {kind.__name__}"
        ) from None
