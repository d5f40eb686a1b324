"""Server settings: one frozen dataclass, filled from configs/serve.yaml, ``HASHTAG_SERVE_*``
and flags.

A dataclass (rather than pydantic-settings, which is not a dependency) keeps the knobs in one
place with their types, so environment strings can be converted without a table of parsers.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from runtime.config import check_types, default_config, renamed_keys
from runtime.errors import UsageError

ENV_PREFIX = "HASHTAG_SERVE_"
ENGINES = ("auto", "onnxruntime", "torch")  # the choice lists of the flags and the check
BF16_IMAGES = ("auto", "on", "off")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


_DEFAULTS = default_config("serve")  # the values; the fields below say only their types


@dataclasses.dataclass(frozen=True)
class ServeSettings:
    """Everything the app, the fetcher and the batcher can be tuned with (configs/serve.yaml
    says what each one does)."""

    checkpoint: str = ""  # no default (null in the YAML): required, checked by the CLI
    host: str = _DEFAULTS["host"]
    port: int = _DEFAULTS["port"]
    device: str = _DEFAULTS["device"]
    drive_base_url: str = _DEFAULTS["drive_base_url"]
    allow_private_urls: bool = _DEFAULTS["allow_private_urls"]
    fetch_timeout_s: float = _DEFAULTS["fetch_timeout_s"]
    max_redirects: int = _DEFAULTS["max_redirects"]
    max_upload_bytes: int = _DEFAULTS["max_upload_bytes"]
    max_image_pixels: int = _DEFAULTS["max_image_pixels"]
    max_text_chars: int = _DEFAULTS["max_text_chars"]
    max_batch_size: int = _DEFAULTS["max_batch_size"]
    max_wait_ms: float = _DEFAULTS["max_wait_ms"]
    engine: str = _DEFAULTS["engine"]
    num_threads: int = _DEFAULTS["num_threads"]
    quantize: bool = _DEFAULTS["quantize"]
    channels_last: bool = _DEFAULTS["channels_last"]
    bf16_images: str = _DEFAULTS["bf16_images"]
    graceful_timeout_s: float = _DEFAULTS["graceful_timeout_s"]

    def __post_init__(self) -> None:
        if self.device == "auto":  # resolved once, so every reader sees a real torch device
            object.__setattr__(self, "device", _auto_device())


def settings_from(values: Mapping[str, Any]) -> ServeSettings:
    """Build settings from already-typed or string values, ignoring ``None`` (unset) entries."""
    known = {field.name: field for field in dataclasses.fields(ServeSettings)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UsageError(f"unknown serve setting(s): {', '.join(unknown)}")
    values = dict(values)
    if isinstance(values.get("bf16_images"), bool):  # YAML 1.1 reads a bare on/off as a boolean
        values["bf16_images"] = "on" if values["bf16_images"] else "off"
    # YAML and flags give typed values: each must already be of its setting's type (a list
    # for a port would otherwise reach int() and fail as a TypeError, a 5 become True).
    given = {name: value for name, value in values.items() if not isinstance(value, str)}
    check_types(given, _DEFAULTS, "serve setting ")
    typed = {
        name: _convert(name, value, type(getattr(ServeSettings, name)))
        for name, value in values.items()
        if value is not None
    }
    settings = ServeSettings(**typed)
    _check_ranges(settings)
    return settings


def _check_ranges(settings: ServeSettings) -> None:
    for name, choices in (("engine", ENGINES), ("bf16_images", BF16_IMAGES)):
        value = getattr(settings, name)
        if value not in choices:
            allowed = f"{', '.join(choices[:-1])} or {choices[-1]}"
            raise UsageError(f"{name} must be {allowed}, got {value!r}")
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
    given = {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX)
    }
    return {key: value for key, value in renamed_keys("serve", given).items() if key in names}


def _auto_device() -> str:
    """``device: auto``, as in training: the GPU when one is visible, else the CPU."""
    import torch  # here, not at the top: settings are checked before the model stack loads

    return "cuda" if torch.cuda.is_available() else "cpu"


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
