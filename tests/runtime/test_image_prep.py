"""One image preparation: its own answers (upright, on white, RGB, one resize filter), and every
stage that reads a picture file giving the pixels a viewer shows through it."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from preprocess.image_stage import decode_normalized
from runtime import image_prep
from serve.remote_images import decode_image
from train.data import ImageInput, load_pixels
from train.evaluate import open_images

WHITE = (255, 255, 255)


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def pixels(image: Image.Image) -> np.ndarray:
    assert image.mode == "RGB"
    return np.asarray(image)


@pytest.mark.parametrize("name", ["exif6", "rgba"])
def test_prepare_gives_what_a_viewer_shows(image_twins, name: str) -> None:
    stored, shown = image_twins[name]
    prepared = image_prep.prepare(opened(stored))
    assert np.array_equal(pixels(prepared), pixels(opened(shown).convert("RGB")))
    assert np.array_equal(pixels(image_prep.prepare(prepared)), pixels(prepared))  # idempotent


def test_a_bare_rgb_conversion_differs_from_the_prepared_picture(image_twins) -> None:
    """What the stages did before: the EXIF photo sideways, the cut-out on black."""
    for stored, shown in image_twins.values():
        bare = opened(stored).convert("RGB")
        assert bare.size != opened(shown).size or not np.array_equal(
            pixels(bare), pixels(opened(shown))
        )


def test_exif_photo_comes_out_upright_and_the_callers_image_is_unchanged(image_twins) -> None:
    original = opened(image_twins["exif6"][0])
    prepared = image_prep.prepare(original)
    assert original.size == (64, 48) and prepared.size == (48, 64)
    red, green, blue = prepared.getpixel((24, 4))
    assert red > 180 and green < 90 and blue < 90  # the red band is on top
    assert 0x0112 not in prepared.getexif()


def test_rgb_without_orientation_is_returned_as_is() -> None:
    image = Image.new("RGB", (8, 6), (10, 20, 30))
    assert image_prep.prepare(image) is image


def transparent_palette() -> Image.Image:
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 0, 200, 30, 30])
    image.putpixel((0, 0), 1)
    image.info["transparency"] = 0
    return image


def rgb_with_transparent_colour() -> Image.Image:
    image = Image.new("RGB", (4, 4), (0, 0, 0))
    image.putpixel((0, 0), (200, 30, 30))
    image.info["transparency"] = (0, 0, 0)
    return image


def grey_with_alpha() -> Image.Image:
    image = Image.new("LA", (4, 4), (0, 0))
    image.putpixel((0, 0), (90, 255))
    return image


@pytest.mark.parametrize(
    "make", [transparent_palette, rgb_with_transparent_colour, grey_with_alpha]
)
def test_every_kind_of_transparency_is_put_on_white(make) -> None:
    image = make()
    for saved in (image, opened(encoded_png(image))):  # in memory, and as a PNG file holds it
        prepared = image_prep.prepare(saved)
        assert prepared.mode == "RGB"
        assert prepared.getpixel((3, 3)) == WHITE
        assert prepared.getpixel((0, 0)) != WHITE


def encoded_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["L", "CMYK", "I;16", "P", "1"])
def test_other_modes_become_rgb(mode: str) -> None:
    assert image_prep.prepare(Image.new(mode, (5, 3))).mode == "RGB"


def test_shrink_uses_one_filter_and_never_upscales() -> None:
    image = Image.new("RGB", (600, 400), (1, 2, 3))
    assert image_prep.shrink(image, 256).size == (384, 256)
    assert image_prep.shrink(image, 500) is image
    assert image_prep.RESAMPLE == Image.Resampling.BILINEAR


def test_thumbnail_is_an_upright_jpeg_without_exif(image_twins) -> None:
    uri = image_prep.thumbnail_data_uri(opened(image_twins["exif6"][0]), 32, quality=90)
    prefix = "data:image/jpeg;base64,"
    assert uri.startswith(prefix)
    thumbnail = opened(base64.b64decode(uri[len(prefix) :]))
    assert (thumbnail.format, thumbnail.size) == ("JPEG", (24, 32))
    assert 0x0112 not in thumbnail.getexif()


@pytest.fixture()
def twin_files(image_twins, tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    """Each twin pair written as files, as a dataset's images folder or a user's folder holds."""
    files = {}
    for name, (stored, shown) in image_twins.items():
        files[name] = (tmp_path / f"{name}-stored", tmp_path / f"{name}-shown.png")
        files[name][0].write_bytes(stored)
        files[name][1].write_bytes(shown)
    return files


@pytest.mark.parametrize("name", ["exif6", "rgba"])
def test_every_stage_reads_a_file_as_its_twin(image_twins, twin_files, name: str) -> None:
    """The build, the server's decoding, training's loader and evaluation all prepare alike."""
    stored, shown = image_twins[name]
    stored_path, shown_path = twin_files[name]
    expected = pixels(opened(shown).convert("RGB"))
    readers = {
        "build": lambda data, path: decode_normalized(data, image_size=1024, max_pixels=10**6),
        "serve": lambda data, path: decode_image(data, max_pixels=10**6),
        "load": lambda data, path: image_prep.load(path),
        "evaluate": lambda data, path: open_images([path])[0],
    }
    for stage, read in readers.items():
        assert np.array_equal(pixels(read(stored, stored_path)), expected), stage
    transform = ImageInput(size=32).transform()
    assert torch.equal(
        load_pixels(stored_path, transform, 32), load_pixels(shown_path, transform, 32)
    )
