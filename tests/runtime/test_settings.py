"""The settings models against configs/*.yaml, and their one-line errors.

A model declares types and limits only; the YAML holds the values. These tests prove the two
agree: every YAML key has a field, every field a YAML key, no field a default of its own, and
the shipped YAML passes its own model.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from crawler.settings import BrowserSettings, CrawlerSettings, PolitenessSettings
from demo_site.settings import DemoSettings
from preprocess.settings import DatasetSettings, ExportSettings, ImageSettings
from runtime.errors import UsageError
from runtime.settings import Section, Settings, env_values, validate
from serve.settings import ENV_PREFIX, ServeSettings
from train.settings import CheckpointBaseline, EvaluateSettings, TrainSettings

MODELS: list[type[Settings]] = [
    ServeSettings,
    EvaluateSettings,
    TrainSettings,
    CrawlerSettings,
    PolitenessSettings,
    BrowserSettings,
    DemoSettings,
    DatasetSettings,
    ImageSettings,
    ExportSettings,
]


def fields_and_yaml(model: type[Section], yaml: dict[str, Any], where: str = "") -> None:
    assert set(model.model_fields) == set(yaml), f"{model.__name__} vs the YAML at {where!r}"
    for name, field in model.model_fields.items():
        assert field.is_required(), f"{where}{name}: its default belongs in the YAML"
        section = field.annotation
        # A Settings section takes its values itself (its own entry in MODELS checks it).
        own = isinstance(section, type) and issubclass(section, Settings)
        if isinstance(section, type) and issubclass(section, Section) and not own:
            fields_and_yaml(section, yaml[name], f"{where}{name}.")


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_yaml_and_the_model_name_the_same_keys(model: type[Settings]) -> None:
    fields_and_yaml(model, model.shipped())


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_shipped_yaml_is_valid_and_is_the_default(model: type[Settings]) -> None:
    shipped = validate(model, model.shipped())
    assert shipped == model()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"port": "80"}, "port must be an integer, got '80'"),  # strict: YAML gives typed values
        ({"port": True}, "port must be an integer, got True"),
        ({"max_wait_ms": -1}, "max_wait_ms must be at least 0, got -1"),
        ({"fetch_timeout_s": float("nan")}, "fetch_timeout_s must be a finite number, got nan"),
        ({"checkpoint": 5}, "checkpoint must be null or a string, got 5"),
        ({"colour": "red"}, "unknown config key colour"),
        (  # a combination of keys: the model validator's sentence names them
            {"engine": "onnxruntime", "device": "cuda"},
            "engine onnxruntime runs on the CPU only; use device cpu",
        ),
        ({"engine": "onnxruntime", "quantize": True}, "quantize applies to engine torch only"),
    ],
)
def test_the_first_error_is_one_line_naming_the_key(values, message) -> None:
    with pytest.raises(UsageError) as caught:
        validate(ServeSettings, values, "where: ")
    assert str(caught.value) == f"where: {message}"


def test_environment_strings_are_read_as_their_field_types() -> None:
    environ = {"HASHTAG_SERVE_PORT": "7100", "HASHTAG_SERVE_QUANTIZE": "yes", "OTHER": "x"}
    assert env_values(ServeSettings, ENV_PREFIX, environ) == {"port": 7100, "quantize": True}
    with pytest.raises(UsageError, match="HASHTAG_SERVE_PORT must be at most 65535, got '70000'"):
        env_values(ServeSettings, ENV_PREFIX, {"HASHTAG_SERVE_PORT": "70000"})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"labels": {"top_k": 0}}, "labels.top_k must be at least 1, got 0"),
        ({"dedup": {"near_dup": -2}}, "dedup.near_dup must be at least -1, got -2"),
        ({"input_format": "xml"}, "input_format must be 'auto', 'jsonl', 'instaloader' or"),
        ({"language": {"backend": "x"}}, "language.backend must be null or 'caption'"),
        ({"language": {"prior": {"en": 0.6, "es": 0.5}}}, "language.prior must be shares that"),
        ({"language": {"prior": {"eng": 0.5}}}, "language.prior.eng.[key] must be an ISO"),
        ({"splits": {"fractions": {"val": 0.5}}}, "splits.fractions must be shares that sum"),
        ({"inputs": [""]}, "inputs.0 must be a non-empty string, got ''"),
        ({"images": {"processes": 1.5}}, "images.processes must be null or an integer"),
    ],
)
def test_dataset_settings_name_the_dotted_key(values, message) -> None:
    with pytest.raises(UsageError, match="^" + re.escape(message)):
        validate(DatasetSettings, values)


def test_images_processes_null_means_one_per_core() -> None:
    assert ImageSettings().processes is None
    assert ImageSettings().converter_processes == (os.cpu_count() or 1)
    assert ImageSettings(processes=0).converter_processes == 0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"dropout": 1.0}, "dropout must be below 1, got 1.0"),
        ({"warmup_ratio": -0.1}, "warmup_ratio must be at least 0, got -0.1"),
        ({"stop_after_epochs": 0}, "stop_after_epochs must be null or at least 1, got 0"),
        ({"device": "tpu"}, "device must be 'auto', 'cpu' or 'cuda', got 'tpu'"),
        ({"random_text": {"hidden_size": 0}}, "random_text.hidden_size must be at least 1, got 0"),
        ({"random_text": {"depth": 2}}, "unknown config key random_text.depth"),
        ({"baselines": ["bm25"]}, "baselines.0 must be 'tfidf', got 'bm25'"),
        ({"text_encoder": ""}, "text_encoder must be a non-empty string, got ''"),
    ],
)
def test_train_settings_name_the_first_bad_key(values, message) -> None:
    with pytest.raises(UsageError) as caught:
        validate(TrainSettings, values)
    assert str(caught.value) == message


def test_a_mapping_value_replaces_the_shipped_one_whole() -> None:
    """Sections are filled key by key; a mapping that is a value (a prior) is not."""
    settings = DatasetSettings(language={"prior": {"es": 0.5}}, images={"workers": 2})
    assert settings.language.prior == {"es": 0.5}
    assert settings.language.keep == DatasetSettings().language.keep
    assert settings.images.workers == 2
    assert settings.images.per_host == DatasetSettings().images.per_host


@pytest.mark.parametrize(
    ("baselines", "message"),
    [
        (["oracle"], "unknown baseline 'oracle': use tfidf, text, image or NAME=CHECKPOINT_DIR"),
        (["text", "other="], "unknown baseline 'other=': use tfidf, text, image or NAME="),
        (["popularity"], "popularity is always shown; list only tfidf, text, image or NAME=DIR"),
        ([5], "baselines.0 must be a string, got 5"),
    ],
)
def test_evaluate_baselines_are_named_or_a_checkpoint(baselines, message) -> None:
    with pytest.raises(UsageError, match="^" + re.escape(message)):
        validate(EvaluateSettings, {"baselines": baselines})


def test_evaluate_baselines_are_read_as_names_and_checkpoints() -> None:
    settings = EvaluateSettings(baselines=[" tfidf", "image", "text-only=runs/a=b"])
    assert settings.baselines == ["tfidf", "image", CheckpointBaseline("text-only", "runs/a=b")]
