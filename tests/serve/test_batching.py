"""Micro-batching: concurrent requests share model calls and get exactly their single answers."""

from __future__ import annotations

import asyncio

import pytest
from PIL import Image

from serve.batching import MicroBatcher
from serve.cpu_tuning import tuned_predictor, tuning_for
from serve.settings import ServeSettings


@pytest.fixture(scope="module")
def batch_requests(palette):
    """Captions, label colours, top-k and caption lengths of mixed sizes."""
    return [
        ("word1 today with friends", palette[1], 5, 20),
        (None, palette[2], 3, 20),
        ("word3 so nice", None, 12, 20),
        ("word0 word2 love", palette[0], 1, 8),
        ("a b c d e f g h i j k l m n o p q r s t u v w x y z", palette[4], 7, 32),
        ("word5", palette[5], 4, 8),
    ]


@pytest.fixture(scope="module")
def predictor(tiny_predictor):
    return tiny_predictor("both")


def run_concurrently(batcher: MicroBatcher, requests) -> list:
    async def all_at_once():
        return await asyncio.gather(
            *(
                batcher.predict(
                    text, Image.new("RGB", (40, 40), color) if color else None, k, length
                )
                for text, color, k, length in requests
            )
        )

    return asyncio.run(all_at_once())


@pytest.fixture(params=["fp32", "default-tuning"])
def served_predictor(request, predictor):
    """The model as loaded, and as the server tunes it by default (what clients really get)."""
    if request.param == "fp32":
        return predictor
    return tuned_predictor(predictor, tuning_for(ServeSettings()))


def test_batched_answers_equal_single_answers(batch_requests, served_predictor):
    predictor = served_predictor
    sizes: list[int] = []
    batcher = MicroBatcher(
        predictor.predict, max_batch_size=8, max_wait_ms=200, on_batch=sizes.append
    )
    try:
        batched = run_concurrently(batcher, batch_requests)
    finally:
        batcher.close()
    assert max(sizes) > 1, "the requests were not batched"
    for (text, color, k, length), answer in zip(batch_requests, batched, strict=True):
        image = Image.new("RGB", (40, 40), color) if color else None
        [single] = predictor.predict([text], [image], top_k=k, max_seq_len=length)
        assert [tag for tag, _ in answer] == [tag for tag, _ in single]
        assert [score for _, score in answer] == pytest.approx([s for _, s in single], abs=1e-5)


def test_batch_size_is_capped(batch_requests, predictor):
    sizes: list[int] = []
    batcher = MicroBatcher(
        predictor.predict, max_batch_size=2, max_wait_ms=200, on_batch=sizes.append
    )
    try:
        run_concurrently(batcher, batch_requests)
    finally:
        batcher.close()
    assert sum(sizes) == len(batch_requests)
    assert max(sizes) <= 2


@pytest.mark.timeout(120)
def test_a_request_that_arrives_alone_does_not_wait_for_company(batch_requests, predictor):
    sizes: list[int] = []
    batcher = MicroBatcher(
        predictor.predict, max_batch_size=8, max_wait_ms=600_000, on_batch=sizes.append
    )
    try:
        # With a ten-minute wait, only answering at once can finish within the test timeout.
        [answer] = run_concurrently(batcher, batch_requests[:1])
    finally:
        batcher.close()
    assert sizes == [1] and len(answer) == batch_requests[0][2]


def test_a_failing_model_call_fails_each_waiting_request(batch_requests):
    def broken(texts, images, top_k, max_seq_len):
        raise RuntimeError("model exploded")

    batcher = MicroBatcher(broken, max_batch_size=4, max_wait_ms=50)
    try:
        with pytest.raises(RuntimeError, match="model exploded"):
            run_concurrently(batcher, batch_requests[:3])
        assert batcher.is_alive()
    finally:
        batcher.close()
    assert not batcher.is_alive()


def test_batch_size_must_be_positive(predictor):
    with pytest.raises(
        ValueError, match="max_batch_size\n  Input should be greater than or equal to 1"
    ):
        MicroBatcher(predictor.predict, max_batch_size=0, max_wait_ms=1)
