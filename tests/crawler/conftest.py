"""The crawler's fixtures: run ``hashtag-crawl crawl`` in-process, read what it stored, serve a
small loopback HTTP site whose answers a test writes as one function, and pace on a fake clock."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from crawler.cli import main
from crawler.politeness import Politeness
from runtime.files import iter_jsonl

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def selenium_jar() -> Path:
    """The Selenium server jar of the Grid tests: ``$SELENIUM_SERVER_JAR``, else where ``make
    grid`` (scripts/ensure-selenium-grid.sh) installs it."""
    default = REPO / ".venv" / "selenium" / "selenium-server-4.20.0.jar"
    return Path(os.environ.get("SELENIUM_SERVER_JAR") or default)


@pytest.fixture
def run_crawl(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``run_crawl(out, *args)``: ``hashtag-crawl crawl --no-delay --quiet --out OUT ARGS``;
    returns the exit code, stdout and stderr."""

    def crawl(out: Path, *args: str) -> tuple[int, str, str]:
        code = main(["crawl", "--no-delay", "--quiet", "--out", str(out), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return crawl


@pytest.fixture
def crawl_until_stored() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``crawl_until_stored(out, *args)``: ``hashtag-crawl crawl --quiet --out OUT ARGS`` as a
    subprocess (politeness delays on, so it is still scrolling), returned once its first posts
    are in OUT/posts.jsonl; killed at the end of the test if it still runs."""
    started: list[subprocess.Popen[bytes]] = []

    def start(out: Path, *args: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "crawler", "crawl", "--quiet", "--out", str(out), *args]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        started.append(process)
        posts = out / "posts.jsonl"
        deadline = time.monotonic() + 180
        while not (posts.exists() and posts.stat().st_size):
            assert process.poll() is None, process.communicate()[1].decode()
            assert time.monotonic() < deadline, "no post stored within 180 s"
            time.sleep(0.2)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


class ProcessTree:
    """Processes read from /proc: who descends from whom, and who still runs."""

    @staticmethod
    def stat(pid: int) -> tuple[int, str, str] | None:
        """(parent pid, state, start time) of a process, or None when it is gone."""
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = text[text.rindex(")") + 2 :].split()  # the name in (...) may hold spaces
        return int(fields[1]), fields[0], fields[19]

    @staticmethod
    def below(root: int) -> dict[int, str]:
        """Every process below ``root``: pid -> start time (so a reused pid is not mistaken)."""
        children: dict[int, list[int]] = {}
        started: dict[int, str] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (stat := ProcessTree.stat(int(entry.name))):
                children.setdefault(stat[0], []).append(int(entry.name))
                started[int(entry.name)] = stat[2]
        found: dict[int, str] = {}
        todo = list(children.get(root, []))
        while todo:
            pid = todo.pop()
            found[pid] = started[pid]
            todo += children.get(pid, [])
        return found

    @staticmethod
    def running(processes: dict[int, str]) -> list[str]:
        """Those of ``processes`` that still run (zombies excluded), by command line."""
        left = []
        for pid, start in processes.items():
            stat = ProcessTree.stat(pid)
            try:
                if stat and stat[2] == start and stat[1] != "Z":
                    command = Path(f"/proc/{pid}/cmdline").read_bytes()
                    left.append(command.replace(b"\0", b" ").decode())
            except OSError:  # it ended between the two reads
                continue
        return left


@pytest.fixture
def process_tree() -> type[ProcessTree]:
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc")
    return ProcessTree


class FakeTime:
    """A clock that only moves when something sleeps on it; ``sleeps`` lists every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def paced(fake_time: FakeTime) -> Callable[..., Politeness]:
    """``paced(**politeness)``: a Politeness on ``fake_time`` with a seeded RNG and, unless
    ``delay_mean_s`` is given, no random pauses (budgets and sleeps alone)."""

    def politeness(**config: Any) -> Politeness:
        config = {"delay_mean_s": 0, **config}
        return Politeness(
            config, sleep=fake_time.sleep, clock=fake_time.clock, rng=random.Random(0)
        )

    return politeness


@pytest.fixture(scope="session")
def read_posts() -> Callable[[Path], list[dict[str, Any]]]:
    """``read_posts(out)``: the records of OUT/posts.jsonl, asserting none is torn or bad."""

    def records(out: Path) -> list[dict[str, Any]]:
        rows = list(iter_jsonl(out / "posts.jsonl"))
        assert all(record is not None for _, record, _ in rows), "a torn or bad line"
        return [record for _, record, _ in rows]

    return records


# What a loopback site answers for a request path: status, Content-Type and body.
Answer = tuple[int, str, bytes]


@dataclass
class LoopbackSite:
    """A running loopback site: its root URL and the paths it was asked for, in order."""

    base_url: str
    requested: list[str] = field(default_factory=list)


@pytest.fixture
def loopback_site() -> Iterator[Callable[[Callable[[str], Answer]], LoopbackSite]]:
    """``loopback_site(answer)``: serve ``answer(path)`` on 127.0.0.1 until the test ends."""
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Callable[[str], Answer]) -> LoopbackSite:
        site = LoopbackSite("")

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib
                pass

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                site.requested.append(self.path)
                status, kind, body = answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        site.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        return site

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
