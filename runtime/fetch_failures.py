"""The names an image download's failure is counted under, shared by the crawler and the build.

``crawler.media`` (``--download-images``) and ``preprocess.image_fetch`` (the dataset's image
stage) fetch the same Instagram media URLs; naming their failures by one rule keeps the
crawl's and the build's stats comparable (``expired_signature`` means the same thing in both).
"""

from __future__ import annotations

import requests
import urllib3.exceptions

#: How much of a 403 body is read to tell an expired signed URL from other refusals.
ERROR_BODY_PEEK_BYTES = 4096
EXPIRED_SIGNATURE_MARK = b"URL signature expired"


def status_reason(status: int, body_start: bytes) -> str:
    """``http_<status>``, except a 403 whose body says the signed URL expired."""
    if status == 403 and EXPIRED_SIGNATURE_MARK in body_start:
        return "expired_signature"
    return f"http_{status}"


def exception_reason(exc: requests.RequestException) -> str:
    """``timeout``, ``redirect_loop``, ``bad_url`` or ``connection``: why no answer came."""
    if isinstance(exc, requests.Timeout) or _wraps_timeout(exc):
        return "timeout"
    if isinstance(exc, requests.TooManyRedirects):
        return "redirect_loop"
    if isinstance(
        exc,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ),
    ):
        return "bad_url"
    return "connection"


def _wraps_timeout(exc: requests.RequestException) -> bool:
    """Whether requests hid a timeout inside a ``ConnectionError``.

    It does so for a read timeout once retries are exhausted (``MaxRetryError`` whose reason
    is the timeout) and for one raised while streaming the body. A refused connection is a
    ``NewConnectionError``, which urllib3 derives from its timeout class for old callers.
    """
    for inner in exc.args:
        cause = getattr(inner, "reason", inner)
        if isinstance(cause, urllib3.exceptions.TimeoutError) and not isinstance(
            cause, urllib3.exceptions.NewConnectionError
        ):
            return True
    return False
