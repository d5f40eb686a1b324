"""hashtag-serve: settings precedence, one-line errors with exit codes, a live run to SIGTERM."""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from runtime.errors import UsageError
from serve.cli import build_parser, main, resolve_settings


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_flags_override_environment_which_overrides_config(tmp_path):
    config = tmp_path / "serve.yaml"
    config.write_text("max_batch_size: 4\nmax_wait_ms: 9\nport: 7000\n")
    env = {"HASHTAG_SERVE_MAX_WAIT_MS": "2.5", "HASHTAG_SERVE_PORT": "7100", "OTHER": "x"}
    settings = resolve_settings(
        parse("--config", str(config), "--port", "7200", "--no-quantize", "--checkpoint", "run"),
        env,
    )
    assert (settings.max_batch_size, settings.max_wait_ms, settings.port) == (4, 2.5, 7200)
    assert settings.quantize is False and settings.checkpoint == "run"
    assert settings.channels_last is True  # untouched default


def test_config_file_may_name_the_checkpoint(tmp_path):
    config = tmp_path / "serve.yaml"
    config.write_text("checkpoint: runs/x\n")
    assert resolve_settings(parse("--config", str(config)), {}).checkpoint == "runs/x"


@pytest.mark.parametrize(("given", "expected"), [("on", "on"), ("off", "off"), ("auto", "auto")])
def test_bf16_images_may_be_a_bare_yaml_on_or_off(given, expected):
    settings = resolve_settings(parse("--set", f"bf16_images={given}"), {})
    assert settings.bf16_images == expected


def test_environment_booleans_are_parsed():
    settings = resolve_settings(parse(), {"HASHTAG_SERVE_ALLOW_PRIVATE_URLS": "yes"})
    assert settings.allow_private_urls is True


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ([], {}, "--checkpoint DIR is required (or HASHTAG_SERVE_CHECKPOINT)"),
        (
            ["--checkpoint", "x"],
            {"HASHTAG_SERVE_PORT": "eighty"},
            "HASHTAG_SERVE_PORT must be an integer, got 'eighty'",
        ),
        (
            ["--checkpoint", "x", "--port", "70000"],
            {},
            "port must be at most 65535, got 70000",
        ),
        (
            ["--checkpoint", "x", "--max-batch-size", "0"],
            {},
            "max_batch_size must be at least 1, got 0",
        ),
        (["--checkpoint", "x", "--set", "colour=red"], {}, "--set: unknown config key(s): colour"),
        (
            ["--checkpoint", "x", "--set", "port=[1]"],
            {},
            "port must be an integer, got [1]",
        ),
        (
            ["--checkpoint", "x", "--set", "quantize=5"],
            {},
            "quantize must be true or false, got 5",
        ),
        (
            ["--checkpoint", "x"],
            {"HASHTAG_SERVE_ENGINE": "tensorrt"},
            "HASHTAG_SERVE_ENGINE must be 'auto', 'onnxruntime' or 'torch', got 'tensorrt'",
        ),
        (
            ["--checkpoint", "x", "--engine", "onnxruntime", "--quantize"],
            {},
            "quantize applies to engine torch only",
        ),
        (
            ["--checkpoint", "x", "--engine", "onnxruntime", "--device", "cuda"],
            {},
            "engine onnxruntime runs on the CPU only; use device cpu",
        ),
        (  # the environment goes through the same model; settings come before the checkpoint
            [],
            {"HASHTAG_SERVE_ENGINE": "onnxruntime", "HASHTAG_SERVE_DEVICE": "cuda"},
            "engine onnxruntime runs on the CPU only; use device cpu",
        ),
        (
            ["--checkpoint", "x", "--set", "engine=onnxruntime", "--bf16-images", "on"],
            {"HASHTAG_SERVE_QUANTIZE": "1"},
            "quantize and bf16_images apply to engine torch only",
        ),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(argv, env, message, monkeypatch, capsys):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"hashtag-serve: error: {message}"


def test_missing_checkpoint_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["--checkpoint", str(tmp_path / "nope")]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    missing = tmp_path / "nope"
    assert last == (
        f"hashtag-serve: error: --checkpoint {missing} does not exist: "
        "give a checkpoint directory (runs/<name>)"
    )


def test_settings_error_type():
    with pytest.raises(UsageError):
        resolve_settings(parse("--threads", "-1"), {})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(base: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early: {process.stderr.read()}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError("server did not become ready")


@pytest.mark.slow
def test_live_server_answers_logs_access_and_stops_gracefully(image_bytes, tiny_checkpoint):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "serve",
            "--checkpoint",
            str(tiny_checkpoint("both")),
            "--port",
            str(port),
            "--threads",
            "1",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ready(base, process)
        original = httpx.get(
            f"{base}/predict", params={"text": "20 days till Christmas", "n_label": 3}
        )
        assert original.status_code == 200 and "hashtag-line" in original.text
        upload = httpx.post(
            f"{base}/predict",
            files={"image": ("a.jpg", image_bytes(), "image/jpeg")},
            headers={"Accept": "application/json"},
        )
        assert upload.status_code == 200 and len(upload.json()["hashtags"]) == 10
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0
    assert '"GET /predict?text=20+days+till+Christmas&n_label=3 HTTP/1.1" 200' in stderr
    assert "Shutting down" in stderr


@pytest.mark.slow
def test_ctrl_c_stops_the_live_server_like_sigterm_with_exit_0(tiny_checkpoint):
    """uvicorn re-raises the SIGINT it drained for; that must not turn into exit 130."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "serve", "--checkpoint", str(tiny_checkpoint("both"))]
        + ["--port", str(port), "--threads", "1"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", process)
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "stopped" in stderr
