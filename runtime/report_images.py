"""How the HTML reports (the dataset's and the training run's) embed their pictures.

Both reports are one self-contained file: every chart and thumbnail is a ``data:`` URI, so
a report can be mailed or archived without a folder around it. One rule for both keeps
their pictures alike and the code in one place.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import TYPE_CHECKING

from runtime import image_prep

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: A thumbnail fits in this many pixels a side: a few kB a post keeps a report light.
THUMBNAIL_PX = 160
THUMBNAIL_QUALITY = 80


def figure_uri(figure: Figure, dpi: int) -> str:
    """The figure as a PNG ``data:`` URI. (Figures are made without pyplot: no global state,
    no display backend needed on a build or training machine.)"""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def thumbnail_uri(path: Path) -> str:
    """A small JPEG of the image file as a data URI (prepared as the model sees it: EXIF
    turned, transparency on white)."""
    return image_prep.thumbnail_data_uri(image_prep.load(path), THUMBNAIL_PX, THUMBNAIL_QUALITY)
