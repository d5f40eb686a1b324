"""Logging the browser in: cookies exported from a browser, or credentials from the environment.

Credentials are read from ``IG_USERNAME``/``IG_PASSWORD`` only (never argv, never logged), and
session files are written 0600 because a ``sessionid`` cookie is as good as a password.
"""

from __future__ import annotations

import http.cookiejar
import json
import logging
import os
from pathlib import Path
from typing import Any

from runtime.errors import RemoteStop, UsageError
from runtime.files import atomic_write_json

log = logging.getLogger(__name__)

SESSION_FILE_MODE = 0o600
_SELENIUM_KEYS = ("name", "value", "domain", "path", "secure", "httpOnly", "expiry")


def load_cookies(path: str | Path) -> list[dict[str, Any]]:
    """Read a Netscape ``cookies.txt`` or a JSON export (a list, or ``{"cookies": [...]}``, with
    ``expirationDate`` or ``expiry``) into Selenium ``add_cookie`` dicts."""
    file = Path(path)
    try:
        text = file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read cookies file {file}: {exc}") from None
    cookies = _json_cookies(text) if text.lstrip().startswith(("[", "{")) else _netscape(file)
    if cookies is None:
        raise UsageError(f"cookies file {file} is neither Netscape cookies.txt nor a JSON export")
    if not cookies:
        raise UsageError(f"cookies file {file} holds no cookies")
    return cookies


def _json_cookies(text: str) -> list[dict[str, Any]] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    items = data.get("cookies") if isinstance(data, dict) else data
    if not isinstance(items, list):
        return None
    cookies = []
    for item in items:
        if not isinstance(item, dict) or "name" not in item or "value" not in item:
            return None
        cookie = {
            "name": str(item["name"]),
            "value": str(item["value"]),
            "domain": item.get("domain"),
            "path": item.get("path", "/"),
            "secure": bool(item.get("secure", False)),
            "httpOnly": bool(item.get("httpOnly", False)),
            "expiry": item.get("expiry", item.get("expirationDate")),
        }
        if cookie["expiry"] is not None:
            try:
                cookie["expiry"] = int(float(cookie["expiry"]))
            except (TypeError, ValueError):
                return None  # not a browser's export after all
        cookies.append({k: v for k, v in cookie.items() if v is not None})
    return cookies


def _netscape(file: Path) -> list[dict[str, Any]] | None:
    jar = http.cookiejar.MozillaCookieJar()
    try:
        jar.load(str(file), ignore_discard=True, ignore_expires=True)
    except (http.cookiejar.LoadError, OSError):
        return None
    cookies = []
    for c in jar:
        cookie: dict[str, Any] = {
            "name": c.name,
            "value": c.value or "",
            "domain": c.domain,
            "path": c.path or "/",
            "secure": bool(c.secure),
            "httpOnly": bool(c.has_nonstandard_attr("HttpOnly")),
        }
        if c.expires:
            cookie["expiry"] = int(c.expires)
        cookies.append(cookie)
    return cookies


def add_cookies(driver: Any, base_url: str, cookies: list[dict[str, Any]]) -> int:
    """Install cookies in the browser (it must be on the site's origin first); returns how many
    matched the site. Cookies of other domains are skipped."""
    driver.get(base_url.rstrip("/") + "/robots.txt")
    host = driver.execute_script("return location.hostname")
    added = 0
    for cookie in cookies:
        domain = str(cookie.get("domain") or host).lstrip(".")
        if not (host == domain or host.endswith("." + domain)):
            continue
        driver.add_cookie(
            {k: v for k, v in cookie.items() if k in _SELENIUM_KEYS and k != "domain"}
        )
        added += 1
    log.info("installed %d of %d cookies for %s", added, len(cookies), host)
    return added


def credentials_from_env() -> tuple[str, str]:
    username, password = os.environ.get("IG_USERNAME"), os.environ.get("IG_PASSWORD")
    if not username or not password:
        raise UsageError("--login needs IG_USERNAME and IG_PASSWORD in the environment")
    return username, password


def login_with_env(driver: Any, base_url: str, timeout_s: float = 30.0) -> None:
    """Fill the login form with the environment's credentials and wait for a session cookie."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    username, password = credentials_from_env()
    driver.get(base_url.rstrip("/") + "/accounts/login/")
    wait = WebDriverWait(driver, timeout_s)
    try:
        wait.until(ec.presence_of_element_located((By.NAME, "username"))).send_keys(username)
        driver.find_element(By.NAME, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit]").click()
        wait.until(lambda d: d.get_cookie("sessionid") is not None)
    except TimeoutException:
        raise RemoteStop("login failed: no session cookie after submitting the form") from None
    log.info("logged in as %s", username)


def save_session(driver: Any, path: str | Path) -> None:
    """Keep the browser's cookies for the next run, readable by the owner only."""
    atomic_write_json(path, {"cookies": driver.get_cookies()}, mode=SESSION_FILE_MODE)
