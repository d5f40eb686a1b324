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
from runtime.cli import ConfigFlags, subcommand
from runtime.config import check_types, default_config
from runtime.errors import PipelineError, UsageError

log = logging.getLogger(__name__)


FLAGS = ConfigFlags("demo")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subcommand(
        subparsers,
        "serve-demo",
        help="serve the Instagram-shaped demo site on loopback",
        description="Serve the embedded demo site until interrupted. Defaults come from "
        "configs/demo.yaml.",
        stage="demo",
    )
    FLAGS.add(parser, "--port", key="port", type=int, help="TCP port (0: a free port)")
    FLAGS.add(parser, "--host", key="host", help="address to bind")
    parser.set_defaults(func=serve_demo)


def serve_demo(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Serve until Ctrl-C (or until ``stop`` is set, which tests use)."""
    config = FLAGS.resolve(args)
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
