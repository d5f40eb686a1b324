"""Hostile and broken inputs: each gets a clear 4xx, never a fetch it should not make."""

from __future__ import annotations

import io
import os
import socket

import pytest
from fastapi.testclient import TestClient
from PIL import Image

import serve.remote_images

JSON = {"Accept": "application/json"}
MAX_UPLOAD = 4000


@pytest.fixture(scope="module")
def predictor(tiny_predictor):
    return tiny_predictor("both")


@pytest.fixture(scope="module")
def mock(image_bytes, running_drive_mock):
    with running_drive_mock() as drive:
        drive.add_drive_file("ok", image_bytes())
        drive.add_plain_file("red.jpg", image_bytes())
        drive.add_plain_file("big.png", image_bytes(size=400, fmt="BMP"), "image/bmp")
        yield drive


@pytest.fixture(scope="module")
def client_for(build_app):
    def client_for(predictor, mock, **overrides) -> TestClient:
        settings = {
            "drive_base_url": mock.drive_base_url,
            "max_upload_bytes": MAX_UPLOAD,
            **overrides,
        }
        return TestClient(build_app(predictor, **settings))

    return client_for


@pytest.fixture(scope="module")
def strict(client_for, predictor, mock):
    """An app with the address policy on, as in production."""
    with client_for(predictor, mock) as client:
        yield client


@pytest.fixture(scope="module")
def lenient(client_for, predictor, mock):
    with client_for(predictor, mock, allow_private_urls=True, max_text_chars=50) as client:
        yield client


def detail(response) -> str:
    return response.json()["detail"]


def test_image_id_outside_drive_alphabet_is_refused_before_any_fetch(lenient, mock):
    before = len(mock.requests)
    response = lenient.get("/predict", params={"image_id": "../../etc/passwd"}, headers=JSON)
    assert response.status_code == 422
    assert detail(response) == "image_id: String should match pattern '^[A-Za-z0-9_-]{1,128}$'"
    assert len(mock.requests) == before


def test_nothing_is_written_under_the_working_directory(lenient, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    response = lenient.get("/predict", params={"image_id": "ok", "text": "x"}, headers=JSON)
    assert response.status_code == 200
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("url", ["ftp://example.com/a.jpg", "file:///etc/passwd", "gopher://x/"])
def test_image_url_must_be_http_or_https(strict, url):
    response = strict.get("/predict", params={"image_url": url}, headers=JSON)
    assert response.status_code == 400
    assert detail(response) == "only http:// and https:// URLs are fetched"


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.10",
        "169.254.169.254",
        "240.0.0.1",
        "[::1]",
        "0.0.0.0",
        "100.64.0.1",  # shared (carrier-grade NAT) space: neither private nor global
        "[::ffff:127.0.0.1]",  # IPv4-mapped loopback
        "[2002:7f00:1::]",  # 6to4 carrying 127.0.0.1
        "[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo carrying 127.0.0.1
    ],
)
def test_non_public_addresses_are_refused(strict, host):
    response = strict.get("/predict", params={"image_url": f"http://{host}/x.jpg"}, headers=JSON)
    assert response.status_code == 400
    assert "a non-public address; refused" in detail(response)


def test_address_is_checked_after_dns(strict, mock, monkeypatch):
    real = socket.getaddrinfo

    def fake_dns(host, *args, **kwargs):
        return real("127.0.0.1" if host == "innocent.example" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    port = mock.base_url.rsplit(":", 1)[1]
    url = f"http://innocent.example:{port}/files/red.jpg"
    response = strict.get("/predict", params={"image_url": url}, headers=JSON)
    assert response.status_code == 400
    assert detail(response) == (
        "host 'innocent.example' resolves to 127.0.0.1, a non-public address; refused"
    )


def test_connection_goes_to_the_checked_address_with_the_original_host(strict, mock, monkeypatch):
    """The checked IP is the one connected to (no second DNS lookup to rebind)."""
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: real("127.0.0.1" if host == "public.example" else host, *a, **k),
    )
    monkeypatch.setattr(
        serve.remote_images, "_is_public", lambda address: str(address) == "127.0.0.1"
    )
    port = mock.base_url.rsplit(":", 1)[1]
    url = f"http://public.example:{port}/files/red.jpg"
    response = strict.get("/predict", params={"image_url": url, "text": "x"}, headers=JSON)
    assert response.status_code == 200
    assert ("/files/red.jpg", f"public.example:{port}") in mock.requests


