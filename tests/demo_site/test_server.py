"""The demo site over real HTTP: feeds, post pages, media, every failure mode, and a browser.

These run the "classic" shapes (page shells that fetch every page from the v1 feeds); the
2026 shapes are in test_demo_shapes.py.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image

from crawler.browser import open_browser
from crawler.settings import BrowserSettings
from demo_site import cli as demo_cli
from demo_site.generator import DemoCorpus
from demo_site.server import DemoSite
from runtime.errors import UsageError, run_main
from runtime.records import PostRecord

CLASSIC = {"shapes": "classic"}


@pytest.fixture(scope="module")
def corpus() -> DemoCorpus:
    return DemoCorpus(seed=11, n_posts=3_000)


@pytest.fixture(scope="module")
def site(corpus: DemoCorpus) -> Iterator[DemoSite]:
    with DemoSite(corpus, CLASSIC) as running:
        yield running


@contextmanager
def serving(corpus: DemoCorpus, **config: Any) -> Iterator[DemoSite]:
    """A fresh site (fresh counters) with some failure modes switched on."""
    with DemoSite(corpus, CLASSIC | config) as running:
        yield running


def _medias(payload: dict[str, Any]) -> list[dict[str, Any]]:
    if "sections" in payload:
        return [m["media"] for s in payload["sections"] for m in s["layout_content"]["medias"]]
    return payload["items"]


def _walk_feed(base_url: str, feed_path: str) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        params = {"max_id": cursor} if cursor else None
        payload = requests.get(base_url + feed_path, params=params, timeout=10).json()
        assert payload["status"] == "ok"
        pages.append(_medias(payload))
        cursor = payload["next_max_id"]
        assert payload["more_available"] == (cursor is not None)
        if not payload["more_available"]:
            return pages


def _post_page_data(page: str) -> tuple[str, dict[str, Any]]:
    description = re.search(r'<meta property="og:description" content="([^"]*)"', page)
    data = re.search(r"window\.__additionalDataLoaded\('[^']+', (.*)\);</script>", page)
    assert description and data
    return html.unescape(description.group(1)), json.loads(data.group(1))


def test_tag_feed_pages_cover_the_tags_posts_exactly_once(
    site: DemoSite, corpus: DemoCorpus
) -> None:
    tag = next(t for t in corpus.tags() if 60 < len(corpus.tag_posts(t)) < 400)
    shell = requests.get(f"{site.base_url}/explore/tags/{tag}/", timeout=10)
    assert shell.status_code == 200 and "/api/v1/tags/" in shell.text
    assert "shortcode" not in shell.text  # the shell holds no posts; the feed brings them
    pages = _walk_feed(site.base_url, f"/api/v1/tags/{tag}/sections/")
    assert all(len(page) == 24 for page in pages[:-1]) and 1 <= len(pages[-1]) <= 24
    codes = [m["code"] for page in pages for m in page]
    assert codes == [corpus.post(i).shortcode for i in corpus.tag_posts(tag)]


def test_profile_feed_pages_cover_the_users_posts(site: DemoSite, corpus: DemoCorpus) -> None:
    user = max(corpus.profiles(), key=lambda u: len(corpus.profile_posts(u)))
    assert requests.get(f"{site.base_url}/{user}/", timeout=10).status_code == 200
    pages = _walk_feed(site.base_url, f"/api/v1/feed/user/{user}/")
    codes = [m["code"] for page in pages for m in page]
    assert codes == [corpus.post(i).shortcode for i in corpus.profile_posts(user)]


def test_feed_media_and_post_page_agree_with_the_expected_record(
    expected_record: Callable[..., PostRecord], site: DemoSite, corpus: DemoCorpus
) -> None:
    carousel = next(i for i in range(3_000) if corpus.post(i).is_carousel)
    for index in (0, 1, carousel):
        post = corpus.post(index)
        expected = expected_record(corpus, index, site.base_url, "profile:x")
        feed = requests.get(f"{site.base_url}/api/v1/feed/user/{post.owner}/", timeout=10).json()
        media = next(m for m in feed["items"] if m["code"] == post.shortcode)
        assert media["caption"]["text"] == expected["caption"]
        assert media["user"]["username"] == expected["owner"]
        assert media["pk"] == expected["post_id"] and media["taken_at"] == post.taken_at
        first = media["image_versions2"]["candidates"][0]
        assert first["url"].split("?")[0] == expected["image_url"]
        assert (first["width"], first["height"]) == (expected["width"], expected["height"])
        if post.is_carousel:
            urls = [
                c["image_versions2"]["candidates"][0]["url"].split("?")[0]
                for c in media["carousel_media"]
            ]
            assert media["media_type"] == 8 and urls == expected["image_urls"]

        page = requests.get(expected["url"], timeout=10)
        assert page.status_code == 200
        description, data = _post_page_data(page.text)
        assert description.startswith(
            f"{post.likes:,} likes, {post.comments:,} comments - {post.owner} on "
        )
        assert description.endswith(f': "{post.caption}"')
        node = data["graphql"]["shortcode_media"]
        assert node["shortcode"] == post.shortcode
        assert node["edge_media_to_caption"]["edges"][0]["node"]["text"] == post.caption
        assert node["display_url"].split("?")[0] == expected["image_url"]
        assert f"instagram://media?id={post.pk}" in page.text
        assert f'<link rel="canonical" href="{expected["url"]}">' in page.text


def test_media_is_a_signed_jpeg_of_the_advertised_size(site: DemoSite, corpus: DemoCorpus) -> None:
    feed = requests.get(
        f"{site.base_url}/api/v1/feed/user/{corpus.profiles()[0]}/", timeout=10
    ).json()
    full, thumb = feed["items"][0]["image_versions2"]["candidates"]
    for candidate in (full, thumb):
        response = requests.get(candidate["url"], timeout=10)
        assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"
        image = Image.open(io.BytesIO(response.content))
        assert image.size == (candidate["width"], candidate["height"])
    forged = re.sub(r"sig=[0-9a-f]+", "sig=" + "0" * 32, full["url"])
    refused = requests.get(forged, timeout=10)
    assert refused.status_code == 403 and refused.text == "Bad URL signature"


def test_unknown_pages_and_bad_cursors_are_refused(site: DemoSite) -> None:
    base = site.base_url
    assert requests.get(f"{base}/explore/tags/nosuchtag/", timeout=10).status_code == 404
    assert requests.get(f"{base}/p/AAAAAAAAAAA/", timeout=10).status_code == 404
    assert requests.get(f"{base}/api/v1/tags/nosuchtag/sections/", timeout=10).status_code == 404
    tag = site.corpus.tags()[0]
    bad = requests.get(f"{base}/api/v1/tags/{tag}/sections/?max_id=zzz", timeout=10)
    assert bad.status_code == 400 and bad.json()["status"] == "fail"
    helper = requests.get(f"{base}/api/demo/tags", timeout=10).json()
    assert helper["tags"] == site.corpus.tags()


def test_rate_limit_answers_429_bursts_with_retry_after(corpus: DemoCorpus) -> None:
    with serving(corpus, rate_limit={"every": 2, "burst": 2, "retry_after": 7}) as site:
        url = f"{site.base_url}/api/v1/tags/{corpus.tags()[0]}/sections/"
        statuses = [requests.get(url, timeout=10) for _ in range(6)]
        assert [r.status_code for r in statuses] == [200, 200, 429, 429, 200, 200]
        limited = statuses[2]
        assert limited.headers["Retry-After"] == "7"
        assert limited.json() == {
            "message": "Please wait a few minutes before you try again.",
            "status": "fail",
        }
        assert site.counters["status_429"] == 2 and site.counters["xhr"] == 6


def test_login_wall_redirects_anonymous_visitors_but_not_sessions(corpus: DemoCorpus) -> None:
    with serving(corpus, login_wall_after=2) as site:
        path = f"/explore/tags/{corpus.tags()[0]}/"
        anonymous = requests.Session()
        for _ in range(2):
            assert anonymous.get(site.base_url + path, timeout=10).status_code == 200
        walled = anonymous.get(site.base_url + path, allow_redirects=False, timeout=10)
        assert walled.status_code == 302
        assert (
            walled.headers["Location"]
            == "/accounts/login/?next=%2Fexplore%2Ftags%2F" + f"{corpus.tags()[0]}%2F"
        )
        login_page = anonymous.get(site.base_url + walled.headers["Location"], timeout=10)
        assert 'name="username"' in login_page.text and 'type="password"' in login_page.text
        assert (
            requests.get(
                site.base_url + path, cookies={"sessionid": "anything"}, timeout=10
            ).status_code
            == 200
        )
        logged = anonymous.post(
            f"{site.base_url}/accounts/login/",
            allow_redirects=False,
            data={"username": "demo", "password": "pw", "next": path},
            timeout=10,
        )
        assert logged.status_code == 302 and logged.headers["Location"] == path
        assert anonymous.cookies.get("sessionid")
        assert anonymous.get(site.base_url + path, timeout=10).status_code == 200
        assert site.counters["login_redirects"] == 1


def test_challenge_redirects_everyone_after_n_requests(corpus: DemoCorpus) -> None:
    with serving(corpus, challenge_after=1) as site:
        feed = f"{site.base_url}/api/v1/tags/{corpus.tags()[0]}/sections/"
        assert requests.get(feed, timeout=10).status_code == 200
        blocked = requests.get(feed, cookies={"sessionid": "x"}, allow_redirects=False, timeout=10)
        assert blocked.status_code == 302 and blocked.headers["Location"].startswith("/challenge/")
        page = requests.get(site.base_url + blocked.headers["Location"], timeout=10)
        assert page.status_code == 200 and "Challenge" in page.text


def test_expired_media_urls_are_refused(corpus: DemoCorpus) -> None:
    now = [1_800_000_000.0]
    with DemoSite(corpus, {"media_ttl_seconds": 60}, clock=lambda: now[0]) as site:
        feed = requests.get(
            f"{site.base_url}/api/v1/tags/{corpus.tags()[0]}/sections/", timeout=10
        ).json()
        url = _medias(feed)[0]["image_versions2"]["candidates"][0]["url"]
        now[0] += 59
        assert requests.get(url, timeout=10).status_code == 200
        now[0] += 2
        expired = requests.get(url, timeout=10)
        assert expired.status_code == 403 and expired.text == "URL signature expired"
        assert site.counters["media_403"] == 1


def test_truncated_and_non_image_media(corpus: DemoCorpus) -> None:
    for mode in ("truncated_media_rate", "non_image_media_rate"):
        with serving(corpus, **{mode: 1.0}) as site:
            feed = requests.get(
                f"{site.base_url}/api/v1/tags/{corpus.tags()[0]}/sections/", timeout=10
            ).json()
            url = _medias(feed)[0]["image_versions2"]["candidates"][0]["url"]
            response = requests.get(url, timeout=10)
            assert response.status_code == 200
            assert response.headers["Content-Type"] == "image/jpeg"
            with pytest.raises(OSError):
                Image.open(io.BytesIO(response.content)).load()
            if mode == "non_image_media_rate":
                assert response.content.startswith(b"<!DOCTYPE html>")


def test_deleted_posts_stay_in_feeds_but_their_page_is_gone(corpus: DemoCorpus) -> None:
    with serving(corpus, deleted_rate=0.5) as site:
        tag = corpus.tags()[0]
        feed = requests.get(f"{site.base_url}/api/v1/tags/{tag}/sections/", timeout=10).json()
        codes = [m["code"] for m in _medias(feed)]
        assert codes == [corpus.post(i).shortcode for i in corpus.tag_posts(tag)[:24]]
        statuses = {
            corpus.by_shortcode(code).index: requests.get(
                f"{site.base_url}/p/{code}/", timeout=10
            ).status_code
            for code in codes
        }
        assert {site.is_deleted(i) for i in statuses} == {True, False}
        assert all((status == 404) == site.is_deleted(i) for i, status in statuses.items())


def test_counters_add_up_under_concurrent_requests(corpus: DemoCorpus) -> None:
    with serving(corpus) as site:
        url = f"{site.base_url}/explore/tags/{corpus.tags()[0]}/"
        with ThreadPoolExecutor(8) as pool:
            statuses = list(
                pool.map(lambda _: requests.get(url, timeout=10).status_code, range(40))
            )
        assert statuses == [200] * 40
        post = corpus.post(corpus.tag_posts(corpus.tags()[0])[0])
        assert requests.get(f"{site.base_url}/p/{post.shortcode}/", timeout=10).ok
        counters = site.counters
        assert (counters["pages"], counters["post_pages"], counters["xhr"]) == (40, 1, 0)
        assert counters["logins"] == counters["status_429"] == 0


def test_bad_config_is_rejected(corpus: DemoCorpus) -> None:
    with pytest.raises(UsageError, match="bad demo config: page_size must be at least 1"):
        DemoSite(corpus, {"page_size": 0})
    with pytest.raises(UsageError, match="deleted_rate must be at most 1"):
        DemoSite(corpus, {"deleted_rate": 2})


def _serve_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hashtag-crawl")
    demo_cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve-demo", *argv])


def test_serve_demo_cli_serves_until_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()
    stop.set()  # serve, print the address, then stop at once
    args = _serve_args("--set", "n_posts=200", "--quiet")
    assert run_main(lambda: demo_cli.serve_demo(args, stop), "hashtag-crawl") == 0
    assert re.search(r"demo site: http://127\.0\.0\.1:\d+/ +\(200 posts", capsys.readouterr().out)


@pytest.mark.parametrize(
    ("argv", "message", "code"),
    [
        (["--set", "page_size=0"], "page_size must be at least 1, got 0", 2),
        (["--set", "n_topics=99"], "n_topics must be at most 40, got 99", 2),
        (["--port", "70000"], "port must be at most 65535, got 70000", 2),
        (["--set", "port=http"], "port must be an integer, got 'http'", 2),
    ],
)
def test_serve_demo_cli_bad_config(
    argv: list[str], message: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _serve_args(*argv, "--set", "n_posts=50", "--quiet")
    assert run_main(lambda: demo_cli.serve_demo(args, threading.Event()), "hashtag-crawl") == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_serve_demo_cli_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = _serve_args("--port", str(port), "--set", "n_posts=50", "--quiet")
        assert run_main(lambda: demo_cli.serve_demo(args, threading.Event()), "hashtag-crawl") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err


@contextmanager
def _chromium() -> Iterator[Any]:
    """The crawler's own headless Chromium (offline-safe flags, media blocked)."""
    with open_browser(BrowserSettings()) as driver:
        yield driver


