"""The API contract: the original's GET /predict, JSON, uploads, image_url, probes and metrics."""

from __future__ import annotations

import copy
import re

import pytest
from fastapi.testclient import TestClient

JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def predictor(tiny_predictor):
    return tiny_predictor("both")


@pytest.fixture(scope="module")
def served(build_app, image_bytes, running_drive_mock, predictor):
    with running_drive_mock() as mock:
        mock.add_drive_file("photo_1-A", image_bytes((220, 40, 40)))
        mock.add_drive_file("bigPhoto", image_bytes((40, 40, 220)), interstitial="form")
        mock.add_drive_file("oldPage", image_bytes((40, 220, 40)), interstitial="link")
        mock.add_plain_file("red.png", image_bytes((220, 40, 40), fmt="PNG"), "image/png")
        app = build_app(predictor, drive_base_url=mock.drive_base_url, allow_private_urls=True)
        with TestClient(app) as client:
            yield client, mock


def tags_of(response) -> list[str]:
    return [item["tag"] for item in response.json()["hashtags"]]


def test_original_url_answers_html_page_with_image_caption_and_tags(served, predictor):
    client, _ = served
    response = client.get(
        "/predict",
        params={
            "image_id": "photo_1-A",
            "text": "20 days till Christmas 😍🎅",
            "max_seq_len": 20,
            "n_label": 10,
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'src="data:image/jpeg;base64,' in response.text
    assert "20 days till Christmas 😍🎅" in response.text
    line = re.search(r'id="hashtag-line"[^>]*>([^<]*)<', response.text).group(1)
    assert len(line.split()) == min(10, len(predictor.labels))
    assert all(tag.startswith("#") for tag in line.split())


def test_original_url_defaults_and_json_when_accept_asks(served, predictor):
    client, _ = served
    response = client.get(
        "/predict", params={"image_id": "photo_1-A", "text": "xmas"}, headers=JSON
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"hashtags", "model", "latency_ms", "max_seq_len", "notes"}
    assert body["model"] == predictor.name
    assert (body["max_seq_len"], body["notes"]) == (predictor.max_seq_len, [])
    assert len(body["hashtags"]) == min(10, len(predictor.labels))
    scores = [item["score"] for item in body["hashtags"]]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert all(item["tag"] in predictor.labels for item in body["hashtags"])


def test_same_image_by_drive_upload_url_and_api_gives_same_tags(image_bytes, served):
    client, mock = served
    params = {"text": "sunset at the beach", "n_label": 5}
    by_drive = client.get("/predict", params={**params, "image_id": "photo_1-A"}, headers=JSON)
    by_url = client.get(
        "/predict", params={**params, "image_url": f"{mock.base_url}/files/red.png"}, headers=JSON
    )
    by_upload = client.post(
        "/predict",
        data={"text": params["text"], "n_label": "5"},
        files={"image": ("x.jpg", image_bytes((220, 40, 40)), "image/jpeg")},
        headers=JSON,
    )
    by_api = client.post(
        "/api/predict",
        json={**params, "image_url": f"{mock.base_url}/files/red.png"},
    )
    assert [r.status_code for r in (by_drive, by_url, by_upload, by_api)] == [200] * 4
    assert len(tags_of(by_drive)) == 5
    # JPEG vs PNG of the same flat colour decode to the same pixels (up to JPEG rounding).
    assert tags_of(by_url) == tags_of(by_api)


LONG_CAPTION = " ".join(f"word{i % 12} sunset" for i in range(30))


def test_max_seq_len_defaults_to_the_models_own_length(served, predictor):
    client, _ = served
    request = {"text": LONG_CAPTION, "n_label": len(predictor.labels)}
    default = client.post("/api/predict", json=request).json()
    own = client.post("/api/predict", json={**request, "max_seq_len": predictor.max_seq_len})
    original = client.post("/api/predict", json={**request, "max_seq_len": 20})
    assert default["max_seq_len"] == predictor.max_seq_len == 32
    assert default["hashtags"] == own.json()["hashtags"]
    assert default["hashtags"] != original.json()["hashtags"]  # the caption is cut at 20


def test_max_seq_len_over_the_models_is_capped_and_said(served, predictor):
    client, _ = served
    request = {"text": LONG_CAPTION, "n_label": len(predictor.labels)}
    default = client.post("/api/predict", json=request).json()
    over = client.post("/api/predict", json={**request, "max_seq_len": 100})
    assert over.status_code == 200
    note = "max_seq_len 100 is more than this model's 32 caption tokens; 32 were used"
    assert over.json()["notes"] == [note]
    assert over.json()["max_seq_len"] == 32
    assert over.json()["hashtags"] == default["hashtags"]
    page = client.get("/predict", params={"text": LONG_CAPTION, "max_seq_len": 100})
    assert page.status_code == 200
    assert f'<p id="notes" class="note">{note.replace(chr(39), "&#39;")}</p>' in page.text


@pytest.mark.parametrize("file_id", ["bigPhoto", "oldPage"])
def test_drive_virus_scan_interstitial_is_passed(served, file_id):
    client, mock = served
    response = client.get("/predict", params={"image_id": file_id, "text": "hi"}, headers=JSON)
    assert response.status_code == 200
    confirmed = [
        path for path, _ in mock.requests if f"id={file_id}" in path and "confirm=" in path
    ]
    assert confirmed, "the confirm step was not taken"


def test_bad_drive_id_is_404_with_message(served):
    client, _ = served
    response = client.get(
        "/predict", params={"image_id": "doesNotExist", "text": "x"}, headers=JSON
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "no public Google Drive file with id 'doesNotExist'"


def test_post_form_renders_index_with_bars(image_bytes, served):
    client, _ = served
    response = client.post(
        "/predict",
        data={"text": "my cat"},
        files={"image": ("cat.png", image_bytes(fmt="PNG"), "image/png")},
    )
    assert response.status_code == 200
    assert 'id="predict-form"' in response.text
    assert response.text.count('class="fill" style="width:') >= 1
    assert "my cat" in response.text


def test_text_only_and_image_only_work_for_a_two_input_model(served):
    client, _ = served
    text_only = client.post("/api/predict", json={"text": "beach day"})
    image_only = client.get("/predict", params={"image_id": "photo_1-A"}, headers=JSON)
    assert text_only.status_code == 200 and tags_of(text_only)
    assert image_only.status_code == 200 and tags_of(image_only)


def test_no_input_is_422_with_message(served):
    client, _ = served
    response = client.post("/api/predict", json={"text": "#only #tags"})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "send a caption (hashtags, mentions and URLs are removed from it), an image, or both"
    )


@pytest.mark.parametrize(
    ("modality", "request_json", "message"),
    [
        (
            "text",
            {"image_base64": None},
            "this model predicts from captions: send a non-empty text "
            "(hashtags, mentions and URLs alone are removed)",
        ),
        (
            "image",
            {"text": "only words"},
            "this model predicts from images: send image_id, image_url or an image file",
        ),
    ],
)
def test_single_modality_model_says_what_it_needs(
    build_app, tiny_predictor, modality, request_json, message
):
    app = build_app(tiny_predictor(modality))
    with TestClient(app) as client:
        response = client.post("/api/predict", json=request_json)
    assert response.status_code == 422
    assert response.json()["detail"] == message


def test_probes_and_openapi(served):
    client, _ = served
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/predict", "/api/predict", "/healthz", "/readyz", "/metrics"} <= set(paths)


def test_index_page_has_the_form(served):
    client, _ = served
    page = client.get("/")
    assert page.status_code == 200
    for field in (
        'name="image"',
        'name="image_url"',
        'name="text"',
        'enctype="multipart/form-data"',
    ):
        assert field in page.text


def test_metrics_count_requests_latency_batches_and_errors(served):
    client, _ = served
    client.post("/api/predict", json={"text": "counting"})
    client.post("/api/predict", json={"text": "x", "n_label": 100000})
    text = client.get("/metrics").text
    assert re.search(r'hashtag_requests_total\{route="/api/predict",status="200"\} [1-9]', text)
    assert 'hashtag_request_latency_seconds_bucket{le="0.005",route="/api/predict"}' in text
    assert re.search(r"hashtag_batch_size_count [1-9]", text)
    assert re.search(r'hashtag_errors_total\{reason="bad_n_label"\} [1-9]', text)


def test_captions_become_model_text_as_the_training_data_did(build_app, predictor):
    """A checkpoint trained on a --demojize dataset gets emoji spelt out when served too."""
    seen: list[str | None] = []
    served = copy.copy(predictor)
    served.demojize = True

    def scores(texts, images, max_seq_len=None):
        seen.extend(texts)
        return predictor.scores(texts, images, max_seq_len)

    served.scores = scores  # the app passes the raw caption; the predictor converts it
    with TestClient(build_app(served)) as client:
        response = client.post("/api/predict", json={"text": "Sunset ❤️ #beach @sam"})
    assert response.status_code == 200, response.text
    assert seen == ["Sunset red heart"]
