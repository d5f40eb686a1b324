"""Getting a request's image safely: Google Drive ids, arbitrary URLs, and decoding bytes.

The original project fetched ``drive.google.com/uc?id=<image_id>`` and wrote it to
``static/<image_id>.jpg`` (path traversal through the id). Here nothing touches the disk: bytes
are fetched into memory under a size cap, and every hop of a fetch (the first URL and each
redirect) is resolved by DNS, checked against the address policy, and then connected to *that*
checked address, so a DNS answer that changes between the check and the connection cannot reach
a private host. Whether the bytes are an image we take is :mod:`runtime.image_policy`'s call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import ipaddress
import re
import socket
import ssl
from collections.abc import Awaitable
from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import httpx
from PIL import Image

from runtime import image_policy, image_prep
from serve.errors import RequestFailed

if TYPE_CHECKING:
    from serve.settings import ServeSettings

DRIVE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
DRIVE_ID_PATTERN = DRIVE_ID.pattern
PREVIEW_SIDE = 512
PREVIEW_QUALITY = 85


@dataclasses.dataclass(frozen=True)
class FetchPolicy:
    """Limits applied to every outgoing fetch (values: configs/serve.yaml via ServeSettings)."""

    allow_private: bool
    timeout_s: float
    max_bytes: int
    max_redirects: int


def decode_image(data: bytes, max_pixels: int) -> Image.Image:
    """Decode ``data`` if :mod:`runtime.image_policy` takes it, prepared by
    :mod:`runtime.image_prep` (upright, transparency on white, RGB) as training saw its
    pictures; else a 400 saying why.

    The pixel count is read from the header before any pixel is decoded, so a small file that
    expands to gigabytes (a decompression bomb) is refused without allocating it.
    """
    try:
        return image_prep.prepare(image_policy.accept(data, max_pixels=max_pixels))
    except image_policy.ImageRefused as refused:
        if refused.reason in ("truncated", "corrupt"):
            cause = refused.__cause__
            raise RequestFailed(400, "corrupt_image", f"corrupt image: {cause}") from None
        code = "image_too_large" if refused.reason == "too_large" else refused.reason
        raise RequestFailed(400, code, str(refused)) from None


def preview_data_uri(image: Image.Image) -> str:
    """The page's picture: a small JPEG re-encoded from the prepared image (so upright, as the
    model saw it) as a ``data:`` URI, so nothing is stored."""
    return image_prep.thumbnail_data_uri(image, PREVIEW_SIDE, PREVIEW_QUALITY)


@dataclasses.dataclass(frozen=True)
class ImageSource:
    """Where a request's image comes from; at most one field may be set."""

    image_id: str | None = None
    image_url: str | None = None
    upload: bytes | None = None


@dataclasses.dataclass(frozen=True)
class ImageFetcher:
    """Turns an :class:`ImageSource` into a decoded image: Drive and URL downloads under the
    fetch policy (deadline, size cap, no private addresses), then decoding off the event loop."""

    policy: FetchPolicy
    drive_base_url: str
    max_pixels: int

    @classmethod
    def from_settings(cls, settings: ServeSettings) -> ImageFetcher:
        policy = FetchPolicy(
            allow_private=settings.allow_private_urls,
            timeout_s=settings.fetch_timeout_s,
            max_bytes=settings.max_upload_bytes,
            max_redirects=settings.max_redirects,
        )
        return cls(policy, settings.drive_base_url, settings.max_image_pixels)

    async def load(self, source: ImageSource) -> Image.Image | None:
        image_id, image_url, upload = source.image_id, source.image_url, source.upload
        sources = [
            name
            for name, value in (("image_id", image_id), ("image_url", image_url), ("image", upload))
            if value
        ]
        if len(sources) > 1:
            raise RequestFailed(
                422, "two_images", f"give one image source, not {' and '.join(sources)}"
            )
        if image_id or image_url:
            fetch = (
                fetch_drive(image_id, self.drive_base_url, self.policy)
                if image_id
                else fetch_url(image_url, self.policy)
            )
            data = await within_deadline(fetch, self.policy, upstream=bool(image_id))
        elif upload:
            data = upload
        else:
            return None
        # Decoding is CPU-bound; a thread keeps the event loop answering meanwhile.
        return await asyncio.to_thread(decode_image, data, self.max_pixels)


