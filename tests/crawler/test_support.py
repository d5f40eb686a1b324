"""Crawler support: politeness, targets, cookies files and image downloads (no browser)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from crawler import auth, targets
from crawler.browser import resolve_chromedriver
from crawler.media import ImageDownloader
from crawler.politeness import Politeness
from runtime.errors import PipelineError, RemoteStop, UsageError


def test_delays_are_random_capped_and_average_near_the_mean(paced) -> None:
    polite = paced(delay_mean_s=1.5, delay_max_s=6.0, budget_requests=10**9)
    waits = [polite.wait_turn() for _ in range(2000)]
    assert max(waits) <= 6.0
    assert len(set(waits)) > 1000
    assert 1.2 < sum(waits) / len(waits) < 1.6


def test_no_delay_skips_pauses(fake_time) -> None:
    polite = Politeness({}, no_delay=True, sleep=fake_time.sleep, clock=fake_time.clock)
    assert polite.wait_turn() == 0 and not fake_time.sleeps


def test_sliding_window_budget_waits_for_the_oldest_request_to_expire(fake_time, paced) -> None:
    polite = paced(budget_requests=10, budget_window_s=60, delay_mean_s=0)
    polite.note_requests({"page": 6})
    fake_time.now = 10
    polite.note_requests({"page": 4})
    waited = polite.wait_turn()
    assert waited == pytest.approx(50)  # until the first 6 fall out of the window at t=60
    assert fake_time.now == pytest.approx(60)
    assert polite.wait_turn() == 0


def test_throttled_sleep_honours_retry_after_then_gives_up(paced) -> None:
    polite = paced(backoff_attempts=2, backoff_base_s=5)
    assert polite.throttled(1, "HTTP 429", None, retry_after=70) == 70
    assert 10 <= polite.throttled(2, "HTTP 429", None) <= 12.5
    with pytest.raises(RemoteStop, match=r"throttled \(HTTP 429\): still refused after 2"):
        polite.throttled(3, "HTTP 429", None)


def test_consecutive_failures_stop_the_crawl_and_success_resets() -> None:
    polite = Politeness({"max_consecutive_failures": 3, "stall_pause_s": 0})
    polite.failure("timeout")
    polite.failure("timeout")
    polite.success()
    polite.failure("timeout")
    polite.failure("timeout")
    with pytest.raises(RemoteStop, match="3 consecutive failures"):
        polite.failure("timeout")


def test_zero_mean_delay_means_no_pause(paced) -> None:
    assert paced(delay_mean_s=0).wait_turn() == 0.0


def test_driver_resolution_order_ends_in_a_clear_webdriver_manager_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webdriver_manager.chrome import ChromeDriverManager

    def offline(self: object) -> str:
        raise ConnectionError("Could not reach host. Are you offline?")

    driver = tmp_path / "chromedriver"
    driver.write_text("#!/bin/sh\n", "utf-8")
    driver.chmod(0o755)
    monkeypatch.setattr(ChromeDriverManager, "install", offline)
    assert resolve_chromedriver(str(driver)) == str(driver)
    with pytest.raises(UsageError, match="--chromedriver /absent: no such file"):
        resolve_chromedriver("/absent")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert resolve_chromedriver(None) == str(driver)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(
        PipelineError, match="no chromedriver: pass --chromedriver PATH, .* offline"
    ):
        resolve_chromedriver(None)


def test_targets_are_validated_normalized_and_deduplicated(tmp_path: Path) -> None:
    listing = tmp_path / "targets.txt"
    listing.write_text("tag:Sunset\n#beach  # a comment\n\n@some.user\nprofile:other_user\n")
    found = targets.resolve_targets(["sunset", "東京"], ["nasa"], listing)
    assert [t.source for t in found] == [
        "tag:sunset",
        "tag:東京",
        "profile:nasa",
        "tag:beach",
        "profile:some.user",
        "profile:other_user",
    ]
    assert found[0].path == "/explore/tags/sunset/" and found[2].path == "/nasa/"


@pytest.mark.parametrize(
    ("kind", "name"),
    [("tag", "../etc"), ("tag", "a b"), ("profile", "x/y"), ("profile", "a" * 31), ("tag", "")],
)
def test_illegal_target_names_are_refused(kind: str, name: str) -> None:
    with pytest.raises(UsageError, match="illegal"):
        targets.make_target(kind, name)


def test_bad_line_in_targets_file_names_the_line(tmp_path: Path) -> None:
    listing = tmp_path / "t.txt"
    listing.write_text("tag:ok\nprofile:bad/name\n")
    with pytest.raises(UsageError, match=r"t\.txt:2: illegal profile name"):
        targets.read_targets_file(listing)


def test_shards_partition_the_targets() -> None:
    found = [targets.make_target("tag", f"t{i}") for i in range(50)]
    parts = [targets.shard(found, i, 3) for i in range(3)]
    assert sorted(t.name for part in parts for t in part) == sorted(t.name for t in found)
    assert all(parts)
    with pytest.raises(UsageError):
        targets.parse_shard("3/3")
    assert targets.parse_shard("1/4") == (1, 4)


def test_netscape_and_json_cookie_files(tmp_path: Path) -> None:
    netscape = tmp_path / "cookies.txt"
    netscape.write_text(
        "# Netscape HTTP Cookie File\n"
        ".instagram.com\tTRUE\t/\tTRUE\t2000000000\tsessionid\tabc123\n"
        ".instagram.com\tTRUE\t/\tFALSE\t0\tcsrftoken\txyz\n"
    )
    cookies = auth.load_cookies(netscape)
    assert cookies[0] == {
        "name": "sessionid",
        "value": "abc123",
        "domain": ".instagram.com",
        "path": "/",
        "secure": True,
        "httpOnly": False,
        "expiry": 2000000000,
    }
    exported = tmp_path / "cookies.json"
    exported.write_text(
        '[{"name": "sessionid", "value": "v", "domain": ".instagram.com",'
        ' "expirationDate": 1999999999.5, "httpOnly": true}]'
    )
    assert auth.load_cookies(exported)[0]["expiry"] == 1999999999


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00garbage", "cannot read cookies file"),
        (b"just some words\n", "neither Netscape cookies.txt nor a JSON export"),
        (b'[{"nom": 1}]', "neither Netscape"),
        (b'[{"name": "sessionid", "value": "x", "expiry": "soon"}]', "neither Netscape"),
        (b"[]", "holds no cookies"),
    ],
)
def test_unreadable_cookie_files_are_usage_errors(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "c"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        auth.load_cookies(path)


def test_missing_cookie_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read cookies file"):
        auth.load_cookies(tmp_path / "absent.txt")


def test_login_without_environment_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IG_USERNAME", raising=False)
    monkeypatch.delenv("IG_PASSWORD", raising=False)
    with pytest.raises(UsageError, match="IG_USERNAME and IG_PASSWORD"):
        auth.credentials_from_env()


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


MEDIA_ROUTES = {
    "/ok.jpg": (200, _jpeg()),
    "/expired.jpg": (403, b"URL signature expired"),
    "/gone.jpg": (404, b"not found"),
    "/html.jpg": (200, b"<html>error</html>"),
    "/cut.jpg": (200, _jpeg()[:200]),
}


@pytest.fixture()
def media_server(loopback_site) -> str:
    def answer(path: str) -> tuple[int, str, bytes]:
        status, body = MEDIA_ROUTES.get(path.split("?")[0], (500, b""))
        return status, "image/jpeg", body

    return loopback_site(answer).base_url


def test_image_downloader_names_each_failure(tmp_path: Path, media_server: str) -> None:
    downloader = ImageDownloader(tmp_path, cookies=[{"name": "sessionid", "value": "s"}])
    results = {
        name: downloader.fetch({"shortcode": "C0de_-", "image_url": f"{media_server}/{name}.jpg"})
        for name in ("ok", "expired", "gone", "html", "cut")
    }
    assert results["ok"] == ("images/C0de_-.jpg", None)
    assert (tmp_path / "images" / "C0de_-.jpg").read_bytes() == _jpeg()
    assert results["expired"] == (None, "expired_signature")
    assert results["gone"] == (None, "http_404")
    assert results["html"] == (None, "not_an_image")
    assert results["cut"] == (None, "truncated")
    assert downloader.fetch({"shortcode": "x", "image_url": None}) == (None, "no_image_url")
    assert downloader.failures["expired_signature"] == 1
