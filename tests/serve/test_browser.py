"""The form page in real headless Chromium: caption + upload (or URL), submit, read the tags."""

from __future__ import annotations

import base64

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser
CAPTION = "word1 with friends <b>bold?</b>"


@pytest.fixture(scope="module")
def site(
    build_app, image_bytes, running_drive_mock, running_server, tiny_predictor, chromium_ready
):
    with running_drive_mock() as mock:
        mock.add_plain_file("photo.jpg", image_bytes())
        app = build_app(tiny_predictor("both"), allow_private_urls=True)
        with running_server(app) as base:
            yield base, mock


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


def test_upload_form_shows_image_caption_and_tags(image_bytes, site, browser, tmp_path):
    base, _ = site
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(image_bytes())
    tags, bars = submit_and_read(
        browser, base, lambda: browser.find_element(By.ID, "image").send_keys(str(photo))
    )
    assert len(tags) == 10 and all(tag.startswith("#topic") for tag in tags)
    assert all(bar.startswith("width:") for bar in bars)
    assert browser.find_element(By.ID, "caption").text == CAPTION  # escaped, shown as text
    assert browser.find_element(By.ID, "preview").get_attribute("src").startswith("data:image/jpeg")
    assert tags == api_tags(base, image_base64=base64.b64encode(photo.read_bytes()).decode())


def test_url_form_fetches_a_loopback_image_when_allowed(site, browser):
    base, mock = site
    url = f"{mock.base_url}/files/photo.jpg"
    tags, _ = submit_and_read(
        browser, base, lambda: browser.find_element(By.ID, "image_url").send_keys(url)
    )
    assert tags == api_tags(base, image_url=url)


def test_phone_photo_is_shown_upright(image_twins, site, browser, tmp_path):
    """A JPEG stored landscape with EXIF orientation 6 appears portrait, as on the phone."""
    base, _ = site
    photo = tmp_path / "phone.jpg"
    photo.write_bytes(image_twins["exif6"][0])
    submit_and_read(
        browser, base, lambda: browser.find_element(By.ID, "image").send_keys(str(photo))
    )
    preview = browser.find_element(By.ID, "preview")
    width, height = browser.execute_script(
        "return [arguments[0].naturalWidth, arguments[0].naturalHeight]", preview
    )
    assert (width, height) == (48, 64)
