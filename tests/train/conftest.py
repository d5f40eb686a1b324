"""Train's fixtures: a mock of the Hugging Face Hub.

The mock is a loopback HTTP server that answers like the Hugging Face Hub's file endpoint.

``HEAD``/``GET /{org}/{name}/resolve/{revision}/{path}`` serves a file of a repository folder
with the headers ``huggingface_hub`` reads (``X-Repo-Commit``, ``ETag``, ``Content-Length``); a
missing file is a 404 with ``X-Error-Code: EntryNotFound`` (``RepoNotFound`` for an unknown
repository); everything else (``/api/...``: model info, file listings) is a plain 404, which the
libraries treat as "no extra information". Point ``HF_ENDPOINT`` at :attr:`HubMock.url`.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

COMMIT = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"


@pytest.fixture(scope="session")
def hub_commit() -> str:
    """The commit hash the Hub mock reports for every repository (``X-Repo-Commit``)."""
    return COMMIT


@pytest.fixture(scope="session")
def running_hub() -> Callable[[dict[str, Path]], contextlib.AbstractContextManager[HubMock]]:
    """``with running_hub({repo_id: folder}) as hub:`` the Hub mock live on 127.0.0.1."""
    return _running_hub


class HubMock:
    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = repos
        self.requests: list[tuple[str, str]] = []
        self.url = ""

    def answer(self, handler: BaseHTTPRequestHandler, with_body: bool) -> None:
        self.requests.append((handler.command, handler.path))
        parts = handler.path.split("?")[0].strip("/").split("/")
        headers = {"Content-Length": "0"}
        status, data = 404, b""
        if len(parts) >= 5 and parts[2] == "resolve":
            folder = self.repos.get("/".join(parts[:2]))
            file = folder / "/".join(parts[4:]) if folder else None
            headers["X-Repo-Commit"] = COMMIT
            if file is not None and file.is_file():
                status, data = 200, file.read_bytes()
                headers["ETag"] = f'"{hashlib.sha256(data).hexdigest()}"'
                headers["Content-Length"] = str(len(data))
            else:
                headers["X-Error-Code"] = "EntryNotFound" if folder else "RepoNotFound"
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if with_body:
            handler.wfile.write(data)


@contextlib.contextmanager
def _running_hub(repos: dict[str, Path]) -> Iterator[HubMock]:
    hub = HubMock(repos)

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
            hub.answer(self, with_body=False)

        def do_GET(self) -> None:  # noqa: N802
            hub.answer(self, with_body=True)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
