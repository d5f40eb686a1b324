"""Every console command against bad input: one stderr line, the documented exit code, no
traceback, and nothing written or changed where the output would go (issue 10's table).

The commands run in-process through their ``main`` functions (fast); a subprocess is used only
where the behaviour needs a real process (a closed stdout pipe). Checkpoints are real tiny
models trained once per module (the tiny-model fixtures of tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from crawler.cli import main as crawl_main
from preprocess.cli import main as build_main
from preprocess.image_fetch import GIVE_UP_AFTER, HttpFetcher, ImageRejected
from preprocess.settings import ImageSettings
from runtime.checkpoint_check import check_checkpoint
from runtime.errors import PipelineError, UsageError
from runtime.outputs import check_output_dir
from runtime.progress import progress_bar
from serve.cli import main as serve_main
from train.cli import evaluate_main, train_main

REPO = Path(__file__).resolve().parents[2]
UNWRITABLE = Path("/proc/1/out")  # not writable even for root


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and modification time."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if not path.is_symlink()
    }


def run_cli(main: Callable[[list[str]], int], argv: list[str], capsys) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "unexpected" not in err
    return code, [line for line in err.splitlines() if line.strip()]


def assert_refused(main, argv, capsys, workdir: Path, code: int, *needles: str) -> str:
    """``main(argv)`` exits ``code`` with one stderr line holding ``needles``, and leaves
    ``workdir`` exactly as it was."""
    before = snapshot(workdir)
    got, lines = run_cli(main, argv, capsys)
    assert got == code, lines
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], lines
    assert snapshot(workdir) == before
    return lines[0]


def unwritable_or_skip() -> Path:
    if os.access(UNWRITABLE.parent, os.W_OK):
        pytest.skip("no unwritable folder on this machine")
    return UNWRITABLE


# ---- hashtag-build-dataset build --------------------------------------------------------------


def _jsonl(records: list[object]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


BAD_POSTS = {
    "junk bytes": (b"\x89PNG\r\n\x1a\n\xff\xfe\x00binary\n\xc3\x28\n", "bad_utf8"),
    "empty file": (b"", "the input is empty"),
    "truncated lines": (b'{"shortcode": "a", "caption": "x #y", "ima\n{"shortc\n', "bad_json: 2"),
    "wrong types": (
        _jsonl(
            [
                {"shortcode": 5, "caption": "x #y", "image_url": "http://h/i.jpg"},
                {"shortcode": "b", "caption": ["x"], "image_url": "http://h/i.jpg"},
                {"shortcode": "c", "caption": "x #y", "image_url": 7},
                ["not", "an", "object"],
            ]
        ),
        "missing_shortcode: 1",
    ),
}


@pytest.mark.parametrize("case", BAD_POSTS)
def test_build_refuses_input_without_posts_by_reason(case, tmp_path, capsys):
    data, reason = BAD_POSTS[case]
    (tmp_path / "posts.jsonl").write_bytes(data)
    argv = ["build", "--input", str(tmp_path / "posts.jsonl"), "--out", str(tmp_path / "ds")]
    assert_refused(build_main, [*argv, "-q"], capsys, tmp_path, 2, reason)


def test_build_reports_every_reason_of_wrong_types(tmp_path, capsys):
    (tmp_path / "posts.jsonl").write_bytes(BAD_POSTS["wrong types"][0])
    argv = ["build", "--input", str(tmp_path / "posts.jsonl"), "--out", str(tmp_path / "ds")]
    line = assert_refused(build_main, [*argv, "-q"], capsys, tmp_path, 2)
    for reason in ("missing_shortcode: 1", "missing_caption: 1", "missing_image: 1"):
        assert reason in line
    assert "not_object: 1" in line


@pytest.fixture
def posts_file(tmp_path) -> Path:
    path = tmp_path / "posts.jsonl"
    path.write_bytes(
        _jsonl([{"shortcode": "a", "caption": "a day #sun", "image_url": "http://h/a.jpg"}])
    )
    return path


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--out", "{file}/ds"], "is a file, not a directory"),
        (["--out", "{file}"], "is a file, not a directory"),
        (["--out", "{tmp}/ds", "--cache-dir", "{file}/cache"], "--cache-dir"),
        (["--out", "{tmp}/ds", "--input-format", "csv"], "--input-format jsonl"),
    ],
)
def test_build_checks_outputs_and_format_first(extra, needle, tmp_path, posts_file, capsys):
    (tmp_path / "afile").write_text("x")
    fill = {"file": str(tmp_path / "afile"), "tmp": str(tmp_path)}
    argv = ["build", "--input", str(posts_file), *[a.format(**fill) for a in extra], "-q"]
    assert_refused(build_main, argv, capsys, tmp_path, 2, needle)


def test_build_refuses_an_unwritable_out(tmp_path, posts_file, capsys):
    out = unwritable_or_skip()
    argv = ["build", "--input", str(posts_file), "--out", str(out), "-q"]
    assert_refused(build_main, argv, capsys, tmp_path, 2, "permission denied")


def test_build_refuses_an_empty_csv(tmp_path, capsys):
    (tmp_path / "posts.csv").write_text("")
    argv = ["build", "--input", str(tmp_path / "posts.csv"), "--out", str(tmp_path / "ds"), "-q"]
    line = assert_refused(build_main, argv, capsys, tmp_path, 2, "empty CSV")
    assert "columns: none" not in line


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_build_with_the_image_host_gone_fails_fast_and_says_what_to_do(tmp_path, capsys):
    port = closed_port()
    records = [
        {
            "shortcode": f"S{i}",
            "caption": "What a lovely sunny day at the beach with my friends #beach #sun",
            "image_url": f"http://127.0.0.1:{port}/media/{i}.jpg",
        }
        for i in range(12)
    ]
    (tmp_path / "posts.jsonl").write_bytes(_jsonl(records))
    argv = ["build", "--input", str(tmp_path / "posts.jsonl"), "--out", str(tmp_path / "ds")]
    argv += ["--set", "images.backoff_s=0", "--set", "images.workers=2"]
    code, lines = run_cli(build_main, argv, capsys)
    assert code == 1
    assert lines[-1].startswith("hashtag-build-dataset: error: none of the 12 images")
    assert "connection: 12" in lines[-1]
    assert "--download-images" in lines[-1]
    assert not (tmp_path / "ds").exists()
    assert not (tmp_path / "ds.image-cache").exists()  # no empty cache left behind


@pytest.mark.slow
def test_build_after_a_demo_crawl_whose_site_is_gone(chromium_ready, tmp_path, capsys):
    """Issue 10's case as a user meets it: the demo site stops with the crawl, so the build
    cannot reach the image URLs; it says so, by reason, and what to do."""
    crawl = ["crawl", "--demo", "--limit", "20", "--no-delay", "--set", "demo.n_posts=300"]
    assert crawl_main([*crawl, "--out", str(tmp_path / "crawl"), "-q"]) == 0
    argv = ["build", "--input", str(tmp_path / "crawl" / "posts.jsonl")]
    argv += ["--out", str(tmp_path / "ds"), "-q"]
    code, lines = run_cli(build_main, argv, capsys)
    assert code == 1
    assert "connection: " in lines[-1] and "--download-images" in lines[-1]
    assert not (tmp_path / "ds").exists() and not (tmp_path / "ds.image-cache").exists()


def test_fetcher_gives_up_on_a_host_that_never_answers():
    """A server that drops every connection: after GIVE_UP_AFTER failures no more attempts."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def drop_connections() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            accepted.append(1)
            connection.close()

    threading.Thread(target=drop_connections, daemon=True).start()
    port = server.getsockname()[1]
    settings = ImageSettings(retries=0, timeout_s=2.0)
    reasons = []
    with HttpFetcher(settings) as fetcher:
        for i in range(GIVE_UP_AFTER + 5):
            with pytest.raises(ImageRejected) as caught:
                fetcher.fetch(f"http://127.0.0.1:{port}/{i}.jpg")
            reasons.append(caught.value.reason)
    server.close()
    assert reasons == ["connection"] * (GIVE_UP_AFTER + 5)
    assert len(accepted) == GIVE_UP_AFTER


