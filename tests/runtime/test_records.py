"""Contract 1's record type (runtime.records.PostRecord): what a reader counts as wrong."""

from __future__ import annotations

import json

from runtime.records import make_record, wrong_fields


def test_a_made_record_with_every_optional_field_is_a_post_record() -> None:
    record = make_record(
        "ABC",
        "sunset #beach",
        "https://cdn.example/a.jpg",
        "tag:beach",
        post_id="1",
        image_urls=["https://cdn.example/a.jpg"],
        is_video=False,
        owner="someone",
        taken_at="2026-01-01T00:00:00Z",
        likes=3,
        comments=0,
        width=640,
        height=480,
        image_path="images/ABC.jpg",
    )
    assert wrong_fields(record) == set()
    assert record["hashtags"] == ["beach"]


def test_optional_fields_given_as_none_are_left_out_and_the_key_order_is_the_contracts() -> None:
    record = make_record("ABC", None, None, "file:x", owner=None, likes=7)
    assert list(record) == [
        "shortcode",
        "url",
        "caption",
        "hashtags",
        "image_url",
        "source",
        "crawled_at",
        "likes",
    ]
    assert json.loads(json.dumps(record)) == record


def test_wrong_fields_names_missing_empty_and_mistyped_fields_and_ignores_unknown_keys() -> None:
    record = dict(make_record("ABC", "x", None, "file:x"), origin="kept", likes="5")
    assert wrong_fields(record) == {"likes"}
    del record["url"]
    record["shortcode"] = ""
    record["is_video"] = 1
    assert wrong_fields(record) == {"likes", "url", "shortcode", "is_video"}
