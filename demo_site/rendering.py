"""HTML of the demo site, from the templates in ``demo_site/pages/``.

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

from demo_site import payloads
from demo_site.generator import DemoCorpus, DemoPost

TEMPLATES = ("feed", "post", "login", "challenge", "index", "not_found")


def _resource(name: str) -> str:
    return importlib.resources.files("demo_site").joinpath("pages", name).read_text("utf-8")


def script_json(obj: Any) -> str:
    """JSON safe inside a <script> element (no ``</script>`` can close it early)."""
    return json.dumps(obj, ensure_ascii=False).replace("</", "<\\/")


def sjs_blocks(documents: list[dict[str, Any]]) -> str:
    """``<script type="application/json" data-sjs>`` elements, as today's pages carry them."""
    blocks = []
    for document in documents:
        text = script_json(document)
        blocks.append(
            f'<script type="application/json" data-content-len="{len(text.encode())}" '
            f"data-sjs>{text}</script>\n"
        )
    return "".join(blocks)


def additional_data(path: str, payload: dict[str, Any]) -> str:
    """The classic post page's ``window.__additionalDataLoaded('/p/CODE/', {...})`` call."""
    return (
        '<script type="text/javascript">window.__additionalDataLoaded = function (path, data) '
        "{ window.__additionalData = { path: path, data: data }; };</script>\n"
        f"<script type=\"text/javascript\">window.__additionalDataLoaded('{path}', "
        f"{script_json(payload)});</script>"
    )


class PageRenderer:
    """Fills the page templates; one per site, loaded once."""

    def __init__(self) -> None:
        self._templates = {name: string.Template(_resource(f"{name}.html")) for name in TEMPLATES}
        self._css, self._feed_js = _resource("base.css"), _resource("feed.js")

    def _fill(self, name: str, **values: str) -> bytes:
        return self._templates[name].substitute(css=self._css, **values).encode("utf-8")

    def feed_page(
        self,
        base_url: str,
        path: str,
        texts: tuple[str, str, str],
        feed: dict[str, Any],
        embedded: list[dict[str, Any]] | None = None,
    ) -> bytes:
        """A tag, profile, search or reels page whose script scrolls ``feed`` (see feed.js for
        its keys). ``texts`` are the heading, subheading and title; ``embedded`` are Relay
        documents served in ``data-sjs`` blocks, the first page of a 2026 page."""
        heading, subheading, title = texts
        return self._fill(
            "feed",
            title=html.escape(title),
            heading=html.escape(heading),
            subheading=html.escape(subheading),
            canonical=html.escape(base_url + path),
            embedded=sjs_blocks(embedded or []),
            config=script_json(feed),
            script=self._feed_js,
        )

    def post_page(
        self,
        post: DemoPost,
        base_url: str,
        image_url: payloads.ImageUrl,
        data_scripts: str,
    ) -> bytes:
        """A post page; ``data_scripts`` carry its post (:func:`sjs_blocks` in 2026,
        :func:`additional_data` in the classic shapes)."""
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
            data=data_scripts,
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