# ---- stdout filters piped into head ------------------------------------------------------------


@pytest.mark.parametrize("command", ["hashtags", "langid"])
def test_filters_end_quietly_when_the_reader_closes_the_pipe(command, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("a lovely day at the beach #sun #sea\n" * 60_000)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(source, "rb") as stdin:
        process = subprocess.Popen(
            [sys.executable, "-m", "preprocess", command],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert process.stdout.readline()
        process.stdout.close()  # what head does after its first line
        err = process.stderr.read().decode()
        code = process.wait(timeout=120)
    assert err == ""
    assert code == 0


# ---- hashtag-train -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bad-input")


@pytest.fixture(scope="module")
def dataset(make_tiny_dataset, workdir) -> Path:
    return make_tiny_dataset(workdir / "dataset", n_posts=40, n_labels=3)


@pytest.fixture(scope="module")
def train_config(tiny_config, workdir) -> Path:
    """A tiny text-only run as a --config file, the feature cache kept in the test folder."""
    config = tiny_config(modality="text", epochs=1, feature_cache=str(workdir / "features"))
    path = workdir / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def checkpoint(workdir, dataset, train_config) -> Path:
    """A trained tiny checkpoint, trained after a run for the same --out was killed before its
    first checkpoint: that run left only its staging folder beside --out, and the retry (no
    --resume, no clean-up) removes it."""
    run = workdir / "run"
    killed = workdir / f".run.building-{_dead_pid()}+{_host()}+abc"
    killed.mkdir()
    (killed / "config.json").write_text("{}")
    (killed / "labels.txt").write_text("stale\n")
    argv = ["--dataset", str(dataset), "--out", str(run), "--config", str(train_config), "-q"]
    assert train_main(argv) == 0
    assert (run / "model.safetensors").is_file()
    assert (run / "labels.txt").read_text().splitlines() == ["topic0", "topic1", "topic2"]
    assert not [path for path in workdir.iterdir() if path.name.startswith(".run.")]
    return run


def _dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    probe = subprocess.Popen([sys.executable, "-c", "pass"])
    probe.wait()
    return probe.pid


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "localhost"


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--epochs", "-1"], "epochs must be at least 1, got -1"),
        (["--batch-size", "0"], "batch_size must be at least 1, got 0"),
        (["--set", "epochs=abc"], "epochs must be an integer, got 'abc'"),
        (["--lr", "-5"], "lr must be at least 0, got -5.0"),
        (["--head-lr", "-0.1"], "head_lr must be at least 0"),
        (["--set", "dropout=1.5"], "dropout must be"),
        (["--set", "warmup_ratio=x"], "warmup_ratio must be"),
        (["--set", "compile=maybe"], "compile must be true or false"),
        (["--num-workers", "-2"], "num_workers must be at least 0"),
        (["--init", "pretrained", "--text-encoder", "/nonexistent"], "neither an existing folder"),
        (["--image-weights", "/nonexistent.pth", "--modality", "image"], "no such file"),
        (["--set", "feature_cache=5"], "feature_cache must be null or a string, got 5"),
        (["--set", "image_weights=5"], "image_weights must be null or a string, got 5"),
        (["--set", "random_text.hidden_size=abc"], "random_text.hidden_size must be an integer"),
    ],
)
def test_train_refuses_bad_settings_up_front(flags, needle, tmp_path, dataset, capsys):
    argv = ["--dataset", str(dataset), "--out", str(tmp_path / "run"), *flags]
    line = assert_refused(train_main, argv, capsys, tmp_path, 2, needle)
    assert "huggingface-cli" not in line
    assert not (tmp_path / "run").exists()


