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
from typing import Annotated, Literal, NamedTuple

from pydantic import AfterValidator, Field, StringConstraints

from runtime.checkpoint_check import MODALITIES
from runtime.settings import Section, Settings, sentence

Split = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = typing.get_args(Split)  # the splits of a dataset directory
PathText = Annotated[str, Field(min_length=1)]  # a file or folder named in a YAML setting
TextBaseline = Literal["tfidf"]  # fit from the train split's text alone (train.baselines)
TEXT_BASELINES: tuple[str, ...] = typing.get_args(TextBaseline)
ModelBaseline = Literal["text", "image"]  # the model scored with the other input neutral
MODEL_BASELINES: tuple[str, ...] = typing.get_args(ModelBaseline)
NamedBaseline = Literal[TextBaseline, ModelBaseline]
NAMED_BASELINES: tuple[str, ...] = typing.get_args(NamedBaseline)
Pooling = Literal["pooled", "cls", "mean"]
POOLINGS: tuple[str, ...] = typing.get_args(Pooling)
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]  # a learning rate of 0: a frozen part
Fraction = Annotated[float, Field(ge=0, lt=1)]
Init = Literal["pretrained", "random"]
Loss = Literal["bce", "softmax"]  # also the model's (train.model, train.model_record)


class CheckpointBaseline(NamedTuple):
    """A ``NAME=CHECKPOINT_DIR`` baseline of hashtag-evaluate: another trained model (e.g.
    one trained with --modality), its column named NAME."""

    name: str
    checkpoint: str


def _evaluate_baseline(spec: str) -> NamedBaseline | CheckpointBaseline:
    """A ``baselines`` entry of hashtag-evaluate: one of the named ones, or NAME=DIR parsed."""
    if spec in NAMED_BASELINES:
        return spec  # type: ignore[return-value]  # one of NamedBaseline's values
    name, _, checkpoint = spec.partition("=")
    if name and checkpoint:
        return CheckpointBaseline(name, checkpoint)
    if spec == "popularity":
        raise sentence("popularity is always shown; list only tfidf, text, image or NAME=DIR")
    raise sentence(f"unknown baseline {spec!r}: use tfidf, text, image or NAME=CHECKPOINT_DIR")


# A string in the YAML or the flag; a NamedBaseline or a CheckpointBaseline once validated.
EvaluateBaseline = Annotated[
    str, StringConstraints(strip_whitespace=True), AfterValidator(_evaluate_baseline)
]


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
    loss: Loss
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
    baselines: list[EvaluateBaseline]
    batch_size: int = Field(ge=1)
