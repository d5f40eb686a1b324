"""hashtag-train's and hashtag-evaluate's settings: their types and limits (the values:
configs/train.yaml and configs/evaluate.yaml).

Validated once when the command starts (runtime.settings), and for a resumed run after its
saved config is merged with the new flags: ``--batch-size 0``, ``--set epochs=abc`` or
``--lr -5`` is one line and exit 2, not a library error minutes into a run, or worse, a run
that trains silently (a negative learning rate ascends). The choice lists here are the only
ones: the flags offer them too (``runtime.settings.choices``).
"""

from __future__ import annotations

import typing
from typing import Annotated, Literal

from pydantic import Field

from runtime.checkpoint_check import MODALITIES
from runtime.settings import Section, Settings

Split = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = typing.get_args(Split)  # the splits of a dataset directory
PathText = Annotated[str, Field(min_length=1)]  # a file or folder named in a YAML setting
TextBaseline = Literal["tfidf"]  # fit from the train split's text alone (train.baselines)
TEXT_BASELINES: tuple[str, ...] = typing.get_args(TextBaseline)
Pooling = Literal["pooled", "cls", "mean"]
POOLINGS: tuple[str, ...] = typing.get_args(Pooling)
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]  # a learning rate of 0: a frozen part
Fraction = Annotated[float, Field(ge=0, lt=1)]
Init = Literal["pretrained", "random"]


class RandomTextSettings(Section):
    """The AlbertConfig fields of a randomly initialised text encoder (``text_init: random``)."""

    embedding_size: PositiveInt
    hidden_size: PositiveInt
    num_hidden_layers: PositiveInt
    num_attention_heads: PositiveInt
    intermediate_size: PositiveInt


class TrainSettings(Settings):
    stage = "train"

    modality: Literal[MODALITIES]  # the checkpoint check's list
    text_init: Init
    image_init: Init
    offline: bool
    text_encoder: PathText  # a Hub name, a folder, or "minilm"
    text_pooling: Pooling
    image_encoder: PathText  # a torchvision model name
    image_weights: PathText | None  # null: the torch.hub cache
    image_mode: Literal["frozen", "finetune"]
    text_mode: Literal["frozen", "finetune"]
    image_size: PositiveInt | None  # null: the encoder's own
    max_seq_len: PositiveInt
    text_dim: PositiveInt
    image_dim: PositiveInt
    dropout: Fraction
    loss: Literal["bce", "softmax"]
    ngram_features: NonNegativeInt  # 0: no wide part
    random_tokenizer_vocab: PositiveInt
    random_text: RandomTextSettings
    epochs: PositiveInt
    batch_size: PositiveInt
    grad_accum_steps: PositiveInt
    lr: NonNegativeFloat
    head_lr: NonNegativeFloat
    weight_decay: NonNegativeFloat
    warmup_ratio: Fraction
    max_grad_norm: NonNegativeFloat
    patience: PositiveInt
    weighted_sampling: bool
    seed: NonNegativeInt
    stop_after_epochs: PositiveInt | None  # null: no early stop
    device: Literal["auto", "cpu", "cuda"]
    num_workers: NonNegativeInt
    compile: bool
    log_every: PositiveInt
    eval_batch_size: PositiveInt
    feature_cache: PathText | None  # null: the standard cache
    feature_batch_size: PositiveInt
    baselines: list[TextBaseline]


class EvaluateSettings(Settings):
    stage = "evaluate"

    dataset: PathText | None  # null: the dataset the checkpoint was trained on
    split: Split
    baselines: list[str]
    batch_size: int = Field(ge=1)
