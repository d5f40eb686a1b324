"""``hashtag-crawl serve-demo``: run the demo site in the foreground until Ctrl-C.

Handy for looking at the site in a browser, or for pointing a crawl (``--base-url``) or a
Selenium Grid node at a fixed port.
"""

from __future__ import annotations

import argparse
import logging
import threading

from demo_site.server import DemoSite, site_from_settings
from demo_site.settings import DemoSettings
from runtime.cli import ConfigFlags, subcommand
from runtime.errors import PipelineError, sigint_as_interrupt

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
    settings = FLAGS.settings(args, DemoSettings)  # the port checked before the corpus is built
    site = site_from_settings(settings)
    try:
        with sigint_as_interrupt():
            _serve(site, (settings.host, settings.port), stop or threading.Event())
    except KeyboardInterrupt:
        pass  # Ctrl-C is how this command is meant to end
    finally:
        site.stop()
        log.info("served %s", site.counters)
    return 0


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
