"""Serve's fixtures: one tiny dataset and trained checkpoints per session, a uvicorn server on
a loopback port, and a mock of Google Drive.

The Drive mock is a loopback HTTP server that answers like Google Drive's public download
endpoint.

``/uc?export=download&id=ID`` returns the file, or for ids marked "unscannable" the HTML
"Google Drive can't scan this file for viruses" page whose form (the current page) or link (the
older page) carries a ``confirm`` token; ``/download`` with that token returns the file; an
unknown id gets Drive's 404 HTML page. ``/files/NAME`` serves plain images and
``/redirect?to=URL`` answers a 302 (``/loop`` redirects to itself), and ``/trickle`` sends a byte
every 0.1 s (a slow-loris image), for the ``image_url`` tests.
"""

from __future__ import annotations

import contextlib
import functools
import html
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from benchmarks.agreement import top_k_agreement as _top_k_agreement

TINY_LABELS = 12


@pytest.fixture(scope="session")
def tiny_labels() -> int:
    """How many labels the session's tiny dataset has."""
    return TINY_LABELS


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory, make_tiny_dataset) -> Path:
    """One tiny dataset per test session (training checkpoints on it takes seconds each)."""
    root = tmp_path_factory.mktemp("serve-tests")
    return make_tiny_dataset(root / "dataset", n_posts=80, n_labels=TINY_LABELS)


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_dataset: Path, make_tiny_checkpoint) -> Callable[[str], Path]:
    """``tiny_checkpoint(modality)``: a trained tiny checkpoint, trained once per modality on
    first use; 32 tokens so the original's ``max_seq_len=20`` URL is valid."""

    @functools.cache
    def checkpoint(modality: str = "both") -> Path:
        run = tiny_dataset.parent / f"run-{modality}"
        return make_tiny_checkpoint(tiny_dataset, run, modality=modality, max_seq_len=32, epochs=1)

    return checkpoint


@pytest.fixture(scope="session")
def tiny_predictor(tiny_checkpoint: Callable[[str], Path]) -> Callable[[str], Any]:
    """``tiny_predictor(modality)``: a fresh Predictor over the session's tiny checkpoint."""
    from train.predictor import Predictor

    def predictor(modality: str = "both") -> Predictor:
        return Predictor.load(tiny_checkpoint(modality))

    return predictor


@contextlib.contextmanager
def _running_server(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yield its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="session")
def running_server() -> Callable[[Any], contextlib.AbstractContextManager[str]]:
    """``with running_server(app) as base_url:`` the app live on 127.0.0.1."""
    return _running_server


@pytest.fixture(scope="session")
def running_drive_mock() -> Callable[[], contextlib.AbstractContextManager[DriveMock]]:
    """``with running_drive_mock() as mock:`` the Drive mock live on 127.0.0.1."""
    return _running_drive_mock


# the Google Drive mock -------------------------------------------------------------------------

CONFIRM_TOKEN = "t"

_NOT_FOUND_PAGE = (
    "<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error 404 (Not Found)!!1</title>"
    "<p><b>404.</b> <ins>That's an error.</ins><p>The requested URL was not found on this "
    "server. <ins>That's all we know.</ins></html>"
)


class DriveMock:
    """State of the mock: the files it holds and which of them need the confirm step."""

    def __init__(self) -> None:
        self.drive_files: dict[str, bytes] = {}
        self.unscannable: dict[str, str] = {}  # id -> "form" (current page) or "link" (older)
        self.plain_files: dict[str, tuple[str, bytes]] = {}  # name -> (content type, body)
        self.requests: list[tuple[str, str]] = []  # (path with query, Host header)
        self.base_url = ""

    @property
    def drive_base_url(self) -> str:
        return f"{self.base_url}/uc"

    def add_drive_file(self, file_id: str, data: bytes, interstitial: str | None = None) -> None:
        self.drive_files[file_id] = data
        if interstitial:
            self.unscannable[file_id] = interstitial

    def add_plain_file(self, name: str, data: bytes, content_type: str = "image/jpeg") -> None:
        self.plain_files[name] = (content_type, data)

    def interstitial(self, file_id: str) -> str:
        safe_id = html.escape(file_id)
        if self.unscannable[file_id] == "link":
            download = f"/uc?export=download&amp;confirm={CONFIRM_TOKEN}&amp;id={safe_id}"
            action = f'<a id="uc-download-link" href="{download}">Download anyway</a>'
        else:
            action = (
                f'<form id="download-form" action="{self.base_url}/download" method="get">'
                '<input type="submit" id="uc-download-link" value="Download anyway"/>'
                f'<input type="hidden" name="id" value="{safe_id}">'
                '<input type="hidden" name="export" value="download">'
                f'<input type="hidden" name="confirm" value="{CONFIRM_TOKEN}">'
                '<input type="hidden" name="uuid" value="0b6c1f9e-mock"></form>'
            )
        return (
            "<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head>"
            '<body><div class="uc-main"><div id="uc-text"><p class="uc-warning-caption">'
            'Google Drive can\'t scan this file for viruses.</p><p class="uc-warning-subcaption">'
            f"photo.jpg is too large for Google to scan for viruses. Would you still like to "
            f"download this file?</p>{action}</div></div></body></html>"
        )


def _handler(mock: DriveMock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            mock.requests.append((self.path, self.headers.get("Host", "")))
            parts = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            if parts.path in ("/uc", "/download"):
                self._drive(parts.path, query)
            elif parts.path.startswith("/files/") and parts.path[7:] in mock.plain_files:
                self._send(200, *mock.plain_files[parts.path[7:]])
            elif parts.path == "/redirect" and "to" in query:
                self._redirect(query["to"])
            elif parts.path == "/loop":
                self._redirect("/loop")
            elif parts.path == "/trickle":
                self._trickle()
            else:
                self._send(404, "text/html; charset=utf-8", _NOT_FOUND_PAGE.encode())

        def _drive(self, path: str, query: dict[str, str]) -> None:
            file_id = query.get("id", "")
            if file_id not in mock.drive_files:
                self._send(404, "text/html; charset=utf-8", _NOT_FOUND_PAGE.encode())
            elif file_id in mock.unscannable and query.get("confirm") != CONFIRM_TOKEN:
                self._send(200, "text/html; charset=utf-8", mock.interstitial(file_id).encode())
            else:
                self._send(200, "image/jpeg", mock.drive_files[file_id])

        def _redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _trickle(self, seconds: float = 5.0, every_s: float = 0.1) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up: the point of the test
                for _ in range(int(seconds / every_s)):
                    self.wfile.write(b"\xff")
                    self.wfile.flush()
                    time.sleep(every_s)

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            """Keep test output quiet."""

    return Handler


@contextlib.contextmanager
def _running_drive_mock() -> Iterator[DriveMock]:
    """Start the mock on a free loopback port for the duration of the block."""
    mock = DriveMock()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(mock))
    mock.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield mock
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def top_k_agreement() -> Callable[..., float]:
    """benchmarks/agreement.py's check that a tuning keeps every post's top-k labels."""
    return _top_k_agreement
