"""Helpers shared by the serve tests: real tiny checkpoints, image bytes, app construction."""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from PIL import Image
from train_fixtures import PALETTE, make_tiny_checkpoint, make_tiny_dataset

from serve.app import create_app
from serve.settings import ServeSettings
from train.predictor import Predictor

TINY_LABELS = 12


@functools.cache
def _work_dir() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="serve-tests-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


@functools.cache
def tiny_dataset() -> Path:
    """One tiny dataset per test process (training checkpoints on it takes seconds each)."""
    return make_tiny_dataset(_work_dir() / "dataset", n_posts=80, n_labels=TINY_LABELS)


@functools.cache
def tiny_checkpoint(modality: str = "both") -> Path:
    """A trained tiny checkpoint; 32 tokens so the original's ``max_seq_len=20`` URL is valid."""
    run = _work_dir() / f"run-{modality}"
    return make_tiny_checkpoint(tiny_dataset(), run, modality=modality, max_seq_len=32, epochs=1)


def tiny_predictor(modality: str = "both") -> Predictor:
    return Predictor.load(tiny_checkpoint(modality))


def image_bytes(
    color: tuple[int, int, int] = PALETTE[0], size: int = 48, fmt: str = "JPEG"
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format=fmt)
    return buffer.getvalue()


def build_app(predictor, **overrides):
    return create_app(ServeSettings(**overrides), predictor)


@contextlib.contextmanager
def running_server(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yield its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
