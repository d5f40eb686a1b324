"""The demo pictures' tag motifs: one per tag slot, salient, inside the crop a model sees."""

from __future__ import annotations

import numpy as np

from demo_site.pictures import MOTIF_AREA, MOTIF_RADIUS, draw
from demo_site.topics import TOPICS


def _changed(topic_index: int, size: int, motifs: tuple[int, ...]) -> np.ndarray:
    """Where the motifs changed the picture: a boolean (y, x) mask."""
    topic = TOPICS[topic_index]
    plain = np.asarray(draw(topic, "7:42:0", size, size), dtype=np.int16)
    with_motifs = np.asarray(draw(topic, "7:42:0", size, size, motifs=motifs), dtype=np.int16)
    return np.abs(with_motifs - plain).max(axis=2) > 0


def test_each_motif_is_drawn_inside_the_motif_area_and_salient() -> None:
    size = 300
    low = (MOTIF_AREA[0] - MOTIF_RADIUS - 0.02) * size  # radius and outline
    high = (MOTIF_AREA[1] + MOTIF_RADIUS + 0.02) * size
    for slot in range(9):
        ys, xs = np.nonzero(_changed(0, size, (slot,)))
        assert len(ys) > (MOTIF_RADIUS * size) ** 2  # more than a quarter of its box
        assert low <= xs.min() and xs.max() <= high and low <= ys.min() and ys.max() <= high


def test_several_motifs_overlap_but_mostly_show() -> None:
    size = 300
    one = sum(_changed(1, size, (slot,)).sum() for slot in (0, 2, 4, 6))
    assert _changed(1, size, (0, 2, 4, 6)).sum() > 0.6 * one


def test_motifs_differ_between_slots_even_at_64_pixels() -> None:
    pictures = [
        np.asarray(draw(TOPICS[3], "1:2:0", 64, 64, motifs=(slot,)), dtype=np.int16)
        for slot in range(9)
    ]
    for a in range(9):
        for b in range(a + 1, 9):
            assert np.abs(pictures[a] - pictures[b]).max(axis=2).astype(bool).sum() > 40
