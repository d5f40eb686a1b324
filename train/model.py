"""The hashtag model: a text encoder and image features, each projected, concatenated, classified.

Text: the encoder's pooled output (or [CLS], or the mean of the tokens) -> Linear(text_dim) -> ReLU.
Image: the backbone's features (VGG16's 512x7x7 map, or what another torchvision model's
classifier read), flattened -> standardised per feature (:class:`FeatureStandardiser`, with
``image_norm``) -> Linear(image_dim) -> ReLU; the backbone says how many in its
``feature_dim`` attribute (train.encoders.image_backbone). Both: concat -> dropout ->
Linear(K). (The ReLU keeps the two projections from collapsing into the classifier's linear map.)
``modality`` drops a branch entirely, for ablations.

With ``wide_dim`` > 0 a wide part sits beside them: the TF-IDF + logistic regression baseline
(train.baselines, fit by scikit-learn on the train split before training), copied into a frozen
Linear over the caption's n-gram features (train.ngrams, computed outside the graph and given as
``ngrams``). Its logits and the head's are summed (``wide_mode`` "logits"), and the head is
trained through the sum, starting from a classifier at zero, i.e. from the baseline itself: it
learns what the n-grams miss (the picture, paraphrases) as a correction in logit space. Why:
the convex fit is what ranks real captions best on CPU, jointly training the wide part by AdamW
reached far less, and a blend of the two parts' probabilities let the head's top tag through
where it was less sure of the caption's topic than the n-grams (docs/benchmarks/train.md).
Training may feed each post's wide logits precomputed (``wide_logits``), as the part is frozen.
Checkpoints from before this (``wide_mode`` "blend") still load and score as they were trained:
``alpha * sigmoid(wide) + (1 - alpha) * p_deep``, returned as that probability's logit.

In frozen mode an encoder still lives inside the model (so a checkpoint serves raw inputs) but
the loop feeds its cached outputs instead (``text_features``, ``image_features``).

``HashtagModel.from_pretrained(DIR_OR_REPO_ID)`` / ``save_pretrained`` / ``push_to_hub`` come from
huggingface_hub's ``ModelHubMixin``: config.json holds the ``model`` record, the weights are
model.safetensors, as in a run folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from huggingface_hub import ModelHubMixin
from pydantic import ConfigDict, Field, validate_call
from torch import nn

from runtime.errors import UsageError
from train.checkpoint import (
    WEIGHTS_FILE,
    load_weights,
    read_model_record,
    save_config,
    save_weights,
)
from train.encoders import image_backbone as make_image_backbone
from train.encoders import text_encoder_from_config
from train.hub import LIBRARY_NAME, MODEL_TAGS, model_folder
from train.model_record import ModelRecord, WideMode
from train.ngrams import NgramFeatures
from train.settings import Loss, Pooling

BLEND_EPS = 1e-30  # the blend's logit stays finite (float32's smallest normal is 1.2e-38)


class HashtagModel(nn.Module, ModelHubMixin, library_name=LIBRARY_NAME, tags=MODEL_TAGS):
    # The wide part's vectorisers (train.ngrams.NgramFeatures): they turn a caption into the
    # ``ngrams`` input, so whoever holds the model can feed it; set by training and loading.
    ngrams: Any = None
    _record: ModelRecord | None = None

    # The sizes and choices are checked by their types (a pydantic ValidationError, which is a
    # ValueError), not by hand; the encoders are whatever modules are given.
    @validate_call(config=ConfigDict(arbitrary_types_allowed=True))
    def __init__(
        self,
        num_labels: Annotated[int, Field(ge=1)],
        text_encoder: nn.Module | None,
        image_backbone: nn.Module | None,
        text_dim: Annotated[int, Field(ge=1)] = 100,
        image_dim: Annotated[int, Field(ge=1)] = 100,
        image_norm: bool = True,
        dropout: Annotated[float, Field(ge=0, lt=1)] = 0.3,
        text_pooling: Pooling = "pooled",
        wide_dim: Annotated[int, Field(ge=0)] = 0,
        deep_loss: Loss = "softmax",
        wide_mode: WideMode = "logits",
        blend_alpha: Annotated[float, Field(ge=0, le=1)] = 0.5,
    ) -> None:
        super().__init__()
        if text_encoder is None and image_backbone is None:
            raise ValueError("the model needs a text encoder, an image backbone, or both")
        self.text_encoder = text_encoder
        self.image_backbone = image_backbone
        self.text_pooling = text_pooling
        fused = 0
        if text_encoder is not None:
            self.text_proj = nn.Linear(text_encoder.config.hidden_size, text_dim)
            fused += text_dim
        if image_backbone is not None:
            dim = image_backbone.feature_dim
            self.image_norm = FeatureStandardiser(dim) if image_norm else nn.Identity()
            self.image_proj = nn.Linear(dim, image_dim)
            fused += image_dim
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(fused, num_labels)
        self.wide = nn.Linear(wide_dim, num_labels) if wide_dim else None
        if self.wide is not None:  # fit by scikit-learn (set_wide), never by the optimiser
            self.wide.requires_grad_(False)
        self.deep_loss = deep_loss
        self.wide_mode = wide_mode
        self.blend_alpha = blend_alpha

    @classmethod
    def from_record(
        cls,
        record: ModelRecord,
        text_encoder: nn.Module | None = None,
        image_backbone: nn.Module | None = None,
    ) -> HashtagModel:
        """The model config.json's ``model`` record describes: the one place a model is put
        together, for a new run (train.build, which passes its pretrained encoders) and a
        reloaded checkpoint alike. An encoder not given is rebuilt from the record, untrained,
        for the saved weights to fill."""
        if text_encoder is None and record.modality != "image":
            text_encoder = text_encoder_from_config(record.text_config)
        if image_backbone is None and record.modality != "text":
            image_backbone = make_image_backbone(record.image_backbone)
        model = cls(
            num_labels=record.num_labels,
            text_encoder=text_encoder,
            image_backbone=image_backbone,
            text_dim=record.text_dim,
            image_dim=record.image_dim,
            image_norm=record.image_norm,
            dropout=record.dropout,
            text_pooling=record.text_pooling,
            wide_dim=record.wide_dim,
            deep_loss=record.loss,
            wide_mode=record.wide_mode,
            blend_alpha=record.blend_alpha,
        )
        model.record = record
        return model

    @property
    def record(self) -> ModelRecord | None:
        """config.json's ``model`` record this model was built from (``from_record``)."""
        return self._record

    @record.setter
    def record(self, record: ModelRecord | Mapping[str, Any]) -> None:
        self._record = ModelRecord.model_validate(record)

    @classmethod
    def _from_pretrained(cls, *, model_id: str, **download: Any) -> HashtagModel:
        """``from_pretrained``'s loader: a run folder, or a Hub repo laid out like one."""
        return load_trained_model(model_folder(model_id, **download))

    def _save_pretrained(self, save_directory: Path) -> None:
        """config.json (``{"model": record}``) and model.safetensors, as a run folder has them."""
        if self.record is None:
            raise ValueError("save_pretrained needs a model built by from_record or loaded")
        save_config(save_directory, {"model": self.record.saved()})
        if self.ngrams is not None:
            self.ngrams.save(save_directory)
        save_weights(self, save_directory / WEIGHTS_FILE)

    @property
    def uses_text(self) -> bool:
        return self.text_encoder is not None

    @property
    def uses_image(self) -> bool:
        return self.image_backbone is not None

    @property
    def uses_ngrams(self) -> bool:
        return self.wide is not None

    def image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """Backbone features of normalised pixels, flattened (what the feature cache stores)."""
        return torch.flatten(self.image_backbone(pixels), 1)

    def set_wide(self, weights: torch.Tensor, biases: torch.Tensor) -> None:
        """The wide part's weights (labels x n-gram features) and biases, from the convex fit."""
        with torch.no_grad():
            self.wide.weight.copy_(weights)
            self.wide.bias.copy_(biases)

    def start_at_wide(self) -> None:
        """The classifier at zero, so a new model scores exactly as its wide part (the TF-IDF
        baseline) and training moves it only as far as the head's correction helps."""
        with torch.no_grad():
            self.classifier.weight.zero_()
            self.classifier.bias.zero_()

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.text_encoder(input_ids=input_ids, attention_mask=attention_mask)
        pooled = getattr(out, "pooler_output", None)
        if self.text_pooling == "pooled" and pooled is not None:
            return pooled
        if self.text_pooling == "mean":
            mask = attention_mask.unsqueeze(-1).to(out.last_hidden_state.dtype)
            return (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1)
        return out.last_hidden_state[:, 0]

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        pixels: torch.Tensor | None = None,
        image_features: torch.Tensor | None = None,
        ngrams: torch.Tensor | None = None,
        text_features: torch.Tensor | None = None,
        wide_logits: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Label logits. Give token ids or precomputed ``text_features``, ``pixels`` or
        precomputed ``image_features``, and with a wide part the caption's ``ngrams`` or its
        precomputed ``wide_logits``."""
        parts = []
        if self.uses_text:
            if text_features is None:
                text_features = self.encode_text(input_ids, attention_mask)
            parts.append(F.relu(self.text_proj(text_features.to(self.text_proj.weight.dtype))))
        if self.uses_image:
            if image_features is None:
                image_features = self.image_features(pixels)
            features = self.image_norm(image_features.to(self.image_proj.weight.dtype))
            parts.append(F.relu(self.image_proj(features)))
        logits = self.classifier(self.dropout(torch.cat(parts, dim=1)))
        if not self.uses_ngrams:
            return logits
        if wide_logits is None:
            wide_logits = self.wide(ngrams.to(self.wide.weight.dtype))
        if self.wide_mode == "logits":
            return wide_logits + logits  # float32 wide logits keep a bf16 head's sum precise
        return self._blend(wide_logits, logits)

    def _blend(self, wide: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """An older checkpoint's score (``wide_mode`` "blend"), as the logit of
        ``alpha * sigmoid(wide) + (1 - alpha) * p_deep``."""
        if self.deep_loss == "softmax":
            deep = torch.softmax(logits, 1)
            deep_rest = 1 - deep
        else:
            deep, deep_rest = torch.sigmoid(logits), torch.sigmoid(-logits)
        alpha = self.blend_alpha
        # The blend p and 1 - p, each a sum of non-negative terms (the wide part's without any
        # cancellation near 0 or 1), so the logit log(p) - log(1 - p) stays accurate even where
        # p is within float32's spacing of 1 (ONNX Runtime and PyTorch then agree).
        blend = alpha * torch.sigmoid(wide) + (1 - alpha) * deep
        rest = alpha * torch.sigmoid(-wide) + (1 - alpha) * deep_rest
        return torch.log(blend.clamp(min=BLEND_EPS)) - torch.log(rest.clamp(min=BLEND_EPS))

    def wide_logits_of(self, texts: list[str]) -> torch.Tensor:
        """The wide part's logits of ``texts`` (labels per text, float32), from the sparse
        n-gram rows: a frozen part's output that training computes once per split, not per
        batch through a dense row of every n-gram."""
        rows = self.ngrams.sparse(texts)
        weight = self.wide.weight.detach().cpu().numpy()
        bias = self.wide.bias.detach().cpu().numpy()
        return torch.from_numpy(np.asarray(rows @ weight.T, dtype=np.float32) + bias)


class FeatureStandardiser(nn.BatchNorm1d):
    """Each image feature centred and scaled by its statistics over the train posts (a
    BatchNorm1d without a learnt scale: batch statistics in training, running ones after).

    Why: frozen backbone features, a random-init VGG16's above all, are small and nearly the
    same for every post (mean 0.106, spread across posts 0.028 on the demo). Fed raw into
    Linear + ReLU, the projection's units all went negative in training and the image branch
    was dead: scores did not change when the pictures did (docs/benchmarks/train.md).
    Standardised, the differences between posts are what the projection reads.

    A batch of one post (a train split of one) has no batch statistics: it is normalised with
    the running ones, as at evaluation."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim, affine=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.training and features.shape[0] == 1:
            return F.batch_norm(features, self.running_mean, self.running_var, eps=self.eps)
        return super().forward(features)


