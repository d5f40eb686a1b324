"""Which images the project accepts: one list of formats, one byte limit, one pixel limit.

The crawler (``--download-images``), the dataset build and the server all take images from
strangers, and all three decide through :func:`open_image` and :func:`decode`, so an image one
stage keeps is never one another refuses. The numbers live here, not in a stage's YAML,
because no stage reads another's config; a stage setting (``images.max_bytes`` of the build,
``max_upload_bytes`` of the server) may only be stricter: a looser one is capped here.

- Formats: JPEG, PNG, GIF (first frame), WebP, BMP: what Instagram and browsers serve and
  what a researcher's own pictures are. TIFF and the other formats Pillow can read are
  refused: no photo site serves them, and every extra parser is attack surface for bytes from
  anyone.
- :data:`MAX_BYTES` 20 MB: well above an Instagram original (1080 px JPEG, a few hundred kB)
  or a phone photo, low enough that a worker never holds a runaway download in memory.
- :data:`MAX_PIXELS` 40 megapixels: a 50 MP camera frame aside, any real photo fits; read from
  the header, so a small file that decodes to gigabytes (a decompression bomb) is refused
  before a pixel is decoded.

Refusals carry one of the reasons the stages count: ``too_large``, ``not_an_image``,
``decompression_bomb``, ``truncated``, ``corrupt``.
"""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP")
MAX_BYTES = 20_000_000
MAX_PIXELS = 40_000_000


class ImageRefused(ValueError):
    """An image the policy does not take; ``reason`` is the name stages count, the message
    says why in words."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def byte_limit(stage_limit: int | None = None) -> int:
    """The byte limit a stage applies: its own setting when stricter, else the policy's."""
    return MAX_BYTES if stage_limit is None else min(stage_limit, MAX_BYTES)


def pixel_limit(stage_limit: int | None = None) -> int:
    """The pixel limit a stage applies: its own setting when stricter, else the policy's."""
    return MAX_PIXELS if stage_limit is None else min(stage_limit, MAX_PIXELS)


def check_size(size: int, max_bytes: int | None = None) -> None:
    """Refuse ``size`` bytes (a file, a body, a declared Content-Length) over the byte limit."""
    limit = byte_limit(max_bytes)
    if size > limit:
        raise ImageRefused("too_large", f"the image is larger than {limit} bytes")


def open_image(
    data: bytes, max_bytes: int | None = None, max_pixels: int | None = None
) -> Image.Image:
    """Open ``data`` lazily (header only) if the policy takes it; no pixel is decoded yet.

    The pixel limit is checked here rather than through the process-wide
    ``Image.MAX_IMAGE_PIXELS``, so accepting an image does not change Pillow for the rest of
    the program. Pillow's own guard still fires past twice its default limit, and its warning
    counts as a bomb too when a warnings filter turns it into an error.
    """
    check_size(len(data), max_bytes)
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRefused("decompression_bomb", f"image refused: {exc}") from exc
    except UnidentifiedImageError as exc:
        allowed = ", ".join(FORMATS)
        raise ImageRefused("not_an_image", f"not a supported image (allowed: {allowed})") from exc
    except Exception as exc:  # noqa: BLE001 - a known format whose header is cut or malformed
        raise _broken(exc) from exc
    limit = pixel_limit(max_pixels)
    pixels = image.width * image.height
    if pixels > limit:
        raise ImageRefused(
            "decompression_bomb",
            f"image is {image.width}x{image.height} = {pixels} pixels, over the limit of "
            f"{limit} (possible decompression bomb)",
        )
    return image


def decode(image: Image.Image) -> Image.Image:
    """Decode every pixel of an opened image, so a cut download fails here, not downstream."""
    try:
        image.load()
    except Exception as exc:  # noqa: BLE001 - decoders of hostile bytes raise almost anything
        raise _broken(exc) from exc
    return image


def _broken(exc: Exception) -> ImageRefused:
    """A format we take whose data ends early (``truncated``) or makes no sense (``corrupt``)."""
    reason = "truncated" if "truncated" in str(exc).lower() else "corrupt"
    return ImageRefused(reason, f"{reason} image: {exc}")


def accept(data: bytes, max_bytes: int | None = None, max_pixels: int | None = None) -> Image.Image:
    """``data`` opened and fully decoded under the policy, or :class:`ImageRefused`."""
    return decode(open_image(data, max_bytes, max_pixels))