def _tiles(driver: Any) -> int:
    return len(driver.find_elements("css selector", "#grid a[href^='/p/']"))


@pytest.mark.browser
def test_headless_chromium_scrolls_the_tag_grid(chromium_ready: None, site: DemoSite) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    tag = max(site.corpus.tags()[:20], key=lambda t: len(site.corpus.tag_posts(t)))
    with _chromium() as driver:
        driver.get(f"{site.base_url}/explore/tags/{tag}/")
        WebDriverWait(driver, 30).until(lambda d: _tiles(d) >= 24)
        for _ in range(2):
            seen = _tiles(driver)
            driver.execute_script("window.scrollTo(0, document.body.scrollHeight);")
            WebDriverWait(driver, 30).until(lambda d, seen=seen: _tiles(d) > seen)
        assert _tiles(driver) >= 48


@pytest.mark.browser
def test_headless_chromium_lands_on_the_login_wall(
    chromium_ready: None, corpus: DemoCorpus
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    with serving(corpus, login_wall_after=2) as site, _chromium() as driver:
        driver.get(f"{site.base_url}/explore/tags/{corpus.tags()[0]}/")  # request 1, XHR 2
        WebDriverWait(driver, 30).until(lambda d: _tiles(d) >= 24)
        driver.execute_script("window.scrollTo(0, document.body.scrollHeight);")  # XHR 3
        WebDriverWait(driver, 30).until(lambda d: "/accounts/login/" in d.current_url)
        assert urlsplit(driver.current_url).path == "/accounts/login/"
        # the wall is the login form itself, shown, not a feed page with a login link
        assert driver.find_element("name", "username").is_displayed()
        assert driver.find_element("name", "password").get_attribute("type") == "password"
        assert _tiles(driver) == 0


@pytest.mark.parametrize(
    "inherited",
    [signal.default_int_handler, signal.SIG_IGN],
    ids=["from-a-terminal", "started-in-the-background"],
)
def test_serve_demo_command_stops_cleanly_on_ctrl_c(inherited: Any) -> None:
    """SIGINT stops serve-demo with exit 0, also when it was started with SIGINT ignored, as a
    shell starts a background job (``hashtag-crawl serve-demo &`` in a script)."""
    previous = signal.signal(signal.SIGINT, inherited)  # what the child starts with
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "crawler", "serve-demo", "--set", "n_posts=300", "--quiet"],
            stdout=subprocess.PIPE,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        line = process.stdout.readline()
        base_url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        assert requests.get(f"{base_url}/robots.txt", timeout=10).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()


def test_drive_shaped_download_serves_a_posts_image_by_shortcode(
    site: DemoSite, corpus: DemoCorpus
) -> None:
    post = corpus.post(5)
    response = requests.get(
        f"{site.base_url}/uc", params={"export": "download", "id": post.shortcode}, timeout=10
    )
    assert response.status_code == 200
    assert response.content == corpus.render_image(5, 0, None)
    missing = requests.get(f"{site.base_url}/uc", params={"id": "nope"}, timeout=10)
    assert missing.status_code == 404


def test_a_client_hanging_up_is_no_traceback_but_other_errors_still_are(capsys) -> None:
    from demo_site.routes import Handler
    from demo_site.server import _Server

    server = _Server(("127.0.0.1", 0), Handler)
    try:
        for error, shown in (
            (ConnectionResetError(104, "reset by peer"), False),
            (KeyError("x"), True),
        ):
            try:
                raise error
            except Exception:  # noqa: BLE001 - handle_error reads the exception being handled
                server.handle_error(None, ("127.0.0.1", 1))
            assert ("Traceback" in capsys.readouterr().err) is shown
    finally:
        server.server_close()
