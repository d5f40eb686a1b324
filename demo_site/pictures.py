"""Procedural post images: a topic's palette, shapes and texture drawn with Pillow in a few ms,
plus one motif for each of the topic's tags that the post has.

A real #sunset picture shows a sunset whether or not the caption says so; the motifs are the
demo's stand-in for that, so the picture carries evidence of *which* of its topic's tags a post
has - evidence the caption words (written from the topic alone) lack. Each tag slot of a topic
(Topic.tags order, see generator.TAG_CHANCES) has its own motif: a big shape in its own colour,
somewhere inside the centre crop a model sees, so that it survives a 64 px thumbnail. Engagement
spam and local-script tags get none: no photo shows #like4like, and those tags follow the owner
and the language, not the scene.

The drawing works in coordinates relative to the canvas, so one composition renders at any
size (the full image and its thumbnail look alike). A near-duplicate is the same composition
nudged by a few pixels and a slight colour shift - what a re-upload or a filter leaves.
"""

from __future__ import annotations

import io
import math
import random

from PIL import Image, ImageDraw, ImageOps

from demo_site.topics import Topic

SHAPES = ("circles", "squares", "triangles", "bands", "ellipses", "stars", "diagonals", "arcs")
TEXTURES = ("dots", "grid", "waves", "speckle", "hatch", "bands", "diagonals")
# Tag slot k's motif: MOTIF_SHAPES[k] filled with MOTIF_COLOURS[k], MOTIF_RADIUS of the canvas's
# shorter side in size, centred at a place the composition picks in MOTIF_AREA (both axes; inside
# the centre crop a model sees), apart from the post's other motifs where a few tries find room.
# Big and plain, because a frozen random-init VGG16 at 64 px barely sees small shapes: a linear
# probe of its features told a slot's motif from its absence with mean ROC AUC 0.61 at radius
# 0.08 with a black outline, 0.79 at 0.18, 0.86 at 0.22 without the outline and 0.915 here
# (docs/benchmarks/train.md). Not at a fixed place per slot: motifs always in the same places
# dominate the low frequencies that the dataset builder's perceptual hash compares, and unrelated
# posts with the same tags passed for near-duplicates (the build dropped 147 of the 3,000 crawled
# demo posts instead of 13; at random places 14).
MOTIF_SHAPES = ("disc", "square", "triangle", "diamond", "ring", "cross", "bar", "star", "column")
MOTIF_COLOURS = (
    "#e6194b",
    "#3cb44b",
    "#ffe119",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#42d4f4",
    "#f032e6",
    "#ffffff",
)
MOTIF_AREA = (0.25, 0.75)
MOTIF_RADIUS = 0.26

RGB = tuple[int, int, int]