def test_every_redirect_is_checked(strict, mock, monkeypatch):
    # Treat 127.0.0.1 as "public" and 127.0.0.2 as private, to test the redirect hop on loopback.
    monkeypatch.setattr(
        serve.remote_images, "_is_public", lambda address: str(address) == "127.0.0.1"
    )
    port = mock.base_url.rsplit(":", 1)[1]
    allowed = f"{mock.base_url}/redirect?to=/files/red.jpg"
    refused = f"{mock.base_url}/redirect?to=http://127.0.0.2:{port}/files/red.jpg"
    assert strict.get("/predict", params={"image_url": allowed}, headers=JSON).status_code == 200
    response = strict.get("/predict", params={"image_url": refused}, headers=JSON)
    assert response.status_code == 400
    assert (
        detail(response) == "host '127.0.0.2' resolves to 127.0.0.2, a non-public address; refused"
    )


def test_redirect_loops_stop(lenient, mock):
    response = lenient.get("/predict", params={"image_url": f"{mock.base_url}/loop"}, headers=JSON)
    assert response.status_code == 400
    assert detail(response) == "more than 5 redirects"


def test_drive_redirect_loop_is_an_upstream_failure(client_for, predictor, mock):
    loop = f"{mock.base_url}/loop"
    with client_for(predictor, mock, allow_private_urls=True, drive_base_url=loop) as client:
        response = client.get("/predict", params={"image_id": "ok"}, headers=JSON)
    assert response.status_code == 502
    assert response.json() == {"detail": "more than 5 redirects", "reason": "too_many_redirects"}


def test_unreachable_image_url_is_a_client_error(lenient):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    response = lenient.get(
        "/predict", params={"image_url": f"http://127.0.0.1:{port}/a.jpg"}, headers=JSON
    )
    assert response.status_code == 400
    assert detail(response).startswith(f"cannot fetch http://127.0.0.1:{port}/a.jpg: ")


def test_download_time_is_bounded_in_total_not_per_read(client_for, predictor, mock):
    """A byte every 0.1 s never trips a per-read timeout; the whole fetch has one budget."""
    url = f"{mock.base_url}/trickle"
    with client_for(predictor, mock, allow_private_urls=True, fetch_timeout_s=0.5) as client:
        response = client.get("/predict", params={"image_url": url}, headers=JSON)
    assert response.status_code == 400
    assert detail(response) == "the image download took over 0.5 s"


def test_fetched_image_over_the_byte_limit_is_refused(lenient, mock):
    url = f"{mock.base_url}/files/big.png"
    response = lenient.get("/predict", params={"image_url": url}, headers=JSON)
    assert response.status_code == 400
    assert detail(response) == f"the image is larger than {MAX_UPLOAD} bytes"


def test_upload_over_the_limit_is_413(lenient):
    response = lenient.post(
        "/predict",
        files={"image": ("a.jpg", b"\xff" * (MAX_UPLOAD + 1), "image/jpeg")},
        headers=JSON,
    )
    assert response.status_code == 413
    assert detail(response) == f"the upload is over {MAX_UPLOAD} bytes"


def test_huge_body_is_413_before_it_is_read(lenient):
    response = lenient.post(
        "/predict", files={"image": ("a.jpg", b"\0" * 200_000, "image/jpeg")}, headers=JSON
    )
    assert response.status_code == 413
    assert detail(response).startswith("request body over ")