def test_train_refuses_bad_places(tmp_path, dataset, capsys):
    (tmp_path / "afile").write_text("x")
    cases = [
        (["--dataset", str(dataset), "--out", str(tmp_path / "afile" / "run")], "is a file"),
        (["--dataset", str(tmp_path / "afile"), "--out", str(tmp_path / "run")], "is a file"),
        (
            ["--dataset", str(tmp_path / "nope"), "--out", str(tmp_path / "run")],
            "dataset directory",
        ),
        (["--dataset", str(tmp_path), "--out", str(tmp_path / "run")], "labels.txt is missing"),
        (
            ["--dataset", str(dataset), "--out", str(tmp_path / "run")]
            + ["--feature-cache", str(tmp_path / "afile" / "cache")],
            "--feature-cache",
        ),
    ]
    if not os.access(UNWRITABLE.parent, os.W_OK):
        cases.append((["--dataset", str(dataset), "--out", str(UNWRITABLE)], "permission denied"))
    for argv, needle in cases:
        assert_refused(train_main, argv, capsys, tmp_path, 2, needle)


def test_failed_run_leaves_no_folder_to_resume(
    tmp_path, dataset, train_config, monkeypatch, capsys
):
    """A run that fails before its first checkpoint removes its folder: the retry is the same
    command, not one that demands --resume."""
    import train.loop

    def fail(*args, **kwargs):
        raise PipelineError("injected failure at the end of the first epoch")

    monkeypatch.setattr(train.loop, "predict_loader", fail)
    argv = [
        "--dataset",
        str(dataset),
        "--out",
        str(tmp_path / "run"),
        "--config",
        str(train_config),
    ]
    before = snapshot(tmp_path)
    code, lines = run_cli(train_main, [*argv, "-q"], capsys)
    assert code == 1
    assert lines == ["hashtag-train: error: injected failure at the end of the first epoch"]
    assert snapshot(tmp_path) == before  # no --out, no staging folder beside it


