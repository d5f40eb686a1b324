"""``hashtag-crawl crawl`` bad input: one line on stderr and exit 2, before any browser starts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from crawler.cli import main


def _crawl(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["crawl", "--quiet", *args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tag", "cats", "--cookies", "{missing}"], "cannot read cookies file"),
        (["--tag", "cats", "--cookies", "{garbage}"], "neither Netscape cookies.txt nor a JSON"),
        (["--tag", "cats", "--no-delay"], "--no-delay is for a loopback demo site only"),
        (
            ["--tag", "cats", "--no-delay", "--base-url", "http://example.com"],
            "--no-delay is for a loopback demo site only, not http://example.com",
        ),
        (["--tag", "cats/../../etc"], "illegal tag name"),
        (["--profile", "no spaces"], "illegal profile name"),
        (["--tag", "cats", "--shard", "3/2"], "--shard expects i/n"),
        (["--tag", "cats", "--limit", "0"], "limit must be null or at least 1, got 0"),
        ([], "nothing to crawl"),
        (
            ["--tag", "cats", "--set", "politeness.delay_mean_s=slow"],
            "politeness.delay_mean_s must be a number, got 'slow'",
        ),
        (
            ["--tag", "cats", "--set", "politeness.budget_requests=-1"],
            "politeness.budget_requests must be at least 0, got -1",
        ),
        (["--tag", "cats", "--set", "politeness.delay=1"], "unknown config key politeness.delay"),
        (
            ["--tag", "cats", "--set", "crawl.idle_scrolls=many"],
            "crawl.idle_scrolls must be an integer, got 'many'",
        ),
        (
            ["--tag", "cats", "--set", "browser.page_load_timeout_s=x"],
            "browser.page_load_timeout_s must be a number, got 'x'",
        ),
        (["--tag", "cats", "--set", "crawl.post_page_for=[5]"], "crawl.post_page_for.0 must"),
        (["--tag", "cats", "--demo", "--set", "demo.shapes=2019"], "demo.shapes must be '2026'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    garbage = tmp_path / "cookies.txt"
    garbage.write_text("this is not a cookie file\n", "utf-8")
    filled = [a.format(missing=tmp_path / "missing.txt", garbage=garbage) for a in args]
    filled += ["--out", str(tmp_path / "out")]

    code, err = _crawl(capsys, *filled)

    assert code == 2
    assert err.count("\n") == 1 and err.startswith("hashtag-crawl: error: ")
    assert message in err
    assert not (tmp_path / "out" / "posts.jsonl").exists()


def test_login_without_credentials_in_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IG_USERNAME", raising=False)
    monkeypatch.delenv("IG_PASSWORD", raising=False)
    code, err = _crawl(capsys, "--tag", "cats", "--login", "--out", str(tmp_path))
    assert code == 2
    assert err == (
        "hashtag-crawl: error: --login needs IG_USERNAME and IG_PASSWORD in the environment\n"
    )


@pytest.mark.parametrize("command", ["crawl", "parse", "serve-demo"])
def test_every_subcommand_is_registered(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert f"hashtag-crawl {command}" in capsys.readouterr().out


def test_unreachable_selenium_grid_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a free port: nothing listens there once closed
        probe.bind(("127.0.0.1", 0))
        hub = f"http://127.0.0.1:{probe.getsockname()[1]}"
    code, err = _crawl(capsys, "--tag", "cats", "--remote-url", hub, "--out", str(tmp_path / "out"))
    assert code == 1
    assert err.splitlines()[-1].startswith(
        f"hashtag-crawl: error: cannot reach the Selenium Grid at {hub}: "
    )


def test_bad_demo_value_leaves_no_output_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value only the demo site can judge (n_topics 1..40) is refused before OUT exists."""
    out = tmp_path / "out"

    code, err = _crawl(capsys, "--demo", "--set", "demo.n_topics=99", "--out", str(out))

    assert code == 2
    assert err.count("\n") == 1 and "demo.n_topics must be at most 40, got 99" in err
    assert not out.exists()