def test_chunked_body_is_411_before_it_is_read(lenient):
    """Without a Content-Length the 413 check cannot run, so a body of unknown size is refused."""
    chunks = (b"\0" * 1000 for _ in range(3))
    response = lenient.post("/api/predict", content=chunks, headers=JSON)
    assert response.status_code == 411
    assert detail(response) == "send the body with a Content-Length"


def bomb_png() -> bytes:
    """A ~10 kB PNG that decodes to 100 megapixels."""
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"this is not an image", "not a supported image (allowed: JPEG, PNG, GIF, WEBP, BMP)"),
        ("a truncated JPEG", "corrupt image: "),
    ],
)
def test_non_image_and_corrupt_upload_are_400(image_bytes, lenient, payload, message):
    if payload == "a truncated JPEG":
        payload = image_bytes(size=300)[:600]
    response = lenient.post(
        "/predict", files={"image": ("a.jpg", payload, "image/jpeg")}, headers=JSON
    )
    assert response.status_code == 400
    assert detail(response).startswith(message)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_is_400(client_for, predictor, mock):
    bomb = bomb_png()
    assert len(bomb) < 100_000
    with client_for(predictor, mock, max_upload_bytes=200_000) as client:
        response = client.post(
            "/predict", files={"image": ("b.png", bomb, "image/png")}, headers=JSON
        )
    assert response.status_code == 400
    assert detail(response) == (
        "image is 10000x10000 = 100000000 pixels, over the limit of 40000000 "
        "(possible decompression bomb)"
    )


def test_text_over_the_limit_is_422_before_any_fetch(lenient, mock):
    before = len(mock.requests)
    url = f"{mock.base_url}/files/red.jpg"
    response = lenient.post("/api/predict", json={"text": "a" * 51, "image_url": url})
    assert response.status_code == 422
    assert detail(response) == "text is 51 characters; the limit is 50"
    assert len(mock.requests) == before


def test_api_image_id_is_validated_too(lenient, mock):
    before = len(mock.requests)
    response = lenient.post("/api/predict", json={"image_id": "a/../../b"})
    assert response.status_code == 422
    assert detail(response) == "image_id may hold only letters, digits, '-' and '_'"
    assert len(mock.requests) == before


def test_caption_is_escaped_in_the_result_page(lenient):
    caption = "<script>alert(1)</script>"
    response = lenient.get("/predict", params={"image_id": "ok", "text": caption})
    assert response.status_code == 200
    assert "<script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_user_strings_are_escaped_in_error_pages(lenient, mock):
    url = f"{mock.base_url}/<script>alert(1)</script>"
    response = lenient.get("/predict", params={"image_url": url})
    assert response.status_code == 404
    assert "<script>" not in response.text
    assert "&lt;script&gt;" in response.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_seq_len": 0}, "max_seq_len: Input should be greater than or equal to 1"),
        ({"n_label": 0}, "n_label: Input should be greater than or equal to 1"),
        ({"n_label": "ten"}, "n_label: Input should be a valid integer, unable to parse string"),
    ],
)
def test_schema_bounds_are_422_with_message(lenient, params, message):
    response = lenient.get("/predict", params={"text": "x", **params}, headers=JSON)
    assert response.status_code == 422
    assert detail(response).startswith(message)


def test_n_label_over_the_model_is_422_with_message(lenient, predictor):
    labels = len(predictor.labels)
    response = lenient.get("/predict", params={"text": "x", "n_label": labels + 1}, headers=JSON)
    assert response.status_code == 422
    assert detail(response) == (
        f"n_label must be between 1 and {labels} (the number of hashtags the model knows)"
    )


def test_two_image_sources_are_422(lenient, mock):
    params = {"image_id": "ok", "image_url": f"{mock.base_url}/files/red.jpg"}
    response = lenient.get("/predict", params=params, headers=JSON)
    assert response.status_code == 422
    assert detail(response) == "give one image source, not image_id and image_url"


def test_bad_base64_is_400(lenient):
    response = lenient.post("/api/predict", json={"image_base64": "@@not base64@@"})
    assert response.status_code == 400
    assert detail(response) == "image_base64 is not valid base64"
