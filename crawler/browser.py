"""The Selenium driver factory: headless Chromium, local or on a Selenium Grid.

Every crawl reads network traffic through Chrome's performance log and the DevTools protocol,
so both kinds of driver are built with performance logging on and a command executor that
knows Chromium's ``goog/cdp/execute`` endpoint.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import urllib3
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection
from selenium.webdriver.remote.webdriver import WebDriver

from crawler.settings import BrowserSettings
from runtime.errors import PipelineError, UsageError

log = logging.getLogger(__name__)

# Without these, Chromium on an offline machine stalls on sign-in, updates and QUIC probes.
OFFLINE_SAFE_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)

# Media is fetched (if at all) by crawler.media, never by the browser: blocking it keeps the
# request budget for the feed and spares the site's CDN. The favicon is useless to a crawler.
# ``/p/<code>/media/`` redirects to a post's image; a bare ``*/media/*`` would also drop the
# JSON of ``/api/v1/media/<pk>/info/``, which carries posts.
BLOCKED_URL_PATTERNS = (
    "*/p/*/media/*",
    "*.jpg*",
    "*.jpeg*",
    "*.png*",
    "*.webp*",
    "*.gif*",
    "*.mp4*",
    "*.cdninstagram.com/*",
    "*.fbcdn.net/*",
    "*/favicon.ico",
)


def resolve_chromedriver(explicit: str | None) -> str:
    """``--chromedriver PATH``, else ``chromedriver`` on PATH, else webdriver-manager."""
    if explicit:
        if not Path(explicit).is_file():
            raise UsageError(f"--chromedriver {explicit}: no such file")
        return explicit
    found = shutil.which("chromedriver")
    if found:
        return found
    try:
        from webdriver_manager.chrome import ChromeDriverManager
        from webdriver_manager.core.os_manager import ChromeType

        return ChromeDriverManager(chrome_type=ChromeType.CHROMIUM).install()
    except Exception as exc:  # noqa: BLE001 - any download failure means the same to the user
        raise PipelineError(
            "no chromedriver: pass --chromedriver PATH, install chromium-driver, or go online "
            f"for webdriver-manager ({type(exc).__name__}: {exc})"
        ) from None


def chrome_options(settings: BrowserSettings, user_data_dir: str | None) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary and not settings.remote_url:
        options.binary_location = binary
    for flag in OFFLINE_SAFE_FLAGS:
        if settings.headless or flag != "--headless=new":
            options.add_argument(flag)
    options.add_argument(f"--window-size={settings.window_size}")
    options.add_argument("--blink-settings=imagesEnabled=false")
    if user_data_dir:
        options.add_argument(f"--user-data-dir={user_data_dir}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return options


@contextmanager
def open_browser(settings: BrowserSettings) -> Iterator[WebDriver]:
    """A started driver with media blocked; quit (and its temporary profile removed) on exit.

    A fresh temporary profile is used unless ``--profile-dir`` asks for a persistent one (to
    keep a logged-in session). On a Grid the node owns its profiles, so none is passed there.
    """
    temp_dir = None
    user_data_dir = settings.profile_dir
    if user_data_dir and not settings.remote_url:
        # It will hold session cookies, which are as good as a password.
        Path(user_data_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    if not user_data_dir and not settings.remote_url:
        temp_dir = tempfile.mkdtemp(prefix="hashtag-crawl-profile-")
        user_data_dir = temp_dir
    try:
        driver = _start(settings, chrome_options(settings, user_data_dir))
        try:
            driver.set_page_load_timeout(settings.page_load_timeout_s)
            block_media(driver)
            yield driver
        finally:
            _quit(driver)
    finally:
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)


def _start(settings: BrowserSettings, options: webdriver.ChromeOptions) -> WebDriver:
    try:
        if settings.remote_url:
            # ChromiumRemoteConnection adds goog/cdp/execute, which a Grid forwards to the
            # node's chromedriver: CDP then works the same as with a local driver.
            executor = ChromiumRemoteConnection(
                settings.remote_url, vendor_prefix="goog", browser_name="chrome", ignore_proxy=True
            )
            return webdriver.Remote(command_executor=executor, options=options)
        service = Service(resolve_chromedriver(settings.chromedriver))
        return webdriver.Chrome(options=options, service=service)
    except WebDriverException as exc:
        where = settings.remote_url or "local chromedriver"
        raise PipelineError(f"cannot start the browser ({where}): {first_line(exc)}") from None
    except urllib3.exceptions.HTTPError as exc:  # a Grid hub that is down or not a hub
        reason = getattr(exc, "reason", None) or exc
        raise PipelineError(
            f"cannot reach the Selenium Grid at {settings.remote_url}: {reason}"
        ) from None


def first_line(exc: WebDriverException) -> str:
    """Chromium's messages run on with session info and a stack trace; the first line says it."""
    lines = (exc.msg or str(exc)).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def block_media(driver: WebDriver) -> None:
    """Block media by URL over CDP; where CDP is refused, ``imagesEnabled=false`` still holds."""
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": list(BLOCKED_URL_PATTERNS)})
    except WebDriverException as exc:
        log.warning("cannot block media URLs over CDP: %s", exc.msg)


def user_agent(driver: WebDriver) -> str:
    return str(driver.execute_script("return navigator.userAgent"))


def _quit(driver: Any) -> None:
    try:
        driver.quit()
    except WebDriverException as exc:  # the session may already be gone after a crash
        log.debug("driver.quit failed: %s", exc)
