"""``hashtag-build-dataset``'s settings: their types and limits (the values, defaults and help:
configs/dataset.yaml for ``build`` and ``langid --prior``, configs/export.yaml for ``export``).

Validated once, before any input is read or image fetched (runtime.settings): ``--top-k 0``, a
prior of 1.5 or fractions that do not sum to 1 are one line naming the key and exit 2, not a
dataset with no label or a crash in the split step. The build then reads attributes.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from preprocess.langid import BACKENDS, LANGUAGE_CODE, MIXED, UNDETERMINED
from preprocess.readers import FORMATS
from preprocess.splits import SPLIT_BY
from runtime.settings import Count, Positive, Section, Settings, Share, validate

PHASH_BITS = 64  # imagehash.phash's default hash size: 8x8 bits
PathText = Annotated[str, Field(min_length=1)]  # a file or folder named in a YAML setting

InputFormat = Literal[("auto", *FORMATS)]  # type: ignore[valid-type]
Backend = Literal[BACKENDS]  # type: ignore[valid-type]
SplitBy = Literal[SPLIT_BY]  # type: ignore[valid-type]
Balance = Literal["none", "sqrt"]
ExportFormat = Literal["webdataset", "hf"]


def _language_code(code: str) -> str:
    if not LANGUAGE_CODE.fullmatch(code):
        raise ValueError("an ISO 639-1 code such as en (--keep-und for und)")
    return code


def _prior_below_one(prior: dict[str, float]) -> dict[str, float]:
    """The rest (1 - the sum) is the share of every other language, so it cannot be 0."""
    if sum(prior.values()) >= 1:
        raise ValueError("shares that add up to less than 1")
    return prior


LanguageCode = Annotated[str, AfterValidator(_language_code)]
Prior = Annotated[
    dict[LanguageCode, Annotated[float, Field(ge=0, lt=1)]], AfterValidator(_prior_below_one)
]


def language_prior(prior: dict[str, float]) -> dict[str, float]:
    """``langid --prior``, checked as the build checks ``language.prior`` (one declaration)."""
    language = {**DatasetSettings.shipped()["language"], "prior": prior}
    return validate(LanguageSection, language, "--prior: language.").prior


class TextSection(Section):
    demojize: bool


class LanguageSection(Section):
    keep: list[LanguageCode]
    keep_undetermined: bool
    keep_mixed: bool
    backend: Backend | None  # null: preprocess.langid.DEFAULT_BACKEND
    prior: Prior  # expected share per language (the caption backend's prior)


class LabelsSection(Section):
    top_k: Positive
    min_count: Positive
    stoplist: PathText | None  # null: the shipped stoplist
    balance: Balance


class DedupSection(Section):
    near_dup: int = Field(ge=-1, le=PHASH_BITS)  # -1: off


class FractionsSection(Section):
    train: Share
    val: Share
    test: Share

    @model_validator(mode="after")
    def _sum_to_one(self) -> FractionsSection:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError("shares that sum to 1")
        return self


class SplitsSection(Section):
    by: SplitBy
    fractions: FractionsSection
    salt: str


class ImageSettings(Settings):
    """The ``images`` section (preprocess.image_stage explains why each key is what it is)."""

    stage = "dataset"
    section = "images"

    image_size: Positive
    jpeg_quality: int = Field(ge=1, le=100)
    workers: Positive
    processes: Count | None  # null: one per core; 0: the pixel work on the download threads
    per_host: Positive
    timeout_s: float = Field(gt=0)
    retries: Count
    backoff_s: float = Field(ge=0)
    max_bytes: Positive
    max_pixels: Positive
    user_agent: str

    @property
    def converter_processes(self) -> int:
        """How many processes do the pixel work (``processes``, or one per core)."""
        return (os.cpu_count() or 1) if self.processes is None else self.processes


class DatasetSettings(Settings):
    """``hashtag-build-dataset build``."""

    stage = "dataset"

    inputs: list[PathText]
    input_format: InputFormat
    csv_columns: dict[str, PathText]
    out: PathText | None  # required, by --out or the config
    text_only: bool
    text: TextSection
    language: LanguageSection
    labels: LabelsSection
    dedup: DedupSection
    splits: SplitsSection
    image_cache: PathText | None  # null: "<out>.image-cache"
    images: ImageSettings

    @property
    def kept_languages(self) -> set[str]:
        """The language decisions a post may have to be kept."""
        keep = set(self.language.keep)
        if self.language.keep_undetermined:
            keep.add(UNDETERMINED)
        if self.language.keep_mixed:
            keep.add(MIXED)
        return keep


class ExportSettings(Settings):
    """``hashtag-build-dataset export`` (preprocess.export)."""

    stage = "export"

    output_format: ExportFormat | None  # required, by --output-format or the config
    shard_size: Positive  # webdataset samples per shard
