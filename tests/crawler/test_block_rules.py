"""The browser's URL block rules drop image bytes but never the JSON that carries posts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from crawler import network, parsers
from crawler.browser import open_browser
from crawler.network import NetworkTap
from crawler.settings import BrowserSettings

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


def _answer(path: str) -> tuple[int, str, bytes]:
    if path == "/":
        return 200, "text/html; charset=utf-8", PAGE.encode()
    if path == MEDIA_INFO_PATH:
        return 200, "application/json; charset=utf-8", MEDIA_INFO.encode()
    return 200, "image/jpeg", b"image bytes"


@pytest.mark.browser
def test_media_info_json_reaches_the_crawler_while_images_stay_blocked(
    chromium_ready: None, loopback_site
) -> None:
    served = loopback_site(_answer)
    site = served.base_url
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
    assert MEDIA_INFO_PATH in served.requested
    assert not set(served.requested) & {path for path in IMAGE_PATHS}
