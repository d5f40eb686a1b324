"""A Selenium Grid on this machine: a hub and N nodes of the Selenium server jar, on loopback.

Production Grids run a hub on one machine and a node on each of the others (docs/crawling.md,
"Scale-out"); this starts the same processes locally, so the tests and the Grid benchmark
exercise a real Grid rather than a bare chromedriver. Every node offers Debian's Chromium as
configured in ``configs/selenium-node.toml``.
"""

from __future__ import annotations

import importlib.resources
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from runtime.errors import sigterm_as_interrupt

NODE_CONFIG = importlib.resources.files("configs").joinpath("selenium-node.toml")


@dataclass(frozen=True)
class LocalGrid:
    """A running Grid: where to point ``--remote-url``, and each node's log file."""

    hub_url: str
    node_logs: list[Path]


def _free_ports(count: int) -> list[int]:
    """Ports free right now on 127.0.0.1 (held together, so that no two are the same)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def _wait_until_up(hub_url: str, nodes: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            status = requests.get(f"{hub_url}/status", timeout=2).json()["value"]
            up = sum(node.get("availability") == "UP" for node in status.get("nodes", []))
            if status.get("ready") and up >= nodes:
                return
        except (requests.RequestException, ValueError, KeyError, TypeError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the Selenium Grid at {hub_url} did not report {nodes} nodes up")


@contextmanager
def local_grid(
    jar: Path,
    folder: Path,
    nodes: int = 2,
    sessions_per_node: int = 1,
    java_heap: str = "256m",
    timeout_s: float = 120.0,
) -> Iterator[LocalGrid]:
    """Start a hub and ``nodes`` nodes of the Selenium server ``jar`` (its caller says where:
    ``make grid`` installs one, tests and the benchmark read ``$SELENIUM_SERVER_JAR``), with logs
    and node config in ``folder``; stop them on exit, a SIGTERM to this process included (else
    the Java processes would outlive it)."""
    config = NODE_CONFIG.read_text("utf-8")
    config = re.sub(r"max-sessions = \d+", f"max-sessions = {sessions_per_node}", config)
    (folder / "node.toml").write_text(config, "utf-8")
    hub_port, publish, subscribe, *node_ports = _free_ports(3 + nodes)
    bus = ["--publish-events", f"tcp://127.0.0.1:{publish}"]
    bus += ["--subscribe-events", f"tcp://127.0.0.1:{subscribe}"]
    java = ["java", f"-Xmx{java_heap}", "-jar", str(jar)]
    commands = {"hub": [*java, "hub", "--host", "127.0.0.1", "--port", str(hub_port), *bus]}
    for n, port in enumerate(node_ports, start=1):
        commands[f"node{n}"] = [*java, "node", "--host", "127.0.0.1", "--port", str(port), *bus]
        commands[f"node{n}"] += ["--config", str(folder / "node.toml")]
    processes: list[subprocess.Popen[bytes]] = []
    with ExitStack() as stack:
        stack.enter_context(sigterm_as_interrupt())
        stack.callback(_stop, processes)
        for name, command in commands.items():
            with (folder / f"{name}.log").open("wb") as log:
                processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        hub_url = f"http://127.0.0.1:{hub_port}"
        _wait_until_up(hub_url, nodes, timeout_s)
        yield LocalGrid(hub_url, [folder / f"node{n}.log" for n in range(1, nodes + 1)])


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
