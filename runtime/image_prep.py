"""One preparation of a decoded picture, the same in every stage that reads one.

The dataset build, training, evaluation, the feature cache, :class:`train.predictor.Predictor`
and the server all pass each image through :func:`prepare`, so a photo is the same pixels
wherever it is read; which images are taken at all is :mod:`runtime.image_policy`'s call.

- **Orientation.** Phones store a portrait photo as a landscape frame with an EXIF orientation
  tag and let the viewer turn it. A bare ``convert("RGB")`` keeps the stored frame, so the
  model scored such a photo sideways (and the result page showed it sideways) while the
  dataset build had stored it upright.
- **Transparency** is put on white (:data:`BACKGROUND`), as a browser shows a transparent PNG
  on a white page. ``convert("RGB")`` drops the alpha channel and keeps whatever colour the
  transparent pixels hold, usually black. Palette images with a transparent index, greyscale
  with alpha, and RGB with a transparent colour (PNG ``tRNS``) count too.
- **Mode**: palette, greyscale, CMYK and 16-bit images become RGB.
- **Resizing** outside the model (the build's stored copies, thumbnails on pages and reports)
  uses one filter, :data:`RESAMPLE`. The model's own input resize is the image encoder's
  (``train.data.ImageInput``, recorded in the checkpoint), so serving repeats training there.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import ExifTags, Image, ImageOps

from runtime.image_policy import ImageRefused

#: Transparent pixels are composited onto white, as a viewer shows them.
BACKGROUND = (255, 255, 255, 255)
#: The filter of every resize outside the model. Pillow widens the bilinear (triangle) kernel
#: with the reduction, so it does not alias; it is the filter torchvision's ``Resize`` applies
#: for the default encoders, and Lanczos cost about twice as much for no visible gain at 256 px.
RESAMPLE = Image.Resampling.BILINEAR


def prepare(image: Image.Image) -> Image.Image:
    """``image`` upright, transparency on white, in RGB; ``image`` itself when already so.

    The caller's image is never changed (treat the answer as read-only: it may be the same
    object). Preparing a prepared image changes nothing, so a stage may prepare what another
    already did. EXIF or a mode Pillow cannot handle is :class:`ImageRefused` ``corrupt``:
    the bytes came from strangers, and their metadata can be as broken as their pixels.
    """
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        if orientation != 1:
            image = ImageOps.exif_transpose(image)
        return _to_rgb(image)
    except Exception as exc:  # noqa: BLE001 - malformed EXIF or an unconvertible mode
        raise ImageRefused("corrupt", f"corrupt image: {exc}") from exc


def load(path: str | Path) -> Image.Image:
    """The image file at ``path``, decoded and prepared; Pillow's ``OSError`` if unreadable.

    For files the project wrote or was given (a dataset's images); bytes from strangers go
    through :func:`runtime.image_policy.accept` first.
    """
    with Image.open(path) as image:
        image.load()
        return prepare(image)


def shrink(image: Image.Image, shorter_side: int) -> Image.Image:
    """Downscale so the shorter side is ``shorter_side``; a smaller image is kept as it is.

    Never upscaled: that invents no detail. ``reducing_gap`` lets a large source be
    box-reduced first, which is cheaper and as good at these ratios.
    """
    width, height = image.size
    if min(width, height) <= shorter_side:
        return image
    if width <= height:
        size = (shorter_side, max(1, round(height * shorter_side / width)))
    else:
        size = (max(1, round(width * shorter_side / height)), shorter_side)
    return image.resize(size, RESAMPLE, reducing_gap=2.0)


def thumbnail_data_uri(image: Image.Image, side: int, quality: int) -> str:
    """A prepared image as a JPEG ``data:`` URI fitting in ``side`` x ``side``, for a page.

    Re-encoding (instead of echoing the source bytes) means a page only embeds a JPEG we
    produced, with no EXIF left to turn it a second time.
    """
    thumbnail = prepare(image).copy()
    thumbnail.thumbnail((side, side), RESAMPLE)
    buffer = io.BytesIO()
    thumbnail.save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.has_transparency_data:
        backed = Image.new("RGBA", image.size, BACKGROUND)
        backed.alpha_composite(image.convert("RGBA"))
        return backed.convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")