@dataclasses.dataclass(frozen=True)
class _Fetched:
    url: str  # the URL as named (not the pinned address) after redirects
    content_type: str
    body: bytes

    @property
    def is_html(self) -> bool:
        return self.content_type.lower().startswith("text/html")


async def within_deadline(fetch: Awaitable[bytes], policy: FetchPolicy, upstream: bool) -> bytes:
    """Run a whole fetch (DNS, redirects, body) within ``policy.timeout_s``.

    httpx's timeout bounds each network wait, not the total, so a server trickling a byte at a
    time could otherwise hold a request for hours. ``upstream`` marks Drive (a 502, not a 400).
    """
    try:
        return await asyncio.wait_for(fetch, policy.timeout_s)
    except TimeoutError:
        raise RequestFailed(
            502 if upstream else 400,
            "fetch_timeout",
            f"the image download took over {policy.timeout_s:g} s",
        ) from None


async def fetch_url(url: str, policy: FetchPolicy) -> bytes:
    """GET ``url`` (http or https only), following redirects by hand, each hop re-checked."""
    async with _client(policy) as client:
        fetched = await _get_following_redirects(client, url, policy)
    return fetched.body


async def fetch_drive(file_id: str, base_url: str, policy: FetchPolicy) -> bytes:
    """Download a public Google Drive file, passing Drive's "can't scan for viruses" page.

    For files Drive cannot virus-scan it answers an HTML page whose form (or, in older pages, a
    link) carries a ``confirm`` token; submitting it yields the file. A 404 means a bad id.
    """
    if not DRIVE_ID.fullmatch(file_id):
        raise RequestFailed(
            422, "bad_image_id", "image_id may hold only letters, digits, '-' and '_'"
        )
    url = str(httpx.URL(base_url).copy_merge_params({"export": "download", "id": file_id}))
    async with _client(policy) as client:
        fetched = await _get_following_redirects(client, url, policy, drive_id=file_id)
        if fetched.is_html:
            confirm_url = _confirm_url(fetched.body.decode("utf-8", "replace"), fetched.url)
            if confirm_url is None:
                raise RequestFailed(
                    502,
                    "drive_page",
                    "Google Drive answered a page instead of the file; is it shared publicly?",
                )
            fetched = await _get_following_redirects(client, confirm_url, policy, drive_id=file_id)
            if fetched.is_html:
                raise RequestFailed(502, "drive_page", "Google Drive did not release the file")
    return fetched.body


