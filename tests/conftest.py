"""Shared pytest fixtures: the real-capture folder and the headless-browser prerequisites."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures" / "instagram"


@pytest.fixture(scope="session")
def instagram_fixtures() -> Path:
    """../shared/fixtures/instagram: real captures; tests skip only where it is absent."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip("../shared/fixtures/instagram is absent")
    return SHARED_FIXTURES


@pytest.fixture(scope="session")
def chromium_ready() -> None:
    """Skip browser tests only where Chromium is not installed (``make test`` installs it)."""
    if not (shutil.which("chromium") or shutil.which("chromium-browser")) or not shutil.which(
        "chromedriver"
    ):
        pytest.skip("chromium + chromedriver not installed (make browser)")
