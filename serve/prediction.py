"""One prediction, whatever route asked for it: checks, the image, the micro-batched model call.

Every prediction route funnels into :meth:`PredictionService.predict`, so validation, modality
rules and timing are written once; routes differ only in where inputs come from and how answers
render.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from PIL import Image

from serve.batching import MicroBatcher
from serve.errors import RequestFailed
from serve.remote_images import ImageFetcher, ImageSource
from serve.settings import ServeSettings

if TYPE_CHECKING:  # the app only calls it; importing it would load torch for type hints
    from train.predictor import Predictor

ORIGINAL_N_LABEL = 10
# Generous static bounds for the request schemas; the model's own limits are checked per request.
SCHEMA_MAX_SEQ_LEN = 4096
SCHEMA_MAX_LABELS = 100_000
MAX_URL_CHARS = 2048
IMAGE_IGNORED = "the image was ignored: this model predicts from captions only (modality text)"


def default_n_label(predictor: Predictor) -> int:
    """The original's 10 hashtags, capped by the K labels the model knows."""
    return min(ORIGINAL_N_LABEL, len(predictor.labels))


@dataclasses.dataclass(frozen=True)
class Outcome:
    caption: str
    image: Image.Image | None
    hashtags: list[tuple[str, float]]
    model: str
    latency_ms: float
    max_seq_len: int
    notes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        tags = [{"tag": tag, "score": round(score, 6)} for tag, score in self.hashtags]
        return {
            "hashtags": tags,
            "model": self.model,
            "latency_ms": round(self.latency_ms, 3),
            "max_seq_len": self.max_seq_len,
            "notes": list(self.notes),
        }


@dataclasses.dataclass(frozen=True)
class PredictionService:
    """The per-app state a prediction needs."""

    settings: ServeSettings
    predictor: Predictor
    batcher: MicroBatcher
    fetcher: ImageFetcher

    async def predict(
        self,
        text: str | None,
        source: ImageSource,
        max_seq_len: int | None,
        n_label: int | None,
    ) -> Outcome:
        """Predict reading as many caption tokens as the model was trained with (fewer when
        asked; more is capped, and the answer's notes say so) and the original's 10 tags
        (capped by the K the model knows).

        Cheap checks come first, so a request that will be refused never triggers a download.
        """
        caption = text or ""
        self._check_limits(caption, n_label)
        max_seq_len, notes = self._seq_len(max_seq_len)
        image = await self.fetcher.load(source)
        # A text model (e.g. trained on a --text-only dataset) cannot use a picture: the answer
        # says it was ignored rather than refusing a usable caption. It is still fetched, so a
        # broken image reference is the same error whatever model serves it.
        ignored = self.predictor.modality == "text" and image is not None
        image = None if ignored else image
        # The predictor turns the caption into model text itself; this copy only tells whether
        # anything is left of it.
        model_text = self.predictor.model_text(caption) or None
        self._check_modality(model_text, caption, image)
        top_k = n_label or default_n_label(self.predictor)
        started = time.perf_counter()
        hashtags = await self.batcher.predict(caption, image, top_k, max_seq_len)
        latency_ms = (time.perf_counter() - started) * 1000.0
        if ignored:
            notes = (*notes, IMAGE_IGNORED)
        return Outcome(
            caption, image, hashtags, self.predictor.name, latency_ms, max_seq_len, notes
        )

    def _seq_len(self, asked: int | None) -> tuple[int, tuple[str, ...]]:
        """Caption tokens to read: the model's own length unless fewer are asked for.

        Its own length is the default because a caption cut shorter than training saw is read
        differently (a long caption's top 5 changed between 20 and 32 tokens). Asking for more
        than it has is no error: the model cannot read more, so it reads what it can and the
        note says so.
        """
        model_len = self.predictor.max_seq_len
        if asked is None or asked <= model_len:
            return asked or model_len, ()
        note = (
            f"max_seq_len {asked} is more than this model's {model_len} caption tokens; "
            f"{model_len} were used"
        )
        return model_len, (note,)

    def _check_limits(self, caption: str, n_label: int | None) -> None:
        limit = self.settings.max_text_chars
        if len(caption) > limit:
            raise RequestFailed(
                422, "text_too_long", f"text is {len(caption)} characters; the limit is {limit}"
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
