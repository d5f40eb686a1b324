"""config.json's ``model`` record (Contract 3): what rebuilds a trained model without the
training settings, the Hub or the dataset, as one typed, validated object.

Training writes it (train.build), and every reader (HashtagModel.from_record, Predictor,
evaluation) gets it back validated as part of config.json's RunRecord (train.run_record), so
a damaged or hand-edited record is one line naming the key rather than a KeyError deep in a
load. A key that older run folders lack has its default
here, the value such a run was trained with: before the wide part (``wide_dim`` 0, ``loss``
softmax, ``blend_alpha`` 0.5), before the wide part's logits were summed with the head's
(``wide_mode`` blend), before other image encoders (``image_backbone`` vgg16 with
ImageNet's normalisation, bilinear), before emoji were spelt out (``demojize`` false), before
weights were recorded (``weights`` empty). Unknown keys are kept as they are, so a newer record
round-trips through ``save_pretrained`` unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runtime.checkpoint_check import MODALITIES
from train.settings import Init, Loss, Pooling

WideMode = Literal["logits", "blend"]
"""How a wide part joins the head (train.model): its logits summed with the head's, or (older
runs) a blend of the two parts' probabilities."""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
Width = Annotated[int, Field(ge=1)]


class ModelRecord(BaseModel):
    """The architecture (encoders, head sizes, wide part), the input preparation (tokens kept,
    image size and normalisation, emoji) and where the pretrained weights came from."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    modality: Literal[MODALITIES]
    num_labels: Width
    text_encoder: str | None  # the settings' name, "random" for a fresh one
    text_config: dict[str, Any] | None  # the transformers config of the text encoder
    text_pooling: Pooling
    text_dim: Width
    image_dim: Width
    image_norm: bool = False  # image features standardised per feature before image_proj
    dropout: float = Field(ge=0, lt=1)
    wide_dim: int = Field(0, ge=0)  # 0: no wide part
    loss: Loss = "softmax"
    # How a wide part joins the head: "logits" (summed, trained together; new runs) or "blend"
    # (older runs: alpha * sigmoid(wide) + (1 - alpha) * p_deep, blend_alpha chosen on val).
    wide_mode: WideMode = "blend"
    blend_alpha: float = Field(0.5, ge=0, le=1)
    max_seq_len: Width
    image_backbone: str = "vgg16"
    image_size: Width
    image_mean: tuple[float, ...] = IMAGENET_MEAN
    image_std: tuple[float, ...] = IMAGENET_STD
    image_interpolation: str = "bilinear"
    text_init: Init
    image_init: Init
    weights: dict[str, dict[str, str]] = {}  # encoder -> train.weights.WeightsSource.record()
    demojize: bool = False  # the dataset spelt emoji out as words in its model text

    def saved(self) -> dict[str, Any]:
        """The record as config.json holds it (lists, not tuples)."""
        return self.model_dump(mode="json")
