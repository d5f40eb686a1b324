"""Every console command has the same shape (issue 11 §4): ``--help`` and ``--version`` exit 0,
required options are listed as required, every option has help text, every flag that
overrides a config key shows the key and its shipped default, help is plain text, and bad
usage is one line on stderr with exit 2.

The commands run in-process through their ``main`` functions; ``COLUMNS`` is set wide so that
argparse does not wrap (and hyphenate) the help text being checked.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable

import pytest

from crawler import cli as crawl_cli
from demo_site import cli as demo_cli
from preprocess import cli as build_cli
from runtime.cli import REQUIRED_TITLE, ConfigFlags, command_parser, package_version
from runtime.config import default_config
from serve import cli as serve_cli
from train import cli as train_cli

Main = Callable[[list[str]], int]
COMMANDS: list[tuple[str, Main, list[str]]] = [
    ("hashtag-crawl", crawl_cli.main, []),
    ("hashtag-crawl crawl", crawl_cli.main, ["crawl"]),
    ("hashtag-crawl parse", crawl_cli.main, ["parse"]),
    ("hashtag-crawl serve-demo", crawl_cli.main, ["serve-demo"]),
    ("hashtag-build-dataset", build_cli.main, []),
    ("hashtag-build-dataset build", build_cli.main, ["build"]),
    ("hashtag-build-dataset export", build_cli.main, ["export"]),
    ("hashtag-build-dataset hashtags", build_cli.main, ["hashtags"]),
    ("hashtag-build-dataset langid", build_cli.main, ["langid"]),
    ("hashtag-train", train_cli.train_main, []),
    ("hashtag-evaluate", train_cli.evaluate_main, []),
    ("hashtag-serve", serve_cli.main, []),
]
IDS = [name for name, _, _ in COMMANDS]
# The options each command cannot run without (flag or, where noted in the help, config).
REQUIRED = {
    "hashtag-crawl parse": ["--append-to"],
    "hashtag-build-dataset build": ["--input", "--out"],
    "hashtag-build-dataset export": ["--dataset", "--out", "--output-format"],
    "hashtag-train": ["--dataset", "--out"],
    "hashtag-evaluate": ["--checkpoint"],
    "hashtag-serve": ["--checkpoint"],
}
# Each command's config-backed flags, with the configs/<stage>.yaml they read.
CONFIG_FLAGS: list[tuple[str, ConfigFlags]] = [
    ("hashtag-crawl crawl", crawl_cli.FLAGS),
    ("hashtag-crawl serve-demo", demo_cli.FLAGS),
    ("hashtag-build-dataset build", build_cli.BUILD_FLAGS),
    ("hashtag-build-dataset export", build_cli.EXPORT_FLAGS),
    ("hashtag-train", train_cli.TRAIN_FLAGS),
    ("hashtag-evaluate", train_cli.EVALUATE_FLAGS),
    ("hashtag-serve", serve_cli.FLAGS),
]


@pytest.fixture(autouse=True)
def _wide_help(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")


def help_of(name: str, capsys: pytest.CaptureFixture[str]) -> str:
    _, main, argv = next(command for command in COMMANDS if command[0] == name)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def sections(text: str) -> dict[str, list[str]]:
    """The entries of each titled section of a --help text, each as one line: the option, two
    spaces, its help (argparse puts the help of a long option on the next lines)."""
    found: dict[str, list[str]] = {}
    title = ""
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            title = line[:-1]
            found[title] = []
        elif title and re.match(r"  \S", line):
            found[title].append(line.strip())
        elif title and line.strip() and found[title]:
            found[title][-1] += "  " + line.strip()
    return found


@pytest.mark.parametrize(("name", "main", "argv"), COMMANDS, ids=IDS)
def test_every_command_answers_version(name, main, argv, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"{name} {package_version()}"


@pytest.mark.parametrize(("name", "main", "argv"), COMMANDS, ids=IDS)
def test_every_command_answers_help_with_the_shared_options(name, main, argv, capsys) -> None:
    text = help_of(name, capsys)
    assert text.startswith(f"usage: {name} ")
    for option in ("-v, --verbose", "-q, --quiet", "--version"):
        assert option in text
    assert "``" not in text and ":func:" not in text and ":class:" not in text  # plain text


@pytest.mark.parametrize(("name", "flags"), CONFIG_FLAGS, ids=[n for n, _ in CONFIG_FLAGS])
def test_config_backed_commands_take_config_and_set(name, flags, capsys) -> None:
    text = help_of(name, capsys)
    assert "--config FILE  " in text and f"configs/{flags.stage}.yaml" in text
    assert "--set KEY=VALUE" in text


@pytest.mark.parametrize("name", REQUIRED)
def test_required_options_are_listed_as_required(name, capsys) -> None:
    text = help_of(name, capsys)
    required = sections(text)[REQUIRED_TITLE]
    for option in REQUIRED[name]:
        assert any(entry.startswith(option + " ") for entry in required), (option, required)
    # Whatever the usage line shows without brackets is in the required group too.
    usage = " ".join(text.split("\n\n")[0].split())
    bare = re.sub(r"\[[^\[\]]*\]", "", re.sub(r"\[[^\[\]]*\]", "", usage))
    for option in re.findall(r"(?<!\S)(--[\w-]+)", bare):
        assert any(entry.startswith(option + " ") for entry in required), option


@pytest.mark.parametrize(("name", "main", "argv"), COMMANDS, ids=IDS)
def test_every_option_has_help_text(name, main, argv, capsys) -> None:
    for title, entries in sections(help_of(name, capsys)).items():
        for entry in entries:
            parts = re.split(r"\s{2,}", entry, maxsplit=1)
            assert len(parts) == 2 and parts[1].strip(), f"{name}, {title}: {entry!r} has no help"


@pytest.mark.parametrize(("name", "flags"), CONFIG_FLAGS, ids=[n for n, _ in CONFIG_FLAGS])
def test_config_backed_flags_show_their_key_and_shipped_default(name, flags, capsys) -> None:
    text = " ".join(help_of(name, capsys).split())
    defaults = default_config(flags.stage)
    assert flags.keys, name
    for dest, keys in flags.keys.items():
        key = keys if isinstance(keys, str) else keys[0]
        assert f"key {key})" in text or f"keys {key}," in text, (name, dest)
        value = flags.default(key)
        assert key.split(".")[0] in defaults, key  # the flag sets a key the YAML has
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            assert f"(default: {value};" in text, (name, key, value)


def test_argparse_errors_are_one_line_and_exit_2(capsys) -> None:
    cases: list[tuple[Main, list[str], str]] = [
        (train_cli.train_main, [], "hashtag-train: error: --dataset, --out are required"),
        (train_cli.train_main, ["--dataset", "d", "--out", "o", "--loss", "x"], "invalid choice"),
        (train_cli.evaluate_main, ["--checkpoint"], "expected one argument"),
        (crawl_cli.main, ["crawl", "--limit", "ten"], "invalid int value"),
        (crawl_cli.main, [], "hashtag-crawl: error: COMMAND is required"),
        (build_cli.main, ["build", "--no-such-flag"], "unrecognized arguments"),
        (serve_cli.main, ["--port"], "expected one argument"),
    ]
    for main, argv, needle in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], (argv, err)


def test_python_m_train_evaluate_main_prints_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "train.evaluate_main", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: hashtag-evaluate ")


def test_help_shows_a_default_of_zero() -> None:
    parser = command_parser("prog", "a command")
    parser.add_argument("--retries", type=int, default=0, help="how often to retry")
    parser.add_argument("--verbose-ish", action="store_true", help="a switch")
    text = parser.format_help()
    assert "how often to retry (default: 0)" in text
    assert "a switch (default" not in text
