"""Whether a tuned predictor still answers as the reference does: the criterion for keeping a
CPU tuning (serve/cpu_tuning.py), checked by benchmarks/serve.py and tests/serve/test_cpu_tuning.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from train.predictor import Predictor


def top_k_agreement(
    reference: Predictor,
    candidate: Predictor,
    texts: Sequence[str | None],
    images: Sequence[Image.Image | None],
    k: int,
    batch_size: int = 16,
) -> float:
    """Share of posts whose top-``k`` label list (in order) is the same for both predictors."""
    same = 0
    for start in range(0, len(texts), batch_size):
        batch_texts = list(texts[start : start + batch_size])
        batch_images = list(images[start : start + batch_size])
        expected = reference.predict(batch_texts, batch_images, top_k=k)
        got = candidate.predict(batch_texts, batch_images, top_k=k)
        same += sum(
            [tag for tag, _ in left] == [tag for tag, _ in right]
            for left, right in zip(expected, got, strict=True)
        )
    return same / max(len(texts), 1)