def test_resume_of_a_folder_without_checkpoint_is_refused(tmp_path, dataset, capsys):
    (tmp_path / "run").mkdir()
    argv = ["--dataset", str(dataset), "--out", str(tmp_path / "run"), "--resume"]
    assert_refused(train_main, argv, capsys, tmp_path, 2, "config.json is missing")
    (tmp_path / "run" / "config.json").write_text("{}")  # not a run: no last/
    assert_refused(train_main, argv, capsys, tmp_path, 2, "last/state.pt is missing")


def test_new_run_refuses_a_folder_with_files(tmp_path, dataset, train_config, capsys):
    """A new run becomes --out whole at its first checkpoint: files already there are never
    replaced or mixed in; an empty folder is fine (see the checkpoint fixture for a new one)."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    argv = ["--dataset", str(dataset), "--out", str(tmp_path / "run")]
    argv += ["--config", str(train_config)]
    assert_refused(train_main, argv, capsys, tmp_path, 2, "is not empty and holds no run")


# ---- damaged checkpoints: hashtag-evaluate and hashtag-serve -----------------------------------


def _remove(path: Path) -> None:
    shutil.rmtree(path) if path.is_dir() else path.unlink()


def _truncate(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


DAMAGE = {
    "no weights": (lambda run: _remove(run / "model.safetensors"), "model.safetensors is missing"),
    "no labels": (lambda run: _remove(run / "labels.txt"), "labels.txt is missing"),
    "no tokenizer": (lambda run: _remove(run / "tokenizer"), "tokenizer/ is missing"),
    "truncated weights": (lambda run: _truncate(run / "model.safetensors"), "model.safetensors"),
    "truncated config": (lambda run: _truncate(run / "config.json"), "config.json is damaged"),
    "no config": (lambda run: _remove(run / "config.json"), "config.json is missing"),
    "labels of another run": (
        lambda run: (run / "labels.txt").write_text("a\nb\n"),
        "names 2 labels but config.json says 3",
    ),
    "weights header garbage": (
        lambda run: (run / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{"),
        "model.safetensors is damaged",
    ),
}


@pytest.fixture(params=list(DAMAGE))
def damaged(request, checkpoint, tmp_path) -> tuple[Path, str]:
    run = tmp_path / "damaged"
    shutil.copytree(checkpoint, run)
    damage, needle = DAMAGE[request.param]
    damage(run)
    return run, needle


def test_the_intact_checkpoint_passes_the_check(checkpoint):
    assert check_checkpoint(checkpoint)["model"]["num_labels"] == 3


def test_evaluate_names_the_damaged_file(damaged, tmp_path, capsys):
    run, needle = damaged
    assert_refused(evaluate_main, ["--checkpoint", str(run)], capsys, tmp_path, 2, needle)


def test_serve_refuses_to_start_on_a_damaged_checkpoint(damaged, tmp_path, capsys):
    run, needle = damaged
    argv = ["--checkpoint", str(run), "--port", "0", "-q"]
    assert_refused(serve_main, argv, capsys, tmp_path, 2, needle)


@pytest.mark.parametrize("size", ["0", "-3"])
def test_evaluate_refuses_a_batch_size_below_one(size, checkpoint, workdir, capsys):
    argv = ["--checkpoint", str(checkpoint), "--batch-size", size]
    assert_refused(evaluate_main, argv, capsys, checkpoint, 2, "batch_size must be at least 1")


@pytest.mark.parametrize(
    ("setting", "needle"),
    [
        ("dataset=5", "dataset must be null or a string, got 5"),
        ("dataset=''", "dataset must be null or a non-empty string, got ''"),
        ("baselines=[5]", "baselines.0 must be a string, got 5"),
        ("baselines=text", "baselines must be a list, got 'text'"),
        ("split=dev", "split must be 'train', 'val' or 'test', got 'dev'"),
    ],
)
def test_evaluate_refuses_settings_of_the_wrong_type(setting, needle, checkpoint, capsys):
    argv = ["--checkpoint", str(checkpoint), "--set", setting]
    assert_refused(evaluate_main, argv, capsys, checkpoint, 2, needle)


def test_evaluate_checks_baseline_checkpoints_first(checkpoint, tmp_path, capsys):
    argv = ["--checkpoint", str(checkpoint), "--baselines", f"other={tmp_path / 'nope'}"]
    assert_refused(evaluate_main, argv, capsys, checkpoint, 2, "baseline other", "does not exist")


def test_serve_with_the_port_in_use_is_one_line_and_exit_1(checkpoint, capsys):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        argv = ["--checkpoint", str(checkpoint), "--port", str(port), "-q"]
        line = assert_refused(serve_main, argv, capsys, checkpoint, 1, "Address already in use")
    assert f"cannot listen on 127.0.0.1:{port}" in line


@pytest.mark.parametrize("host", ["999.1.1.1", "192.0.2.1"])
def test_serve_with_a_host_that_is_not_ours_is_exit_2(host, checkpoint, capsys):
    argv = ["--checkpoint", str(checkpoint), "--host", host, "--port", "0", "-q"]
    assert_refused(serve_main, argv, capsys, checkpoint, 2, "--host is not an address")


def test_drive_unreachable_is_a_502(checkpoint):
    from fastapi.testclient import TestClient

    from serve.app import create_app
    from serve.settings import ServeSettings
    from train.predictor import Predictor

    settings = ServeSettings(drive_base_url="https://drive.invalid/uc", fetch_timeout_s=5)
    with TestClient(create_app(settings, Predictor.load(checkpoint))) as client:
        response = client.get(
            "/predict",
            params={"image_id": "abc123", "text": "hi"},
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 502
    assert "cannot resolve host 'drive.invalid'" in response.text


# ---- hashtag-crawl ----------------------------------------------------------------------------


def test_crawl_refuses_a_base_url_that_is_no_url(tmp_path, capsys):
    argv = ["crawl", "--tag", "x", "--base-url", "notaurl", "--out", str(tmp_path / "out")]
    assert_refused(crawl_main, argv, capsys, tmp_path, 2, "--base-url must be an http")


def test_crawl_checks_out_before_the_browser(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    argv = ["crawl", "--tag", "x", "--out", str(tmp_path / "afile" / "out")]
    assert_refused(crawl_main, argv, capsys, tmp_path, 2, "is a file, not a directory")
    if not os.access(UNWRITABLE.parent, os.W_OK):
        argv = ["crawl", "--tag", "x", "--out", str(UNWRITABLE)]
        assert_refused(crawl_main, argv, capsys, tmp_path, 2, "permission denied")


def test_crawl_demo_checks_the_demo_config_types(tmp_path, capsys):
    argv = ["crawl", "--demo", "--set", "demo.n_posts=abc", "--out", str(tmp_path / "out")]
    assert_refused(crawl_main, argv, capsys, tmp_path, 2, "demo.n_posts must be an integer")


def test_serve_demo_checks_the_config_types(tmp_path, capsys):
    argv = ["serve-demo", "--set", "n_posts=abc"]
    assert_refused(crawl_main, argv, capsys, tmp_path, 2, "n_posts must be an integer, got 'abc'")


@pytest.mark.parametrize(
    ("setting", "needle"),
    [
        ("limit=abc", "limit must be null or an integer, got 'abc'"),
        ("politeness=abc", "politeness must be a mapping"),
        ("politeness.delay_mean_s=x", "politeness.delay_mean_s must be a number, got 'x'"),
    ],
)
def test_crawl_checks_config_types_first(setting, needle, tmp_path, capsys):
    argv = ["crawl", "--tag", "x", "--set", setting, "--out", str(tmp_path / "out")]
    assert_refused(crawl_main, argv, capsys, tmp_path, 2, needle)


def test_parse_of_only_bad_files_writes_nothing(tmp_path, capsys):
    out = tmp_path / "new" / "posts.jsonl"
    before = snapshot(tmp_path)
    assert crawl_main(["parse", str(tmp_path / "nope.html"), "--append-to", str(out), "-q"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_parse_checks_out_first(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    page = tmp_path / "page.json"
    page.write_text("{}")
    argv = ["parse", str(page), "--append-to", str(tmp_path / "afile" / "posts.jsonl")]
    assert_refused(crawl_main, argv, capsys, tmp_path, 2, "is a file, not a directory")


# ---- shared pieces ----------------------------------------------------------------------------


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(capsys):
    for _ in progress_bar(range(1000), desc="work"):
        pass
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines()[-1].startswith("work: 100%")
    assert len(err.splitlines()) <= 12


def test_check_checkpoint_refuses_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        check_checkpoint(tmp_path / "afile")


def test_an_output_place_that_refuses_writes_despite_its_mode_is_refused_up_front(tmp_path, capsys):
    """/proc passes a permission check for root, yet nothing can be created in it: the probe
    file finds that before any work, where the mode bits alone let the job fail at the end."""
    if not Path("/proc").is_dir():
        pytest.skip("no /proc on this machine")
    with pytest.raises(UsageError, match="cannot write into /proc"):
        check_output_dir("/proc/hashtag-test-out")
    argv = ["crawl", "--tag", "x", "--out", "/proc/hashtag-test-out"]
    assert_refused(crawl_main, argv, capsys, tmp_path, 2, "cannot write into /proc")
