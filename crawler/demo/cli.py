"""``hashtag-crawl serve-demo``: run the demo site in the foreground until Ctrl-C.

Handy for looking at the site in a browser, or for pointing a crawl (``--base-url``) or a
Selenium Grid node at a fixed port.
"""

from __future__ import annotations

import argparse
import logging
import threading
from typing import Any

from crawler.demo.server import DemoSite, site_from_config
from runtime.config import add_config_args, check_types, default_config, resolve_config
from runtime.errors import PipelineError, UsageError
from runtime.logs import add_logging_args, setup_logging

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve-demo",
        help="serve the Instagram-shaped demo site on loopback",
        description="Serve the embedded demo site (configs/demo.yaml) until interrupted.",
    )
    parser.add_argument("--port", type=int, help="TCP port (default from config: 0 = free port)")
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    add_config_args(parser)
    add_logging_args(parser)
    parser.set_defaults(func=serve_demo)


def serve_demo(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Serve until Ctrl-C (or until ``stop`` is set, which tests use)."""
    setup_logging(args)
    config = resolve_config("demo", args, {"port": "port", "host": "host"})
    address = _address(config)
    check_types(config, default_config("demo"), "demo config: ")
    try:
        site = site_from_config(config)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"bad demo config: {exc}") from None
    try:
        _serve(site, address, stop or threading.Event())
    except KeyboardInterrupt:
        pass  # Ctrl-C is how this command is meant to end
    finally:
        site.stop()
        log.info("served %s", site.counters)
    return 0


def _address(config: dict[str, Any]) -> tuple[str, int]:
    """Host and port, the port checked before the corpus is built, not by a crash in bind()."""
    host, port = config.get("host") or "127.0.0.1", config.get("port") or 0
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise UsageError(f"port must be a number from 0 to 65535, got {port!r}")
    return host, port


def _serve(site: DemoSite, address: tuple[str, int], stop: threading.Event) -> None:
    host, port = address
    try:
        base_url = site.start(host, port)
    except OSError as exc:
        raise PipelineError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    print(
        f"demo site: {base_url}/  ({len(site.corpus)} posts, {len(site.corpus.tags())} tags)",
        flush=True,
    )
    stop.wait()
