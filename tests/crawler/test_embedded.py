"""A crawl takes a target's first page from the data-sjs JSON embedded in its HTML, in Chromium."""

from __future__ import annotations

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


def _answer(path: str) -> tuple[int, str, bytes]:
    name = PAGES.get(path.split("?")[0])
    if name is None:
        return 404, "text/html; charset=utf-8", b"<html><title>Instagram</title></html>"
    return 200, "text/html; charset=utf-8", (FIXTURES / name).read_bytes()


def test_first_page_comes_from_the_embedded_relay_payload(
    loopback_site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served = loopback_site(_answer)
    site = served.base_url
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
    assert [path for path in served.requested if path != "/favicon.ico"] == list(PAGES)
