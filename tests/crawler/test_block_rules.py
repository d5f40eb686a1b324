"""The browser's URL block rules drop image bytes but never the JSON that carries posts."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler import network, parsers
from crawler.browser import BrowserSettings, open_browser
from crawler.network import NetworkTap

MEDIA_INFO_PATH = "/api/v1/media/3300000000000000020/info/"
MEDIA_INFO = (Path(__file__).parent / "fixtures" / "instagram" / "media_info.json").read_text()
# Fetched by the page's script (not <img>, which imagesEnabled=false would stop anyway), so
# only the CDP block rules keep them from the network.
IMAGE_PATHS = ("/p/WebInfo020/media/?size=l", "/media/3300000000000000020.jpg?sig=x")
PAGE = f"""<!doctype html><html><head><title>Instagram</title></head><body><script>
for (const url of {list(IMAGE_PATHS)!r}) fetch(url).catch(() => null);
fetch("{MEDIA_INFO_PATH}").then(r => r.text()).then(t => document.title = "read " + t.length);
</script></body></html>"""


@pytest.mark.parametrize(
    ("url", "blocked"),
    [
        (f"https://www.instagram.com{MEDIA_INFO_PATH}", False),
        ("https://i.instagram.com/api/v1/media/1/info/?ig_sig=1", False),
        ("https://www.instagram.com/api/v1/feed/user/1/", False),
        ("https://www.instagram.com/p/CKsCopzFQH5/media/?size=l", True),
        ("https://scontent-cdg2-1.cdninstagram.com/v/t51.2885-15/e35/1_n.jpg?_nc_ht=x", True),
        ("http://127.0.0.1:8000/media/123_1.jpg?exp=1&sig=ab", True),
    ],
)
def test_block_rules(url: str, blocked: bool) -> None:
    assert network._blocked(url) is blocked


class _Site(http.server.BaseHTTPRequestHandler):
    requested: list[str] = []

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.requested.append(self.path)
        if self.path == "/":
            body, kind = PAGE, "text/html; charset=utf-8"
        elif self.path == MEDIA_INFO_PATH:
            body, kind = MEDIA_INFO, "application/json; charset=utf-8"
        else:
            body, kind = "image bytes", "image/jpeg"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def site() -> Iterator[str]:
    _Site.requested = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
def test_media_info_json_reaches_the_crawler_while_images_stay_blocked(
    chromium_ready: None, site: str
) -> None:
    with open_browser(BrowserSettings()) as driver:
        tap = NetworkTap(driver, site)
        driver.get(site + "/")
        responses: list[network.Response] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            r.url.endswith(MEDIA_INFO_PATH) for r in responses
        ):
            responses += tap.drain()
            time.sleep(0.2)
    (info,) = [r for r in responses if r.url.endswith(MEDIA_INFO_PATH)]
    (record,) = parsers.parse_text(info.body, "tag:alps", site).records
    assert record["shortcode"] == "WebInfo020"
    assert MEDIA_INFO_PATH in _Site.requested
    assert not set(_Site.requested) & {path for path in IMAGE_PATHS}
