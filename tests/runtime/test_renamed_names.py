"""One name per meaning (docs/architecture.md, "Names"): the renamed flags and config keys, and
their old spellings, which still work for one release, hidden, with a note on stderr."""

from __future__ import annotations

import argparse

import pytest
import torch

from crawler import cli as crawl_cli
from preprocess import cli as build_cli
from runtime.cli import CommandParser, add_flag
from runtime.config import resolve_config
from runtime.errors import UsageError
from serve import cli as serve_cli

# (parser factory, argv before the flag, old flag, new flag, value, dest)
RENAMES = [
    (crawl_cli.build_parser, ["parse", "x.json"], "--out", "--append-to", "p.jsonl", "append_to"),
    (build_cli.build_parser, ["build"], "--format", "--input-format", "csv", "input_format"),
    (
        build_cli.build_parser,
        ["export", "--dataset", "d", "--out", "o"],
        "--format",
        "--output-format",
        "hf",
        "output_format",
    ),
    (
        build_cli.build_parser,
        ["langid"],
        "--backend",
        "--langid-backend",
        "lingua",
        "langid_backend",
    ),
    (serve_cli.build_parser, [], "--backend", "--engine", "torch", "engine"),
]
IDS = [f"{argv[0] if argv else 'serve'} {new}" for _, argv, _, new, *_ in RENAMES]


@pytest.mark.parametrize(("factory", "argv", "old", "new", "value", "dest"), RENAMES, ids=IDS)
def test_the_old_spelling_still_works_with_a_note(
    factory, argv, old, new, value, dest, capsys
) -> None:
    parser = factory()
    renamed = parser.parse_args([*argv, new, value])
    assert capsys.readouterr().err == ""
    assert getattr(parser.parse_args([*argv, old, value]), dest) == getattr(renamed, dest)
    note = capsys.readouterr().err
    assert note.count("\n") == 1 and f"{old} is renamed {new}" in note


@pytest.mark.parametrize(("factory", "argv", "old", "new", "value", "dest"), RENAMES, ids=IDS)
def test_the_old_spelling_is_hidden_from_help(factory, argv, old, new, value, dest, capsys) -> None:
    with pytest.raises(SystemExit):
        factory().parse_args([*argv[:1], "--help"])
    shown = capsys.readouterr().out
    assert new in shown
    assert f"{old} " not in shown.replace(f"{new} ", "")


def test_a_required_flag_is_satisfied_by_its_old_spelling_and_named_by_the_new() -> None:
    parser = CommandParser(prog="p")
    add_flag(parser, "--append-to", renamed_from=("--out",), required=True)
    assert parser.parse_args(["--out", "f"]).append_to == "f"
    with pytest.raises(UsageError, match="^--append-to is required$"):
        parser.parse_args([])


def test_renamed_config_keys_are_read_with_a_warning(tmp_path, caplog) -> None:
    config = tmp_path / "old.yaml"
    config.write_text("format: csv\n", "utf-8")
    args = argparse.Namespace(config=str(config), overrides=[])
    assert resolve_config("dataset", args, {})["input_format"] == "csv"
    serve = resolve_config(
        "serve", argparse.Namespace(config=None, overrides=["backend=torch"]), {}
    )
    assert serve["engine"] == "torch" and "backend" not in serve
    assert "config key format is renamed input_format" in caplog.text


def test_the_old_serve_environment_variable_still_sets_the_engine() -> None:
    args = serve_cli.build_parser().parse_args(["--checkpoint", "x"])
    settings = serve_cli.resolve_settings(args, {"HASHTAG_SERVE_BACKEND": "torch"})
    assert settings.engine == "torch"


def test_serve_device_auto_is_the_gpu_when_visible_as_in_training() -> None:
    args = serve_cli.build_parser().parse_args(["--checkpoint", "x"])
    settings = serve_cli.resolve_settings(args, {})
    assert settings.device == ("cuda" if torch.cuda.is_available() else "cpu")
