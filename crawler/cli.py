"""``hashtag-crawl``: the ``crawl``, ``parse`` and ``serve-demo`` subcommands.

``crawl`` checks every input (targets, cookies file, --no-delay against the base URL) before a
browser starts, so a typo costs one line on stderr, not a browser start-up.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler import auth, parse_cmd, targets
from crawler.browser import open_browser, user_agent
from crawler.crawl import Crawler
from crawler.media import ImageDownloader
from crawler.politeness import Politeness
from crawler.settings import CrawlerSettings
from crawler.summary import report_summary
from demo_site import cli as demo_cli
from demo_site.server import site_from_settings
from demo_site.settings import DemoSettings
from demo_site.topics import topical_tags
from runtime.cli import ConfigFlags, command_parser, run, subcommand
from runtime.config import write_resolved
from runtime.errors import UsageError
from runtime.logs import log_to_file, progress_disabled
from runtime.outputs import check_output_dir
from runtime.records import check_base_url
from runtime.write_faults import writing_into

log = logging.getLogger(__name__)

PROG = "hashtag-crawl"
SESSION_FILE = "session.json"  # --login's cookies (0600), reusable with --cookies

# The flags that override configs/crawl.yaml, each with the key it sets.
FLAGS = ConfigFlags("crawl")


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv)


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser(
        PROG,
        "Crawl Instagram-shaped sites with headless Chromium, parse saved pages offline, "
        "or serve the demo site.",
    )
    subparsers = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="see COMMAND --help"
    )
    register(subparsers)
    parse_cmd.register(subparsers)
    demo_cli.register(subparsers)
    return parser


def register(subparsers: Any) -> None:
    parser = subcommand(
        subparsers,
        "crawl",
        help="crawl tag, profile and reels feeds and keyword searches with headless Chromium",
        description="Crawl Instagram (or the embedded demo site) tag, profile and reels feeds "
        "and keyword searches into OUT/posts.jsonl; running the same command again resumes. "
        "Defaults come from configs/crawl.yaml.",
        stage="crawl",
    )
    _target_flags(parser)
    _site_flags(parser)
    _browser_flags(parser)
    _output_flags(parser)
    parser.set_defaults(func=crawl_command)


def _target_flags(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("targets (at least one, or --demo)")
    what.add_argument("--tag", action="append", default=[], help="tag feed (repeatable)")
    what.add_argument("--profile", action="append", default=[], help="profile feed (repeatable)")
    what.add_argument("--reels", action="append", default=[], help="a profile's reels (repeatable)")
    what.add_argument(
        "--search",
        action="append",
        default=[],
        metavar="QUERY",
        help='keyword search, e.g. "#sunset" (repeatable): deeper than a tag page',
    )
    what.add_argument(
        "--targets-file",
        metavar="FILE",
        help="tag:NAME / profile:NAME / reels:NAME / search:QUERY per line",
    )
    what.add_argument("--shard", metavar="I/N", help="crawl only shard I (0-based) of N")
    FLAGS.add(
        what, "--limit", key="limit", type=int, metavar="N", help="total posts in OUT/posts.jsonl"
    )
    FLAGS.add(
        what, "--per-target", key="per_target", type=int, metavar="N", help="posts per target"
    )


def _site_flags(parser: argparse.ArgumentParser) -> None:
    site = parser.add_argument_group("site")
    where = site.add_mutually_exclusive_group()
    FLAGS.add(where, "--base-url", key="base_url", metavar="URL", help="site root")
    where.add_argument(
        "--demo", action="store_true", help="start the embedded demo site and crawl it"
    )
    site.add_argument(
        "--no-delay", action="store_true", help="no politeness delays (loopback sites only)"
    )
    site.add_argument("--cookies", metavar="FILE", help="cookies.txt or a browser's JSON export")
    site.add_argument(
        "--login", action="store_true", help="log in with IG_USERNAME / IG_PASSWORD from the env"
    )


def _browser_flags(parser: argparse.ArgumentParser) -> None:
    browser = parser.add_argument_group("browser")
    FLAGS.add(
        browser,
        "--profile-dir",
        key="browser.profile_dir",
        metavar="DIR",
        help="persistent Chromium profile folder",
    )
    FLAGS.add(
        browser,
        "--chromedriver",
        key="browser.chromedriver",
        metavar="PATH",
        help="chromedriver binary",
    )
    FLAGS.add(
        browser,
        "--remote-url",
        key="browser.remote_url",
        metavar="URL",
        help="Selenium Grid / Remote WebDriver",
    )


def _output_flags(parser: argparse.ArgumentParser) -> None:
    output = parser.add_argument_group("output")
    FLAGS.add(output, "--out", key="out", metavar="DIR", help="output folder")
    FLAGS.add(
        output,
        "--download-images",
        key="download_images",
        action="store_true",
        help="save images to OUT/images/",
    )


def crawl_command(args: argparse.Namespace) -> int:
    settings = FLAGS.settings(args, CrawlerSettings)
    chosen, cookies = _checked_inputs(args, settings)
    politeness = Politeness(settings.politeness, no_delay=args.no_delay)
    out_dir = Path(settings.out)
    with ExitStack() as stack:
        if args.demo:  # before OUT exists: a bad demo value must leave nothing behind
            base_url, demo_tags = stack.enter_context(_demo_site(settings.demo))
            settings = settings.model_copy(update={"base_url": base_url})
            if not chosen:
                chosen = _demo_targets(demo_tags, settings.limit)
                if settings.per_target is None and settings.limit:
                    per_target = -(-settings.limit // len(chosen))
                    settings = settings.model_copy(update={"per_target": per_target})
        out_dir.mkdir(parents=True, exist_ok=True)
        stack.enter_context(writing_into(out_dir))  # a full or read-only disk: one line
        log_to_file(out_dir / "crawl.log")
        if args.shard:
            chosen = targets.shard(chosen, *targets.parse_shard(args.shard))
        write_resolved(_resolved(settings, args.demo), out_dir / "config.yaml")
        log.info("crawling %d targets from %s into %s", len(chosen), settings.base_url, out_dir)
        driver = stack.enter_context(open_browser(settings.browser))
        if cookies:
            auth.add_cookies(driver, settings.base_url, cookies)
        if args.login:
            auth.login_with_env(driver, settings.base_url)
            auth.save_session(driver, out_dir / SESSION_FILE)
            log.info("session saved; later runs can pass --cookies %s", out_dir / SESSION_FILE)
        downloader = None
        if settings.download_images:
            downloader = ImageDownloader(
                out_dir, driver.get_cookies(), user_agent(driver), settings.media.timeout_s
            )
        crawler = Crawler(
            driver,
            out_dir,
            settings,
            politeness,
            downloader,
            show_progress=not progress_disabled(args),
        )
        try:
            crawler.run(chosen)
        finally:
            report_summary(crawler.summary, out_dir / "crawl.log")
    return 0


def _resolved(settings: CrawlerSettings, demo: bool) -> dict[str, Any]:
    """What OUT/config.yaml records: the ``demo`` section only when the demo site ran."""
    return settings.model_dump() | ({} if demo else {"demo": {}})


def _checked_inputs(
    args: argparse.Namespace, settings: CrawlerSettings
) -> tuple[list[targets.Target], list[dict[str, Any]] | None]:
    """Every check that needs no browser: the targets and the cookies, or a UsageError."""
    if args.shard:
        targets.parse_shard(args.shard)
    check_output_dir(settings.out)
    if not args.demo:
        check_base_url(settings.base_url)
    chosen = targets.resolve_targets(
        args.tag, args.profile, args.targets_file, args.search, args.reels
    )
    if not chosen and not args.demo:
        raise UsageError(
            "nothing to crawl: give --tag, --profile, --reels, --search or --targets-file "
            "(or --demo)"
        )
    if args.no_delay and not args.demo:
        _require_loopback(settings.base_url)
    if args.login:
        auth.credentials_from_env()
    return chosen, auth.load_cookies(args.cookies) if args.cookies else None


def _require_loopback(base_url: str) -> None:
    """--no-delay would hammer a real site; it is for the local demo only."""
    host = urlsplit(base_url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UsageError(f"--no-delay is for a loopback demo site only, not {base_url}")


def _demo_targets(demo_tags: list[str], limit: int | None) -> list[targets.Target]:
    """The demo site's most used topic tags (engagement spam left out), about one per 100
    posts of ``--limit``, so a demo crawl covers many topics in a few feed pages each."""
    topical = topical_tags(demo_tags)
    count = len(topical) if not limit else max(1, min(len(topical), limit // 100))
    return [targets.make_target("tag", tag) for tag in topical[:count]]


@contextmanager
def _demo_site(demo: DemoSettings) -> Iterator[tuple[str, list[str]]]:
    """The demo site (configs/demo.yaml + the crawl config's ``demo`` section) on a free
    loopback port, for the duration of the crawl: its base URL and its tags."""
    with site_from_settings(demo.model_copy(update={"host": "127.0.0.1", "port": 0})) as site:
        yield site.base_url, site.corpus.tags()


if __name__ == "__main__":
    sys.exit(main())