@validate_call(config=ConfigDict(arbitrary_types_allowed=True))
def hashtag_loss(logits: torch.Tensor, targets: torch.Tensor, kind: Loss) -> torch.Tensor:
    """``bce``: independent sigmoids. ``softmax``: cross-entropy against 1/k on each of k labels.

    The softmax form (Mahajan et al. 2018) treats a post's hashtags as a distribution, which
    ranks better when tag counts per post vary; a post without labels contributes zero. Another
    ``kind`` is refused by its type (a pydantic ValidationError, which is a ValueError).
    """
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, targets)
    distribution = targets / targets.sum(dim=1, keepdim=True).clamp(min=1)
    return -(distribution * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def load_trained_model(run_dir: str | Path) -> HashtagModel:
    """The model of a checkpoint directory (eval mode, CPU): config.json, the weights and, for
    a wide part, its n-gram vectorisers (``model.ngrams``)."""
    root = Path(run_dir)
    model = HashtagModel.from_record(read_model_record(root))
    load_weights(model, root / WEIGHTS_FILE)
    attach_ngrams(model, root)
    return model.eval()


def attach_ngrams(model: HashtagModel, run_dir: Path) -> None:
    """Give a model with a wide part the vectorisers saved in ``run_dir`` (checked to match)."""
    if not model.uses_ngrams:
        return
    ngrams = NgramFeatures.load(run_dir)
    if ngrams.dim != model.wide.in_features:
        raise UsageError(
            f"{run_dir}: the n-gram vocabulary has {ngrams.dim} features but the wide part "
            f"reads {model.wide.in_features}"
        )
    model.ngrams = ngrams
