"""HTML of the demo site, from the templates in ``crawler/demo/pages/``.

Values are HTML-escaped here and JSON is made safe for ``<script>``, so templates stay plain
``string.Template`` files (no ``{}`` clash with the inline JavaScript and CSS).
"""

from __future__ import annotations

import html
import importlib.resources
import json
import string
import urllib.parse
from typing import Any

from crawler.demo import payloads
from crawler.demo.generator import DemoCorpus, DemoPost

TEMPLATES = ("feed", "post", "login", "challenge", "index", "not_found")


def _resource(name: str) -> str:
    return importlib.resources.files("crawler.demo").joinpath("pages", name).read_text("utf-8")


def script_json(obj: Any) -> str:
    """JSON safe inside a <script> element (no ``</script>`` can close it early)."""
    return json.dumps(obj, ensure_ascii=False).replace("</", "<\\/")


class PageRenderer:
    """Fills the page templates; one per site, loaded once."""

    def __init__(self) -> None:
        self._templates = {name: string.Template(_resource(f"{name}.html")) for name in TEMPLATES}
        self._css, self._feed_js = _resource("base.css"), _resource("feed.js")

    def _fill(self, name: str, **values: str) -> bytes:
        return self._templates[name].substitute(css=self._css, **values).encode("utf-8")

    def feed_shell(
        self,
        base_url: str,
        path: str,
        feed: str,
        heading: str,
        subheading: str,
        title: str,
        start: str | None = None,
    ) -> bytes:
        """A tag or profile page: no posts inline; its script scrolls ``feed`` from ``start``
        (the page's own ``?max_id=``, which is how a crawler resumes mid-feed)."""
        return self._fill(
            "feed",
            title=html.escape(title),
            heading=html.escape(heading),
            subheading=html.escape(subheading),
            canonical=base_url + path,
            config=script_json({"feed": feed, "start": start}),
            script=self._feed_js,
        )

    def post_page(self, post: DemoPost, base_url: str, image_url: payloads.ImageUrl) -> bytes:
        path = f"/p/{post.shortcode}/"
        caption = post.caption.replace("\n", " ")
        return self._fill(
            "post",
            title=html.escape(f'{post.owner_full_name} on Instagram: "{caption}"'),
            description=html.escape(payloads.og_description(post)),
            image=html.escape(image_url(post, 0, None)),
            canonical=base_url + path,
            pk=post.pk,
            owner=html.escape(post.owner),
            width=str(post.width),
            height=str(post.height),
            path=path,
            data=script_json(payloads.shortcode_media(post, image_url)),
        )

    def index(self, corpus: DemoCorpus) -> bytes:
        links = "".join(
            f'<li><a href="/explore/tags/{urllib.parse.quote(tag)}/">'
            f"#{html.escape(tag)}</a> ({len(corpus.tag_posts(tag))})</li>"
            for tag in corpus.tags()
        )
        return self._fill(
            "index", tags=links, summary=f"{len(corpus)} posts, {len(corpus.tags())} tags"
        )

    def login(self, base_url: str, next_path: str, error: str = "") -> bytes:
        return self._fill(
            "login",
            canonical=f"{base_url}/accounts/login/",
            next=html.escape(next_path),
            error=html.escape(error),
        )

    def challenge(self, base_url: str) -> bytes:
        return self._fill("challenge", canonical=f"{base_url}/challenge/")

    def not_found(self) -> bytes:
        return self._fill("not_found")
