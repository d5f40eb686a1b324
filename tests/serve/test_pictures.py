"""Serving sees pictures as training did: a phone photo with EXIF orientation 6 and a transparent
PNG score the same as their upright / white-backed twins through the upload, ``image_url``,
``image_base64`` and the Predictor, and the page shows them upright."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

JSON = {"Accept": "application/json"}
CAPTION = "word1 at the beach with friends"
TWINS = ["exif6", "rgba"]


@pytest.fixture(scope="module")
def predictor(tiny_predictor):
    return tiny_predictor("both")


@pytest.fixture(scope="module")
def served(build_app, image_twins, running_drive_mock, predictor):
    with running_drive_mock() as mock:
        for name, (stored, shown) in image_twins.items():
            mock.add_plain_file(
                f"{name}-stored", stored, "image/png" if name == "rgba" else "image/jpeg"
            )
            mock.add_plain_file(f"{name}-shown", shown, "image/png")
        app = build_app(predictor, allow_private_urls=True)
        with TestClient(app) as client:
            yield client, mock


def scores(response) -> dict[str, float]:
    assert response.status_code == 200, response.text
    return {item["tag"]: item["score"] for item in response.json()["hashtags"]}


def scores_by_route(served, file_name: str, data: bytes, labels: int) -> dict[str, dict]:
    """Every label's score for one picture through each route that takes an image's bytes."""
    client, mock = served
    fields = {"text": CAPTION, "n_label": labels}
    upload = client.post(
        "/predict",
        data={**fields, "n_label": str(labels)},
        files={"image": ("photo", data, "application/octet-stream")},
        headers=JSON,
    )
    encoded = base64.b64encode(data).decode("ascii")
    by_base64 = client.post("/api/predict", json={**fields, "image_base64": encoded})
    url = f"{mock.base_url}/files/{file_name}"
    by_url = client.get("/predict", params={**fields, "image_url": url}, headers=JSON)
    return {
        "upload": scores(upload),
        "image_base64": scores(by_base64),
        "image_url": scores(by_url),
    }


@pytest.mark.parametrize("name", TWINS)
def test_every_route_scores_a_file_as_its_twin(served, image_twins, predictor, name):
    stored, shown = image_twins[name]
    labels = len(predictor.labels)
    got = scores_by_route(served, f"{name}-stored", stored, labels)
    expected = scores_by_route(served, f"{name}-shown", shown, labels)
    assert got == expected
    assert got["upload"] == got["image_base64"] == got["image_url"]


@pytest.mark.parametrize("name", TWINS)
def test_predictor_scores_a_file_as_its_twin(image_twins, predictor, name):
    stored, shown = (Image.open(io.BytesIO(data)) for data in image_twins[name])
    text = predictor.model_text(CAPTION)
    as_sent = predictor.scores([text], [stored])
    assert np.array_equal(as_sent, predictor.scores([text], [shown]))
    # The old reading (convert("RGB") of the stored frame, EXIF dropped) scores differently,
    # so the equality above is the preparation's doing.
    bare = Image.fromarray(np.asarray(stored.convert("RGB")))
    assert not np.array_equal(as_sent, predictor.scores([text], [bare]))


def preview_of(page: str) -> Image.Image:
    data_uri = re.search(r'id="preview" src="data:image/jpeg;base64,([^"]+)"', page).group(1)
    return Image.open(io.BytesIO(base64.b64decode(data_uri)))


def test_the_page_shows_the_phone_photo_upright(served, image_twins):
    client, mock = served
    stored, _ = image_twins["exif6"]
    form = client.post(
        "/predict", data={"text": CAPTION}, files={"image": ("p.jpg", stored, "image/jpeg")}
    )
    url = f"{mock.base_url}/files/exif6-stored"
    page = client.get("/predict", params={"text": CAPTION, "image_url": url})
    for response in (form, page):
        preview = preview_of(response.text)
        assert preview.size == (48, 64)  # portrait, as the phone showed it
        red, green, blue = preview.getpixel((24, 3))
        assert red > 170 and green < 100 and blue < 100  # the red band on top


def test_the_page_shows_a_transparent_png_on_white(served, image_twins):
    client, _ = served
    stored, _ = image_twins["rgba"]
    response = client.post(
        "/predict", data={"text": CAPTION}, files={"image": ("p.png", stored, "image/png")}
    )
    assert all(channel > 245 for channel in preview_of(response.text).getpixel((5, 24)))