def _rgb(hex_colour: str) -> RGB:
    value = int(hex_colour.lstrip("#"), 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def _vary(colour: RGB, rng: random.Random, spread: int) -> RGB:
    red, green, blue = (max(0, min(255, c + rng.randint(-spread, spread))) for c in colour)
    return red, green, blue


def _mix(a: RGB, b: RGB, weight: float) -> RGB:
    red, green, blue = (round(x * (1 - weight) + y * weight) for x, y in zip(a, b, strict=True))
    return red, green, blue


def render_jpeg(image: Image.Image, quality: int = 85) -> bytes:
    """JPEG bytes of a drawn image; the same image always gives the same bytes."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def draw(
    topic: Topic,
    composition_key: str,
    width: int,
    height: int,
    jitter_key: str | None = None,
    motifs: tuple[int, ...] = (),
) -> Image.Image:
    """Draw one image of ``topic``: gradient sky-to-ground, texture, 5-12 shapes, then the
    motif of each tag slot in ``motifs`` on top.

    ``composition_key`` fixes where everything goes; ``jitter_key`` (near-duplicates) shifts
    the whole drawing a little without changing the composition.
    """
    rng = random.Random(composition_key)
    jitter = random.Random(jitter_key) if jitter_key else None
    top, bottom, *accents = (_rgb(c) for c in topic.palette)
    if jitter:
        top, bottom = _vary(top, jitter, 10), _vary(bottom, jitter, 10)
    gradient = Image.linear_gradient("L").resize((width, height))
    image = ImageOps.colorize(gradient, top, bottom)
    canvas = ImageDraw.Draw(image)
    shift = (jitter.uniform(-0.02, 0.02), jitter.uniform(-0.02, 0.02)) if jitter else (0.0, 0.0)
    frame = _Frame(width, height, shift)
    _TEXTURE_PAINTERS[topic.texture](canvas, frame, rng, _mix(top, accents[0], 0.35))
    for _ in range(rng.randint(5, 12)):
        colour = _vary(rng.choice(accents), rng, 18)
        _SHAPE_PAINTERS[topic.shape](canvas, frame, rng, colour)
    placed: list[tuple[float, float]] = []
    for slot in motifs:
        placed.append(_place(rng, placed))
        _motif(canvas, frame, slot, *placed[-1])
    return image


class _Frame:
    """Maps relative coordinates (0..1) to pixels, applying the near-duplicate shift."""

    def __init__(self, width: int, height: int, shift: tuple[float, float]) -> None:
        self.width, self.height, self.shift = width, height, shift
        self.unit = min(width, height)

    def xy(self, x: float, y: float) -> tuple[int, int]:
        return round((x + self.shift[0]) * self.width), round((y + self.shift[1]) * self.height)

    def box(self, x: float, y: float, rx: float, ry: float) -> list[tuple[int, int]]:
        cx, cy = self.xy(x, y)
        half_w, half_h = max(1, round(rx * self.unit)), max(1, round(ry * self.unit))
        return [(cx - half_w, cy - half_h), (cx + half_w, cy + half_h)]


# --- motifs: one per tag slot, drawn over the scene --------------------------------------------


def _place(rng: random.Random, placed: list[tuple[float, float]]) -> tuple[float, float]:
    """A motif's centre in MOTIF_AREA, at least 1.5 radii from the others where a few tries
    find such a place (so motifs overlap a little at most, rarely hide one another)."""
    for _ in range(20):
        x, y = rng.uniform(*MOTIF_AREA), rng.uniform(*MOTIF_AREA)
        if all(math.dist((x, y), other) >= 1.5 * MOTIF_RADIUS for other in placed):
            break
    return x, y


def _motif(canvas: ImageDraw.ImageDraw, frame: _Frame, slot: int, x: float, y: float) -> None:
    """Slot ``slot``'s motif centred at (x, y)."""
    r = MOTIF_RADIUS
    colour = _rgb(MOTIF_COLOURS[slot])
    shape = MOTIF_SHAPES[slot]
    if shape == "disc":
        canvas.ellipse(frame.box(x, y, r, r), fill=colour)
    elif shape == "square":
        canvas.rectangle(frame.box(x, y, r * 0.85, r * 0.85), fill=colour)
    elif shape == "ring":
        canvas.ellipse(frame.box(x, y, r, r), fill=colour)
        canvas.ellipse(frame.box(x, y, r * 0.5, r * 0.5), fill=(0, 0, 0))
    elif shape == "bar":
        canvas.rectangle(frame.box(x, y, r, r * 0.4), fill=colour)
    elif shape == "column":
        canvas.rectangle(frame.box(x, y, r * 0.4, r), fill=colour)
    else:
        canvas.polygon(
            [frame.xy(x + dx * r, y + dy * r) for dx, dy in _OUTLINES[shape]], fill=colour
        )


def _star_outline() -> tuple[tuple[float, float], ...]:
    radii = (1.0, 0.45) * 5
    return tuple(
        (radius * math.sin(k * math.pi / 5), -radius * math.cos(k * math.pi / 5))
        for k, radius in enumerate(radii)
    )


# Polygon motifs as (dx, dy) in units of MOTIF_RADIUS (y down).
_OUTLINES = {
    "triangle": ((0.0, -1.0), (1.0, 0.8), (-1.0, 0.8)),
    "diamond": ((0.0, -1.0), (1.0, 0.0), (0.0, 1.0), (-1.0, 0.0)),
    "cross": (
        (-0.35, -1.0),
        (0.35, -1.0),
        (0.35, -0.35),
        (1.0, -0.35),
        (1.0, 0.35),
        (0.35, 0.35),
        (0.35, 1.0),
        (-0.35, 1.0),
        (-0.35, 0.35),
        (-1.0, 0.35),
        (-1.0, -0.35),
        (-0.35, -0.35),
    ),
    "star": _star_outline(),
}


# --- shapes: one painter per Topic.shape -------------------------------------------------------


def _circles(canvas: ImageDraw.ImageDraw, frame: _Frame, rng: random.Random, colour: RGB) -> None:
    r = rng.uniform(0.04, 0.16)
    canvas.ellipse(frame.box(rng.random(), rng.random(), r, r), fill=colour)


def _squares(canvas: ImageDraw.ImageDraw, frame: _Frame, rng: random.Random, colour: RGB) -> None:
    canvas.rectangle(
        frame.box(rng.random(), rng.random(), rng.uniform(0.04, 0.14), rng.uniform(0.06, 0.2)),
        fill=colour,
    )


def _triangles(canvas: ImageDraw.ImageDraw, frame: _Frame, rng: random.Random, colour: RGB) -> None:
    x, base, size = rng.random(), rng.uniform(0.55, 1.0), rng.uniform(0.15, 0.4)
    canvas.polygon(
        [
            frame.xy(x - size, base),
            frame.xy(x + size, base),
            frame.xy(x + rng.uniform(-0.1, 0.1), base - size * 1.2),
        ],
        fill=colour,
    )


def _bands(canvas: ImageDraw.ImageDraw, frame: _Frame, rng: random.Random, colour: RGB) -> None:
    y, thickness = rng.uniform(0.3, 1.0), rng.uniform(0.02, 0.09)
    canvas.rectangle([frame.xy(-0.1, y), frame.xy(1.1, y + thickness)], fill=colour)


def _ellipses(canvas: ImageDraw.ImageDraw, frame: _Frame, rng: random.Random, colour: RGB) -> None:
    canvas.ellipse(
        frame.box(rng.random(), rng.random(), rng.uniform(0.08, 0.22), rng.uniform(0.03, 0.09)),
        fill=colour,
    )


def _stars(canvas: ImageDraw.ImageDraw, frame: _Frame, rng: random.Random, colour: RGB) -> None:
    x, y, outer = rng.random(), rng.random(), rng.uniform(0.03, 0.1)
    turn = rng.uniform(0, math.pi)
    points = []
    for k in range(10):
        radius = outer if k % 2 == 0 else outer * 0.45
        angle = turn + k * math.pi / 5
        points.append(frame.xy(x + radius * math.cos(angle), y + radius * math.sin(angle)))
    canvas.polygon(points, fill=colour)


def _diagonals(canvas: ImageDraw.ImageDraw, frame: _Frame, rng: random.Random, colour: RGB) -> None:
    x, y, length = rng.random(), rng.random(), rng.uniform(0.15, 0.5)
    canvas.line(
        [frame.xy(x, y), frame.xy(x + length, y - length)],
        fill=colour,
        width=max(2, round(frame.unit * rng.uniform(0.01, 0.04))),
    )


def _arcs(canvas: ImageDraw.ImageDraw, frame: _Frame, rng: random.Random, colour: RGB) -> None:
    r = rng.uniform(0.1, 0.35)
    start = rng.choice((180, 200, 160))
    canvas.arc(
        frame.box(rng.random(), rng.uniform(0.4, 1.0), r, r * 0.8),
        start,
        start + 180,
        fill=colour,
        width=max(2, round(frame.unit * 0.025)),
    )


# --- textures: one painter per Topic.texture, drawn under the shapes ---------------------------


def _dots(canvas: ImageDraw.ImageDraw, frame: _Frame, rng: random.Random, colour: RGB) -> None:
    step = rng.uniform(0.05, 0.08)
    radius = step * 0.15
    for row in range(int(1 / step) + 1):
        for col in range(int(1 / step) + 1):
            canvas.ellipse(
                frame.box(col * step + step / 2 * (row % 2), row * step, radius, radius),
                fill=colour,
            )


def _grid(canvas: ImageDraw.ImageDraw, frame: _Frame, rng: random.Random, colour: RGB) -> None:
    step = rng.uniform(0.06, 0.12)
    for k in range(int(1 / step) + 2):
        canvas.line([frame.xy(k * step, -0.1), frame.xy(k * step, 1.1)], fill=colour, width=1)
        canvas.line([frame.xy(-0.1, k * step), frame.xy(1.1, k * step)], fill=colour, width=1)


def _waves(canvas: ImageDraw.ImageDraw, frame: _Frame, rng: random.Random, colour: RGB) -> None:
    amplitude, phase = rng.uniform(0.01, 0.03), rng.uniform(0, math.tau)
    for row in range(12):
        y = row / 11
        points = [frame.xy(i / 24, y + amplitude * math.sin(phase + i * 0.8)) for i in range(25)]
        canvas.line(points, fill=colour, width=2)


def _speckle(canvas: ImageDraw.ImageDraw, frame: _Frame, rng: random.Random, colour: RGB) -> None:
    canvas.point([frame.xy(rng.random(), rng.random()) for _ in range(600)], fill=colour)


def _hatch(canvas: ImageDraw.ImageDraw, frame: _Frame, rng: random.Random, colour: RGB) -> None:
    step = rng.uniform(0.04, 0.07)
    for k in range(int(2 / step) + 1):
        canvas.line([frame.xy(k * step - 1, 0), frame.xy(k * step, 1)], fill=colour, width=1)


def _texture_bands(
    canvas: ImageDraw.ImageDraw, frame: _Frame, rng: random.Random, colour: RGB
) -> None:
    step = rng.uniform(0.08, 0.14)
    for k in range(0, int(1 / step) + 1, 2):
        canvas.rectangle([frame.xy(-0.1, k * step), frame.xy(1.1, (k + 1) * step)], fill=colour)


def _texture_diagonals(
    canvas: ImageDraw.ImageDraw, frame: _Frame, rng: random.Random, colour: RGB
) -> None:
    for _ in range(40):
        x, y = rng.random(), rng.random()
        canvas.line([frame.xy(x, y), frame.xy(x - 0.03, y + 0.08)], fill=colour, width=2)


_SHAPE_PAINTERS = dict(
    zip(
        SHAPES,
        (_circles, _squares, _triangles, _bands, _ellipses, _stars, _diagonals, _arcs),
        strict=True,
    )
)
_TEXTURE_PAINTERS = dict(
    zip(
        TEXTURES,
        (_dots, _grid, _waves, _speckle, _hatch, _texture_bands, _texture_diagonals),
        strict=True,
    )
)
