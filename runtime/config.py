"""YAML config per stage, every key overridable by a flag, resolved config written beside outputs.

Precedence, lowest first: ``configs/<stage>.yaml`` shipped with the package, a ``--config FILE``,
``--set key=value`` pairs, then the stage's dedicated flags (when given).
"""

from __future__ import annotations

import argparse
import importlib.resources
import logging
import re
from pathlib import Path
from typing import Any

import yaml

from runtime.errors import UsageError
from runtime.files import atomic_write_text

log = logging.getLogger(__name__)

RENAMED_KEYS: dict[str, dict[str, str]] = {
    "dataset": {"format": "input_format"},
    "serve": {"backend": "engine"},
}
"""Per stage, old top-level key -> new key: still read, with a warning, for one release
(docs/architecture.md, "Names")."""


class ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader, with numbers such as ``3e-5`` and ``1.0e5`` read as floats.

    Why: PyYAML follows YAML 1.1, where a float needs a dot and a signed exponent, so
    ``lr: 3e-5`` or ``--set head_lr=2e-3`` came back as the string "3e-5", which the strict
    settings then refused ("must be a number"). YAML 1.2, and every other YAML library our users
    know, reads them as numbers."""


ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str) -> Any:
    """``text`` as YAML, the way every config, file or ``--set`` value, is read."""
    return yaml.load(text, Loader=ConfigLoader)  # a SafeLoader: no Python objects


def default_config(stage: str) -> dict[str, Any]:
    """The shipped defaults of ``configs/<stage>.yaml``."""
    text = importlib.resources.files("configs").joinpath(f"{stage}.yaml").read_text("utf-8")
    return parse_yaml(text) or {}


def add_config_args(parser: argparse.ArgumentParser, defaults: str = "the defaults") -> None:
    parser.add_argument("--config", metavar="FILE", help=f"YAML file overriding {defaults}")
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override any config key (dotted for nested keys; VALUE parsed as YAML)",
    )


# An argparse dest -> the dotted config key it sets, or several keys one flag sets together.
FlagKeys = dict[str, str | tuple[str, ...]]


def resolve_config(stage: str, args: argparse.Namespace, flag_keys: FlagKeys) -> dict[str, Any]:
    """Merge defaults, ``--config``, ``--set`` and the dedicated flags into one dict.

    A flag left at ``None`` does not override.
    """
    config = default_config(stage)
    if getattr(args, "config", None):
        loaded = renamed_keys(stage, _read_config_file(Path(args.config)))
        _check_known(config, loaded, f"config {args.config}")
        _merge(config, loaded)
    for key, raw in _overrides(args):
        (key,) = renamed_keys(stage, {key: None})
        _check_known(config, {key.split(".")[0]: None}, "--set")
        _set_dotted(config, key, parse_yaml(raw))
    for dest, keys in _given_flags(args, flag_keys):
        for key in keys:
            _set_dotted(config, key, getattr(args, dest))
    return config


def renamed_keys(stage: str, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` with the stage's old top-level key names (:data:`RENAMED_KEYS`) replaced by
    the new ones, warning once for each."""
    renames = RENAMED_KEYS.get(stage, {})
    result = {}
    for key, value in given.items():
        top, dot, rest = str(key).partition(".")
        if top in renames:
            log.warning(
                "config key %s is renamed %s; the old name goes in the next release",
                top,
                renames[top],
            )
            key = renames[top] + dot + rest
        result[key] = value
    return result


def explicit_keys(args: argparse.Namespace, flag_keys: FlagKeys) -> set[str]:
    """The top-level config keys this command names: in ``--config``, ``--set`` or a flag."""
    keys = {key.split(".")[0] for _, flag in _given_flags(args, flag_keys) for key in flag}
    keys.update(key.split(".")[0] for key, _ in _overrides(args))
    if getattr(args, "config", None):
        keys.update(_read_config_file(Path(args.config)))
    return keys


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        loaded = parse_yaml(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read config {path}: {exc}") from None
    if not isinstance(loaded, dict):
        raise UsageError(f"config {path} is not a mapping")
    return loaded


def _overrides(args: argparse.Namespace) -> list[tuple[str, str]]:
    """``--set KEY=VALUE`` items as (key, raw value)."""
    pairs = []
    for item in getattr(args, "overrides", []) or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set expects KEY=VALUE, got {item!r}")
        pairs.append((key, raw))
    return pairs


def _given_flags(
    args: argparse.Namespace, flag_keys: FlagKeys
) -> list[tuple[str, tuple[str, ...]]]:
    """The flags given (not ``None``) with the keys each one sets."""
    return [
        (dest, (keys,) if isinstance(keys, str) else keys)
        for dest, keys in flag_keys.items()
        if getattr(args, dest, None) is not None
    ]


def write_resolved(config: dict[str, Any], path: str | Path) -> None:
    atomic_write_text(path, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def _check_known(defaults: dict[str, Any], given: dict[str, Any], where: str) -> None:
    """A misspelt top-level key, refused before ``--set`` makes a section of it; the command's
    settings model refuses unknown keys at every level (runtime.settings)."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise UsageError(f"{where}: unknown config key(s): {', '.join(map(str, unknown))}")


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def get_dotted(config: dict[str, Any], key: str) -> Any:
    """The value at a dotted key (``labels.top_k``), or None where any part is missing."""
    node: Any = config
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _set_dotted(config: dict[str, Any], key: str, value: Any) -> None:
    node = config
    *parents, leaf = key.split(".")
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise UsageError(f"config key {key!r}: {part!r} is not a section")
        node = child
    node[leaf] = value
