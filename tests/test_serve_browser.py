"""The form page in real headless Chromium: caption + upload (or URL), submit, read the tags."""

from __future__ import annotations

import base64
import tempfile

import httpx
import pytest
from drive_mock import running_drive_mock
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from serve_support import build_app, image_bytes, running_server, tiny_predictor

from crawler.browser import OFFLINE_SAFE_FLAGS

pytestmark = pytest.mark.browser
CAPTION = "word1 with friends <b>bold?</b>"


@pytest.fixture(scope="module")
def site(chromium_ready):
    with running_drive_mock() as mock:
        mock.add_plain_file("photo.jpg", image_bytes())
        app = build_app(tiny_predictor("both"), allow_private_urls=True)
        with running_server(app) as base:
            yield base, mock


@pytest.fixture(scope="module")
def driver(chromium_ready):
    with tempfile.TemporaryDirectory(prefix="serve-browser-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in OFFLINE_SAFE_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            yield browser
        finally:
            browser.quit()


def submit_and_read(driver, base: str, fill) -> tuple[list[str], list[str]]:
    driver.get(f"{base}/")
    driver.find_element(By.ID, "text").send_keys(CAPTION)
    fill()
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, 60).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#hashtags .tag"))
    )
    tags = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#hashtags .tag-name")]
    bars = [
        e.get_attribute("style") for e in driver.find_elements(By.CSS_SELECTOR, "#hashtags .fill")
    ]
    return tags, bars


def api_tags(base: str, **request) -> list[str]:
    response = httpx.post(f"{base}/api/predict", json={"text": CAPTION, **request}, timeout=60)
    return ["#" + item["tag"] for item in response.json()["hashtags"]]


def test_upload_form_shows_image_caption_and_tags(site, driver, tmp_path):
    base, _ = site
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(image_bytes())
    tags, bars = submit_and_read(
        driver, base, lambda: driver.find_element(By.ID, "image").send_keys(str(photo))
    )
    assert len(tags) == 10 and all(tag.startswith("#topic") for tag in tags)
    assert all(bar.startswith("width:") for bar in bars)
    assert driver.find_element(By.ID, "caption").text == CAPTION  # escaped, shown as text
    assert driver.find_element(By.ID, "preview").get_attribute("src").startswith("data:image/jpeg")
    assert tags == api_tags(base, image_base64=base64.b64encode(photo.read_bytes()).decode())


def test_url_form_fetches_a_loopback_image_when_allowed(site, driver):
    base, mock = site
    url = f"{mock.base_url}/files/photo.jpg"
    tags, _ = submit_and_read(
        driver, base, lambda: driver.find_element(By.ID, "image_url").send_keys(url)
    )
    assert tags == api_tags(base, image_url=url)
