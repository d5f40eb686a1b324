"""The demo site's media (signed, expiring image URLs, with the CDN's faults) and its
out-of-band helpers (robots.txt, the tag list, a Google Drive-like download)."""

from __future__ import annotations

import re
from http import HTTPStatus

from demo_site.routes.base import Routes

BROKEN_MEDIA_BODY = (
    b"<!DOCTYPE html><html><body><h1>Sorry, something went wrong.</h1></body></html>"
)
_THUMBNAIL = re.compile(r"^s(\d+)x\d+$")


class MediaRoutes(Routes):
    """Images and the helpers scripts use; never blocked."""

    def _out_of_band(self, path: str) -> None:
        """Helpers for scripts (readiness probe, tag list): never blocked, never counted as
        page or XHR, so they leave a crawl's request budget alone."""
        self.site.count("other")
        if path == "/robots.txt":
            return self._send(
                HTTPStatus.OK,
                b"# Instagram-shaped demo site\nUser-agent: *\nAllow: /\n",
                "text/plain; charset=utf-8",
            )
        corpus = self.site.corpus
        return self._json(
            {
                "tags": corpus.tags(),
                "posts": {tag: len(corpus.tag_posts(tag)) for tag in corpus.tags()},
                "n_posts": len(corpus),
                "status": "ok",
            }
        )

    def _drive_download(self, file_id: str) -> None:
        """Google Drive's public download endpoint (``/uc?export=download&id=...``) with post
        shortcodes as file ids, so the original project's ``/predict?image_id=`` form works
        offline in the demo. Out of band like the helpers above."""
        self.site.count("other")
        post = self.site.corpus.by_shortcode(file_id)
        if post is None:
            return self._not_found()
        return self._send(
            HTTPStatus.OK,
            self.site.corpus.render_image(post.index, 0, None),
            "image/jpeg",
            {"Content-Disposition": f'attachment; filename="{file_id}.jpg"'},
        )

    def _media(self, path: str, match: re.Match[str], query: dict[str, str]) -> None:
        site = self.site
        site.count("media")
        refusal = site.signer.refusal(path, query)
        if refusal:
            site.count("media_403")
            return self._send(HTTPStatus.FORBIDDEN, refusal.encode(), "text/plain; charset=utf-8")
        index = site.corpus.index_of_pk(int(match.group(1)))
        n = int(match.group(2) or 0)
        if index is None or n >= site.corpus.post(index).n_images:
            return self._not_found()
        fault = site.media_fault(index, n)
        if fault == "non_image":  # an error page labelled as a JPEG, as CDNs sometimes send
            site.count("media_non_image")
            return self._send(HTTPStatus.OK, BROKEN_MEDIA_BODY, "image/jpeg")
        thumbnail = _THUMBNAIL.match(query.get("stp", ""))
        body = site.corpus.render_image(index, n, int(thumbnail.group(1)) if thumbnail else None)
        if fault == "truncated":
            site.count("media_truncated")
            body = body[: len(body) // 2]
        return self._send(
            HTTPStatus.OK, body, "image/jpeg", {"Cache-Control": "private, max-age=600"}
        )
