"""One shape for every console script: the parser, the shared options, the flag table, the run.

Every command built here answers ``--help`` (plain text, required options in their own group,
each option with its help and its default) and ``--version``, takes ``-v``/``-q``, and, when its
settings live in ``configs/<stage>.yaml``, ``--config FILE`` and ``--set KEY=VALUE``. A flag that
overrides a config key is declared through :class:`ConfigFlags`, which records the flag -> key
table and shows the key's shipped default in the help, so a default is written only in the YAML.
Bad usage, argparse's own complaints included, is one line on stderr and exit 2, like every other
refused input (:func:`runtime.errors.run_main`).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from runtime.config import (
    FlagKeys,
    add_config_args,
    default_config,
    get_dotted,
    resolve_config,
)
from runtime.errors import UsageError, run_main
from runtime.logs import add_logging_args, command_logging, setup_logging
from runtime.settings import Settings, validate

S = TypeVar("S", bound=Settings)

DISTRIBUTION = "hashtag-prediction"
REQUIRED_TITLE = "required arguments"
_REQUIRED_PREFIX = "the following arguments are required: "


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (raised, so :func:`run_main` reports them)
    and whose help shows defaults. Sub-command parsers are built with this class too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        if message.startswith(_REQUIRED_PREFIX):
            names = message[len(_REQUIRED_PREFIX) :]
            message = f"{names} {'are' if ',' in names else 'is'} required"
        raise UsageError(message)


class _HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to options with a real default (config-backed flags carry
    theirs in the help text already, see :meth:`ConfigFlags.add`)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "(default" in text or not action.option_strings:
            return text
        default = action.default
        # By identity: ``0 in (False, ...)`` holds, and a default of 0 is worth showing.
        if any(default is unset for unset in (None, False, argparse.SUPPRESS)) or default == []:
            return text
        if action.required:
            return text
        return f"{text} (default: {_shown(default)})"


def package_version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # run from a source tree never installed
        return "unknown (not installed)"


def command_parser(prog: str, description: str, stage: str | None = None) -> CommandParser:
    """A top-level command with the shared options (see :func:`add_common_options`)."""
    parser = CommandParser(prog=prog, description=description)
    add_common_options(parser, stage)
    return parser


def subcommand(
    subparsers: argparse._SubParsersAction,
    name: str,
    help: str,
    description: str,
    stage: str | None = None,
) -> CommandParser:
    """A sub-command (``hashtag-crawl crawl`` ...) with the same shared options as a command."""
    parser = subparsers.add_parser(name, help=help, description=description)
    add_common_options(parser, stage)
    return parser


def add_common_options(parser: argparse.ArgumentParser, stage: str | None = None) -> None:
    """``-v``/``-q`` and ``--version`` always; ``--config``/``--set`` for a command whose
    settings are ``configs/<stage>.yaml``."""
    if stage is not None:
        add_config_args(parser, f"configs/{stage}.yaml")
    add_logging_args(parser)
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {package_version()}",
        help="print the version and exit",
    )


def required_group(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The group ``--help`` lists required options under; argparse-required ones also appear
    without brackets in the usage line."""
    return parser.add_argument_group(REQUIRED_TITLE)


class ConfigFlags:
    """The flags of one command that override keys of ``configs/<stage>.yaml``.

    ``add`` declares a flag with the dotted key (or keys) it sets; the flag's argparse default
    is ``None`` (not given: the config decides) and its help ends with the key's shipped value.
    ``keys`` is the flag -> key table :func:`runtime.config.resolve_config` applies.
    """

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.keys: FlagKeys = {}
        self._defaults = default_config(stage)

    def add(
        self,
        parser: Any,
        *names: str,
        key: str | tuple[str, ...],
        help: str,
        renamed_from: Sequence[str] = (),
        **kwargs: Any,
    ) -> argparse.Action:
        action = add_flag(
            parser, *names, renamed_from=renamed_from, default=None, help=help, **kwargs
        )
        self.keys[action.dest] = key
        keys = (key,) if isinstance(key, str) else key
        shown = _shown(self.default(keys[0])).replace("%", "%%")
        named = f"key {keys[0]}" if len(keys) == 1 else f"keys {', '.join(keys)}"
        action.help = f"{help} (default: {shown}; {named})"
        return action

    def default(self, key: str) -> Any:
        """The shipped value of a dotted key."""
        return get_dotted(self._defaults, key)

    def resolve(self, args: argparse.Namespace) -> dict[str, Any]:
        return resolve_config(self.stage, args, self.keys)

    def settings(self, args: argparse.Namespace, model: type[S]) -> S:
        """The command's settings, validated once (the first bad key: one line, exit 2)."""
        return validate(model, self.resolve(args))


def add_flag(
    parser: Any, *names: str, renamed_from: Sequence[str] = (), **kwargs: Any
) -> argparse.Action:
    """``parser.add_argument(*names, **kwargs)``, also answering to the old spellings in
    ``renamed_from`` for one release (docs/architecture.md, "Names").

    An old spelling parses exactly as the new one (same action, so ``required`` and the value
    checks hold whichever is used), prints a one-line note on stderr, and shows nowhere:
    not in ``--help``, the usage line or error messages, which name only the new flag.
    """
    action = parser.add_argument(*names, *renamed_from, **kwargs)
    if renamed_from:
        for old in renamed_from:
            action.option_strings.remove(old)  # still parsed: the parser maps it to `action`
        action.__class__ = _noting_renamed(type(action))
    return action


def _noting_renamed(kind: type[argparse.Action]) -> type[argparse.Action]:
    """``kind``, saying on stderr when it was reached through a hidden old spelling."""

    class Renamed(kind):  # type: ignore[valid-type,misc]
        def __call__(
            self,
            parser: argparse.ArgumentParser,
            namespace: argparse.Namespace,
            values: Any,
            option_string: str | None = None,
        ) -> None:
            if option_string is not None and option_string not in self.option_strings:
                new = self.option_strings[-1]
                print(
                    f"{parser.prog}: note: {option_string} is renamed {new}; "
                    f"the old name goes in the next release",
                    file=sys.stderr,
                )
            super().__call__(parser, namespace, values, option_string)

    return Renamed


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse, set up logging, run ``args.func(args)``; every failure is one line and its exit
    code (``--help`` and ``--version`` still exit 0 through SystemExit). The logging set-up is
    undone on return (after run_main's report, which logs the traceback under ``-v``)."""

    def body() -> int | None:
        args = parser.parse_args(argv)
        setup_logging(args)
        func: Callable[[argparse.Namespace], int | None] = args.func
        return func(args)

    with command_logging():
        return run_main(body, parser.prog)


def _shown(value: Any) -> str:
    """A YAML-like rendering of a default: true/false/null, lists comma-separated."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ",".join(map(_shown, value)) or "none"
    if isinstance(value, dict):
        return ",".join(f"{k}={_shown(v)}" for k, v in value.items())
    return str(value)
