"""hashtag-serve's settings: their types, limits and the combinations refused (the values:
configs/serve.yaml).

Filled, lowest precedence first, from configs/serve.yaml, ``--config``/``--set``,
``HASHTAG_SERVE_<KEY>`` environment variables and the flags (serve/cli.py).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from runtime.settings import Count, Port, Positive, Seconds, Settings

ENV_PREFIX = "HASHTAG_SERVE_"


class ServeSettings(Settings):
    """Everything the app, the fetcher and the batcher can be tuned with (configs/serve.yaml
    says what each one does)."""

    stage = "serve"

    checkpoint: str | None  # required, but checked by the CLI (the flag's own message)
    host: str
    port: Port  # 0: a free port
    device: str
    drive_base_url: str
    allow_private_urls: bool
    fetch_timeout_s: Seconds
    max_redirects: Count
    max_upload_bytes: Positive
    max_image_pixels: Positive
    max_text_chars: Positive
    max_batch_size: Positive
    max_wait_ms: float = Field(ge=0)
    engine: Literal["auto", "onnxruntime", "torch"]
    num_threads: Count
    quantize: bool
    channels_last: bool
    bf16_images: Literal["auto", "on", "off"]
    graceful_timeout_s: Seconds

    @field_validator("bf16_images", mode="before")
    @classmethod
    def _yaml_on_off(cls, value: Any) -> Any:
        """YAML 1.1 reads a bare on/off as a boolean."""
        if isinstance(value, bool):
            return "on" if value else "off"
        return value

    @field_validator("device")
    @classmethod
    def _resolve_auto(cls, value: str) -> str:
        """``device: auto``, as in training: the GPU when one is visible, else the CPU. Resolved
        once, so every reader sees a real torch device."""
        if value != "auto":
            return value
        import torch  # here, not at the top: settings are checked before the model stack loads

        return "cuda" if torch.cuda.is_available() else "cpu"

    @model_validator(mode="after")
    def _engine_fits(self) -> ServeSettings:
        """ONNX Runtime runs the exported fp32 graph on the CPU: asked for explicitly, it cannot
        honour a GPU or a PyTorch-only option, so that pair is refused at start rather than one
        of the two silently dropped. (``bf16_images: auto`` only means "where it helps": off
        under ONNX Runtime, serve/cpu_tuning.py.)"""
        if self.engine != "onnxruntime":
            return self
        if self.device != "cpu":
            raise ValueError("engine onnxruntime runs on the CPU only; use device cpu")
        torch_only = [
            name
            for name, on in (("quantize", self.quantize), ("bf16_images", self.bf16_images == "on"))
            if on
        ]
        if torch_only:
            verb = "apply" if len(torch_only) > 1 else "applies"
            raise ValueError(f"{' and '.join(torch_only)} {verb} to engine torch only")
        return self
