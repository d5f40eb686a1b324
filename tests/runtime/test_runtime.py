"""The command runtime: config precedence and checks, exit codes, crash-safe files."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.cli import command_parser, run
from runtime.config import add_config_args, resolve_config
from runtime.errors import RemoteStop, UsageError, run_main
from runtime.files import (
    append_jsonl,
    atomic_write_json,
    iter_jsonl,
    remove_abandoned_stages,
    repair_torn_tail,
    staged_directory,
)

REPO = Path(__file__).resolve().parents[2]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_config_args(parser)
    parser.add_argument("--limit", type=int)
    return parser.parse_args(argv)


def test_flags_beat_set_which_beats_a_config_file_which_beats_defaults(tmp_path: Path) -> None:
    file = tmp_path / "c.yaml"
    file.write_text("limit: 5\nper_target: 7\npoliteness: {delay_mean_s: 9}\n")
    args = _args("--config", str(file), "--set", "per_target=8", "--limit", "3")
    config = resolve_config("crawl", args, {"limit": "limit"})
    assert (config["limit"], config["per_target"]) == (3, 8)
    assert config["politeness"]["delay_mean_s"] == 9
    assert config["politeness"]["budget_requests"] == 200  # merged, not replaced


@pytest.mark.parametrize(
    ("text", "value"),
    [("3e-5", 3e-5), ("2E+3", 2000.0), ("1.0e5", 1e5), ("-.5e1", -5.0), ("1.5e-3", 1.5e-3)],
)
def test_numbers_with_an_exponent_are_floats_in_set_and_config_files(
    tmp_path: Path, text: str, value: float
) -> None:
    """YAML 1.1 (PyYAML) reads ``3e-5`` as a string; a user writing a learning rate means a
    number, as YAML 1.2 reads it."""
    file = tmp_path / "c.yaml"
    file.write_text(f"politeness: {{delay_mean_s: {text}}}\n")
    from_file = resolve_config("crawl", _args("--config", str(file)), {})
    from_set = resolve_config("crawl", _args("--set", f"politeness.delay_mean_s={text}"), {})
    assert from_file["politeness"]["delay_mean_s"] == from_set["politeness"]["delay_mean_s"]
    assert from_set["politeness"]["delay_mean_s"] == pytest.approx(value)


@pytest.mark.parametrize("text", ["1e", "e5", "8e3x", "v1e3", "abc"])
def test_words_that_only_look_like_exponents_stay_strings(text: str) -> None:
    config = resolve_config("crawl", _args("--set", f"politeness.delay_mean_s={text}"), {})
    assert config["politeness"]["delay_mean_s"] == text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--set", "limt=3"), "--set: unknown config key(s): limt"),
        (("--set", "limit"), "--set expects KEY=VALUE"),
        (("--set", "limit.x=1"), "'limit' is not a section"),
    ],
)
def test_bad_overrides_are_usage_errors(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_config("crawl", _args(*argv), {})


@pytest.mark.parametrize(
    ("content", "message"), [("limt: 3\n", "unknown config key"), ("- a\n", "not a mapping")]
)
def test_bad_config_files_are_usage_errors(tmp_path: Path, content: str, message: str) -> None:
    file = tmp_path / "c.yaml"
    file.write_text(content)
    with pytest.raises(UsageError, match=message):
        resolve_config("crawl", _args("--config", str(file)), {})


def test_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read config"):
        resolve_config("crawl", _args("--config", str(tmp_path / "absent.yaml")), {})


def test_exit_codes_and_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    def fails(exc: BaseException):
        def body() -> None:
            raise exc

        return body

    assert run_main(lambda: None, "p") == 0
    assert run_main(fails(UsageError("bad input")), "p") == 2
    assert run_main(fails(RemoteStop("login wall")), "p") == 3
    assert run_main(fails(ValueError("boom")), "p") == 1
    assert run_main(fails(KeyboardInterrupt()), "p") == 130
    assert run_main(fails(RuntimeError("first\n  stack of a library\n")), "p") == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "p: error: bad input",
        "p: error: login wall",
        "p: error: unexpected ValueError: boom",
        "p: interrupted",
        "p: error: unexpected RuntimeError: first",
    ]


def test_sigterm_runs_the_cleanup_ctrl_c_runs_then_exits_143(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SIGTERM raises in the body, so its ``finally`` blocks (state save, browser quit) run;
    a second SIGTERM during that cleanup is ignored; the previous handler is back after."""
    cleaned: list[str] = []
    before = signal.getsignal(signal.SIGTERM)

    def body() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.pause()  # never reached: the handler raises as soon as the signal lands
        finally:
            os.kill(os.getpid(), signal.SIGTERM)
            cleaned.append("state saved")

    assert run_main(body, "p") == 143
    assert cleaned == ["state saved"]
    assert capsys.readouterr().err == "p: terminated\n"
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_command_run_in_process_takes_its_logging_set_up_away_after(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Its handlers (stderr, its log file) would otherwise outlive it, holding a stream that
    is closed by then (pytest's capture of this test): a later in-process command's first log
    line would print "--- Logging error ---". Handlers it did not add (caplog's) stay."""
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    parser = command_parser("p", "logs one line")

    def body(args: argparse.Namespace) -> None:
        from runtime.logs import log_to_file

        log_to_file(tmp_path / "p.log")
        logging.getLogger("p").info("working")

    parser.set_defaults(func=body)
    assert run(parser, []) == 0
    assert run(parser, []) == 0  # a second run replaces the first's handlers: one line each
    assert capsys.readouterr().err.count("INFO p: working") == 2
    assert (tmp_path / "p.log").read_text().count("INFO p: working") == 2
    assert caplog.messages == ["working", "working"]
    assert (root.level, list(root.handlers)) == before


def test_torn_last_line_is_cut_and_whole_lines_kept(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    append_jsonl(path, [{"a": 1}, {"a": 2}])
    with open(path, "ab") as handle:
        handle.write(b'{"a": 3, "cut')
    assert repair_torn_tail(path) > 0
    assert [record for _, record, _ in iter_jsonl(path)] == [{"a": 1}, {"a": 2}]
    assert repair_torn_tail(path) == 0


def test_bad_lines_are_reported_by_reason(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"ok": 1}\nnot json\n\xff\xfe\n[1]\n')
    assert [reason for _, _, reason in iter_jsonl(path)] == [
        "",
        "bad_json",
        "bad_utf8",
        "not_object",
    ]


def test_atomic_write_leaves_no_temporary_file_and_sets_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    atomic_write_json(target, {"k": "v"}, mode=0o600)
    assert json.loads(target.read_text()) == {"k": "v"}
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_staged_directory_replaces_the_folder_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "dataset"
    with staged_directory(target) as stage:
        (stage / "a.txt").write_text("first")
    with pytest.raises(RuntimeError), staged_directory(target) as stage:
        (stage / "a.txt").write_text("half")
        raise RuntimeError("interrupted")
    assert (target / "a.txt").read_text() == "first"
    with staged_directory(target) as stage:
        (stage / "b.txt").write_text("second")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["dataset"]  # no stage or retired folder left
    assert target.stat().st_mode & 0o777 == 0o755


def _dead_pid() -> int:
    """The id of a process that has just exited (ids are not reused that quickly)."""
    probe = subprocess.Popen([sys.executable, "-c", "pass"])
    probe.wait()
    return probe.pid


def test_a_build_killed_outright_leaves_a_stage_the_next_build_removes(tmp_path: Path) -> None:
    target = tmp_path / "dataset"
    with staged_directory(target) as stage:
        (stage / "a.txt").write_text("first")
    script = (
        "import sys, time\n"
        "from runtime.files import staged_directory\n"
        "with staged_directory(sys.argv[1]) as stage:\n"
        "    (stage / 'half.txt').write_text('half')\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert child.stdout.readline().strip() == "ready"
    child.kill()
    child.wait()
    left = [p.name for p in tmp_path.iterdir() if p.name != "dataset"]
    assert len(left) == 1 and left[0].startswith(".dataset.building-")
    with staged_directory(target) as stage:
        (stage / "b.txt").write_text("second")
    assert [p.name for p in tmp_path.iterdir()] == ["dataset"]
    assert (target / "b.txt").read_text() == "second"


def test_only_provably_abandoned_stages_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "dataset"
    host = socket.gethostname()
    live = tmp_path / f".dataset.building-{os.getpid()}+{host}+abc"
    elsewhere = tmp_path / f".dataset.building-{_dead_pid()}+another-host+abc"
    unknown = tmp_path / ".dataset.building-xyz"
    dead = tmp_path / f".dataset.building-{_dead_pid()}+{host}+abc"
    for folder in (live, elsewhere, unknown, dead):
        folder.mkdir()
    assert remove_abandoned_stages(target) == [dead]
    assert live.exists() and elsewhere.exists() and unknown.exists()


def test_a_swap_killed_between_its_renames_puts_the_previous_folder_back(tmp_path: Path) -> None:
    target = tmp_path / "dataset"
    retired = tmp_path / f".dataset.old-{_dead_pid()}+{socket.gethostname()}+abc"
    (retired / "dataset").mkdir(parents=True)
    (retired / "dataset" / "a.txt").write_text("previous")
    (tmp_path / f".dataset.building-{_dead_pid()}+{socket.gethostname()}+def").mkdir()
    with staged_directory(target) as stage:
        assert (target / "a.txt").read_text() == "previous"  # restored before the new build
        (stage / "b.txt").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["dataset"]