def _client(policy: FetchPolicy) -> httpx.AsyncClient:
    """A client per download (its connections are pinned to checked addresses, so they must
    not serve another host), sharing one TLS context: building one costs ~20 ms."""
    return httpx.AsyncClient(
        timeout=policy.timeout_s, follow_redirects=False, verify=_tls_context()
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


async def _get_following_redirects(
    client: httpx.AsyncClient, url: str, policy: FetchPolicy, drive_id: str | None = None
) -> _Fetched:
    for _ in range(policy.max_redirects + 1):
        request = await _pinned_request(client, url, policy, drive_id)
        try:
            response = await client.send(request, stream=True)
        except httpx.TimeoutException:
            raise _unfetchable(drive_id, "fetch_timeout", f"fetching {url} timed out") from None
        except httpx.HTTPError as exc:
            raise _unfetchable(drive_id, "fetch_failed", f"cannot fetch {url}: {exc}") from None
        try:
            if response.is_redirect:
                url = urljoin(url, response.headers.get("location", ""))
                continue
            _check_status(response, url, drive_id)
            body = await _read_capped(response, image_policy.byte_limit(policy.max_bytes))
            return _Fetched(url, response.headers.get("content-type", ""), body)
        finally:
            await response.aclose()
    message = f"more than {policy.max_redirects} redirects"
    raise _unfetchable(drive_id, "too_many_redirects", message)


async def _pinned_request(
    client: httpx.AsyncClient, url: str, policy: FetchPolicy, drive_id: str | None = None
) -> httpx.Request:
    """A request to ``url`` aimed at a resolved, policy-checked IP, keeping Host and TLS SNI."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise RequestFailed(400, "bad_url", f"invalid URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise RequestFailed(400, "bad_url_scheme", "only http:// and https:// URLs are fetched")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    address = await _resolve_checked(parsed.host, port, policy, drive_id)
    return client.build_request(
        "GET",
        parsed.copy_with(host=address, port=port),
        headers={"Host": parsed.netloc.decode("ascii"), "Accept": "image/*,*/*;q=0.8"},
        extensions={"sni_hostname": parsed.host},
    )


async def _resolve_checked(
    host: str, port: int, policy: FetchPolicy, drive_id: str | None = None
) -> str:
    """Resolve ``host`` and return one address, refusing when any answer is non-public.
    Drive's host failing to resolve is an upstream failure (502), as any other Drive failure."""
    lookup = asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    try:
        infos = await asyncio.wait_for(lookup, policy.timeout_s)
    except TimeoutError:
        raise _unfetchable(drive_id, "dns_timeout", f"resolving host {host!r} timed out") from None
    except (OSError, UnicodeError) as exc:
        message = f"cannot resolve host {host!r}: {exc}"
        raise _unfetchable(drive_id, "dns_failed", message) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not policy.allow_private:
        for address in addresses:
            if not _is_public(address):
                raise RequestFailed(
                    400,
                    "private_address",
                    f"host {host!r} resolves to {address}, a non-public address; refused",
                )
    return str(addresses[0])


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally routed unicast only. ``is_global`` also refuses shared (carrier-grade NAT,
    100.64.0.0/10) space, which is neither private nor public; IPv6 forms that carry an IPv4
    address (mapped, 6to4, Teredo) are judged by the address they carry."""
    if isinstance(address, ipaddress.IPv6Address):
        teredo_client = address.teredo[1] if address.teredo else None
        embedded = address.ipv4_mapped or address.sixtofour or teredo_client
        if embedded is not None:
            return _is_public(embedded)
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def _check_status(response: httpx.Response, url: str, drive_id: str | None) -> None:
    if response.status_code == 404 and drive_id is not None:
        raise RequestFailed(
            404, "drive_not_found", f"no public Google Drive file with id {drive_id!r}"
        )
    if response.status_code == 404:
        raise RequestFailed(404, "image_not_found", f"{url} answered 404 Not Found")
    if response.status_code >= 400:
        raise _unfetchable(drive_id, "fetch_status", f"{url} answered HTTP {response.status_code}")


def _unfetchable(drive_id: str | None, reason: str, message: str) -> RequestFailed:
    """A failed download: Drive (the operator's upstream) failing is a 502; a URL the client
    chose that cannot be fetched is the client's problem, a 400."""
    return RequestFailed(502 if drive_id is not None else 400, reason, message)


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(max_bytes: int) -> RequestFailed:
    return RequestFailed(400, "image_too_large", f"the image is larger than {max_bytes} bytes")


class _ConfirmFinder(HTMLParser):
    """Collects Drive's download form (action + inputs) and any link carrying ``confirm=``."""

    def __init__(self) -> None:
        super().__init__()
        self.form_action: str | None = None
        self.form_fields: dict[str, str] = {}
        self.confirm_link: str | None = None
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and self.form_action is None:
            self.form_action = attributes.get("action", "")
            self._in_form = True
        elif tag == "input" and self._in_form and attributes.get("name"):
            self.form_fields[attributes["name"]] = attributes.get("value", "")
        elif tag == "a" and "confirm=" in attributes.get("href", "") and not self.confirm_link:
            self.confirm_link = attributes["href"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def _confirm_url(page: str, page_url: str) -> str | None:
    finder = _ConfirmFinder()
    finder.feed(page)
    if finder.form_action is not None and "confirm" in finder.form_fields:
        action = urljoin(page_url, finder.form_action)
        return str(httpx.URL(action).copy_merge_params(finder.form_fields))
    if finder.confirm_link:
        return urljoin(page_url, finder.confirm_link)
    return None
