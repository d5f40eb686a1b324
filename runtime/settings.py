"""Typed settings: one pydantic model per command declares each key's type and limits.

The values stay in ``configs/<stage>.yaml`` (what users copy and edit, whose comments are the
help): a model names its stage and takes every key it is not given from that file, so a default
is written once, in the YAML, and a type or a limit once, in the model. Fields therefore carry
no defaults of their own (tests/runtime/test_settings.py holds every model to that and to the
YAML's exact set of keys).

Validation is strict (a YAML ``"5"`` is not an integer, ``true`` not a number) and happens once,
when a command starts: :func:`validate` turns the first error into one line naming the dotted
key (or, for a combination of keys a model refuses, its validator's sentence), which
:func:`runtime.errors.run_main` prints with exit 2. Stages then read attributes.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from runtime.config import default_config
from runtime.errors import UsageError

# The limits several commands' settings share (a count, a duration, a share of posts, a TCP
# port), declared once here.
Count = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]
Share = Annotated[float, Field(ge=0, le=1)]
Port = Annotated[int, Field(ge=0, le=65535)]

S = TypeVar("S", bound="Section")
SENTENCE = "sentence"  # the type of a validator's error that is a whole line (see sentence)


class Section(BaseModel):
    """A group of settings (a nested mapping of the YAML, or a whole command's settings)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Settings(Section):
    """A command's settings, or one section of them that a part of a stage is built from.

    ``stage`` names the ``configs/<stage>.yaml`` (and ``section`` its top-level key, if any)
    holding the value of every key not given: ``ServeSettings(port=1)`` is the shipped
    settings with that port, ``PolitenessSettings()`` the shipped ``politeness`` section.
    """

    stage: ClassVar[str]
    section: ClassVar[str | None] = None

    @classmethod
    def shipped(cls) -> dict[str, Any]:
        """The YAML values this model's fields take when not given."""
        values = default_config(cls.stage)
        return values[cls.section] if cls.section else values

    @model_validator(mode="before")
    @classmethod
    def _shipped_defaults(cls, values: Any) -> Any:
        if not isinstance(values, Mapping):
            return values
        return _filled(cls, cls.shipped(), values)


def _filled(model: type[Section], shipped: Mapping[str, Any], given: Mapping[str, Any]) -> Any:
    """``shipped`` with ``given`` put in, section by section. A mapping that is a value
    (``language.prior``, ``csv_columns``) replaces the shipped one whole: ``{es: 0.5}`` is
    that prior, not ``{en: 0.9, es: 0.5}``."""
    filled = dict(shipped)
    for key, value in given.items():
        field = model.model_fields.get(str(key))
        section = field.annotation if field else None
        nested = isinstance(section, type) and issubclass(section, Section)
        if nested and isinstance(value, Mapping) and isinstance(filled.get(key), Mapping):
            value = _filled(section, filled[key], value)  # type: ignore[arg-type]
        filled[key] = value
    return filled


def validate(model: type[S], values: Mapping[str, Any] | S, where: str = "") -> S:
    """``model`` built from ``values``, or a UsageError naming the first bad key; settings
    already built (an instance of ``model``) are returned as they are."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise UsageError(describe(model, exc.errors()[0], where)) from None


def choices(model: type[Section], name: str) -> tuple[str, ...]:
    """The values a ``Literal`` field allows (for a flag's ``choices=``); ``null`` aside, so an
    optional field (``Literal[...] | None``) gives its Literal's values."""

    def values(annotation: Any) -> tuple[Any, ...]:
        if typing.get_origin(annotation) is typing.Literal:
            return typing.get_args(annotation)
        return tuple(value for arg in typing.get_args(annotation) for value in values(arg))

    return tuple(
        value for value in values(model.model_fields[name].annotation) if value is not None
    )


def env_values(model: type[Section], prefix: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``<prefix><FIELD>`` variables of ``environ``, each converted to its field's type the
    way pydantic reads strings (``"8080"``, ``"yes"``), keyed by field name."""
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        variable = f"{prefix}{name.upper()}"
        if variable not in environ:
            continue
        annotation = field.annotation
        if field.metadata:
            annotation = typing.Annotated[(annotation, *field.metadata)]
        adapter = TypeAdapter(annotation)
        try:
            values[name] = adapter.validate_python(environ[variable].strip(), strict=False)
        except ValidationError as exc:
            error = exc.errors()[0]
            got = error["input"]
            raise UsageError(f"{variable} must be {_phrase(error)}, got {got!r}") from None
    return values


def sentence(message: str) -> PydanticCustomError:
    """An error for a validator to raise whose ``message`` is the whole line, printed as it is
    rather than as "KEY must be ..., got ..." (a value that names what it means itself:
    ``unknown baseline 'oracle': use ...``)."""
    return PydanticCustomError(SENTENCE, message)


def describe(model: type[Section], error: ErrorDetails, where: str = "") -> str:
    """One line for a pydantic error: ``where`` + dotted key + what the key must be; for a
    whole command's settings refused together (a model validator's combination of keys, no
    key of its own) or a validator's :func:`sentence`, ``where`` + that one sentence."""
    if not error["loc"] or error["type"] == SENTENCE:
        return f"{where}{_phrase(error)}"
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{where}unknown config key {key}"
    if error["type"] == "missing":
        return f"{where}{key} is missing"
    phrase = _phrase(error)
    if error["type"] != "none_required" and _nullable(model, error["loc"]):
        phrase = f"null or {phrase}"
    return f"{where}{key} must be {phrase}, got {error['input']!r}"


_PHRASES = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "string_too_short": "a non-empty string",
    "greater_than": "greater than {gt}",
    "greater_than_equal": "at least {ge}",
    "less_than": "below {lt}",
    "less_than_equal": "at most {le}",
    "literal_error": "{expected}",
}


def _phrase(error: ErrorDetails) -> str:
    template = _PHRASES.get(error["type"])
    if template is None:
        return error["msg"].removeprefix("Input should be ").removeprefix("Value error, ")
    ctx = {key: _number(value) for key, value in error.get("ctx", {}).items()}
    return template.format(**ctx)


def _number(value: Any) -> Any:
    """``0`` rather than ``0.0`` for a float limit that is whole."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _nullable(model: type[Section], loc: tuple[int | str, ...]) -> bool:
    """Whether the field at ``loc`` accepts null (so the message can say so)."""
    annotation: Any = model
    for part in loc:
        # an optional section (``Section | None``) is walked into as the section
        sections = (annotation, *typing.get_args(annotation))
        fields = next((s.model_fields for s in sections if hasattr(s, "model_fields")), None)
        if not isinstance(part, str) or not fields or part not in fields:
            return False
        annotation = fields[part].annotation
    return type(None) in typing.get_args(annotation)
