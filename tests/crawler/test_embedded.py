"""A crawl takes a target's first page from the data-sjs JSON embedded in its HTML, in Chromium."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.cli import main
from runtime.files import iter_jsonl

FIXTURES = Path(__file__).parent / "fixtures" / "instagram"
PAGES = {  # path -> a 2025-style page whose posts are only in its data-sjs Relay payload
    "/explore/tags/sunset/": "tag_page_sjs.html",
    "/bo_trails/": "profile_page_sjs.html",
}

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium_ready")]


class _Site(http.server.BaseHTTPRequestHandler):
    requested: list[str] = []

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.requested.append(self.path)
        name = PAGES.get(self.path.split("?")[0])
        body = (FIXTURES / name).read_bytes() if name else b"<html><title>Instagram</title></html>"
        self.send_response(200 if name else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def site() -> Iterator[str]:
    _Site.requested = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_first_page_comes_from_the_embedded_relay_payload(
    site: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "crawl"
    argv = ["--tag", "sunset", "--profile", "bo_trails", "--per-target", "3"]
    code = main(["crawl", "--no-delay", "--quiet", "--base-url", site, "--out", str(out), *argv])
    assert code == 0, capsys.readouterr().err
    records = [record for _, record, _ in iter_jsonl(out / "posts.jsonl")]
    by_source = {
        source: [r["shortcode"] for r in records if r["source"] == source]
        for source in ("tag:sunset", "profile:bo_trails")
    }
    assert by_source == {
        "tag:sunset": ["TagTop0001", "TagCar0002", "TagClp0003"],
        "profile:bo_trails": ["Prof0001", "Prof0002", "Prof0003"],
    }
    assert records[0]["url"] == f"{site}/p/TagTop0001/"
    assert [path for path in _Site.requested if path != "/favicon.ico"] == list(PAGES)
