"""/docs and /redoc render offline in Chromium; the form page names the model, its labels, an
example and the docs, and keeps what the user typed, after an answer and after a refusal."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait


@pytest.fixture(scope="module")
def predictor(tiny_predictor):
    return tiny_predictor("both")


@pytest.fixture(scope="module")
def client(build_app, predictor):
    with TestClient(build_app(predictor)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def site(build_app, running_server, predictor, chromium_ready):
    with running_server(build_app(predictor)) as base:
        yield base


def _resources_outside(browser, base: str) -> list[str]:
    """Scripts, styles and data the page fetched from anywhere but the app. (Images are left
    out: ReDoc's "API docs by Redocly" footer links its logo from cdn.redoc.ly, which offline
    is a missing picture and nothing more.)"""
    entries = browser.execute_script(
        "return performance.getEntriesByType('resource')"
        ".map(entry => [entry.name, entry.initiatorType])"
    )
    return [url for url, kind in entries if kind != "img" and not url.startswith(base)]


@pytest.mark.browser
def test_swagger_ui_renders_the_operations_offline(site, browser):
    browser.get(f"{site}/docs")
    WebDriverWait(browser, 60).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".opblock"))
    )
    paths = {
        element.get_attribute("data-path")
        for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    }
    assert {"/predict", "/api/predict", "/healthz", "/readyz"} <= paths
    assert _resources_outside(browser, site) == []


@pytest.mark.browser
def test_redoc_renders_the_operations_offline(site, browser):
    browser.get(f"{site}/redoc")
    WebDriverWait(browser, 60).until(
        lambda driver: "JSON prediction" in driver.find_element(By.TAG_NAME, "body").text
    )
    assert "Readiness" in browser.find_element(By.TAG_NAME, "body").text
    assert _resources_outside(browser, site) == []


@pytest.mark.browser
def test_worked_example_link_predicts(site, browser):
    browser.get(f"{site}/")
    browser.find_element(By.ID, "example-link").click()
    WebDriverWait(browser, 60).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#hashtags .tag"))
    )
    assert len(browser.find_elements(By.CSS_SELECTOR, "#hashtags .tag")) == 5
    assert "Golden hour" in browser.find_element(By.ID, "caption").text


def test_form_page_names_the_run_and_lists_its_labels(tiny_labels, client, predictor):
    page = client.get("/").text
    header = re.search(r'id="model-name">([^<]*)<', page).group(1)
    assert header.startswith(f"model {predictor.name} · {tiny_labels} hashtags")
    assert predictor.name == "run-both"  # the run's recorded name
    listed = re.findall(r"<li>#([^<]*)</li>", page)
    assert listed == predictor.labels
    assert 'href="/docs"' in page and 'href="/redoc"' in page and 'id="example-link"' in page


def test_refused_form_comes_back_with_the_caption_and_settings(client):
    response = client.post(
        "/predict",
        data={"text": "#sunset @sam", "n_label": "3", "max_seq_len": "8"},
    )
    assert response.status_code == 422
    page = response.text
    assert 'id="error"' in page and "send a caption" in page
    assert ">#sunset @sam</textarea>" in page
    assert 'id="n_label" min="1" max="12" value="3"' in page
    assert 'id="max_seq_len" min="1" max="32" value="8"' in page


def test_answered_form_keeps_the_caption_and_settings(client):
    data = {"text": "word1 today", "n_label": "3", "max_seq_len": "8", "image_url": ""}
    response = client.post("/predict", data=data)
    assert response.status_code == 200
    page = response.text
    assert 'id="hashtags"' in page and 'id="notes"' not in page
    assert ">word1 today</textarea>" in page
    assert 'id="n_label" min="1" max="12" value="3"' in page
    assert 'id="max_seq_len" min="1" max="32" value="8"' in page
    capped = client.post("/predict", data={**data, "max_seq_len": "500"}).text
    assert 'id="max_seq_len" min="1" max="32" value="32"' in capped  # as it was read
    assert 'id="notes"' in capped


def test_refused_original_url_keeps_its_query_in_the_form(client):
    response = client.get("/predict", params={"text": "word1 today", "n_label": 500})
    assert response.status_code == 422
    assert ">word1 today</textarea>" in response.text
    assert 'value="500"' in response.text


def test_docs_pages_name_no_cdn(client):
    for path in ("/docs", "/redoc"):
        page = client.get(path).text
        assert "cdn.jsdelivr.net" not in page and "fonts.googleapis" not in page, path
    for asset in ("redoc.standalone.js", "swagger-ui-bundle.js", "swagger-ui.css"):
        assert client.get(f"/docs-assets/{asset}").status_code == 200, asset
