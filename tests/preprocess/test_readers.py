"""Readers on real files: posts.jsonl, an instaloader download folder, CSV; bad input by reason."""

from __future__ import annotations

import json
import lzma
from collections import Counter
from pathlib import Path

import pytest

from preprocess.dedup import drop_repeated_posts
from preprocess.readers import (
    Post,
    detect_format,
    parse_csv_columns,
    read_input,
)
from runtime.errors import UsageError
from runtime.records import make_record

CSV_COLUMNS = {"caption": "caption", "image": "image"}


def read(
    path: Path, fmt: str = "auto", columns: dict[str, str] | None = None
) -> tuple[list[Post], Counter[str]]:
    posts, rejected = [], Counter()
    for post, reason, _ in read_input(path, fmt, columns or CSV_COLUMNS):
        if post is None:
            rejected[reason] += 1
        else:
            posts.append(post)
    return posts, rejected


def test_posts_jsonl_good_and_bad_lines(tmp_path: Path) -> None:
    (tmp_path / "img.jpg").write_bytes(b"jpeg")
    good = make_record(
        "AAA",
        "hello #sun",
        "http://127.0.0.1/a.jpg",
        "tag:sun",
        owner="ana",
        taken_at="2024-06-01T10:00:00Z",
    )
    local = make_record("BBB", "hi #sea", None, "file:x", image_path="img.jpg")
    lines = [
        json.dumps(good).encode(),
        json.dumps(local).encode(),
        b'{"shortcode": "CCC", "caption": "trunc',  # corrupt JSON
        b'\xff\xfe{"shortcode": "DDD"}',  # not UTF-8
        b"[1, 2]",  # not an object
        json.dumps({"shortcode": "EEE", "image_url": "http://x/e.jpg"}).encode(),  # no caption
        json.dumps({"caption": "no code", "image_url": "http://x/f.jpg"}).encode(),
        json.dumps({"shortcode": "GGG", "caption": "no image", "image_url": None}).encode(),
        b"",
    ]
    path = tmp_path / "posts.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    posts, rejected = read(path)

    assert [p.shortcode for p in posts] == ["AAA", "BBB"]
    assert posts[0].owner == "ana" and posts[0].taken_at == "2024-06-01T10:00:00Z"
    assert posts[1].image_path == str(tmp_path / "img.jpg") and posts[1].image_url is None
    assert rejected == Counter(
        bad_json=1,
        bad_utf8=1,
        not_object=1,
        missing_caption=1,
        missing_shortcode=1,
        missing_image=1,
    )


def _instaloader_json(
    shortcode: str,
    caption: str | None,
    owner: str,
    url: str,
    children: int = 0,
    is_video: bool = False,
) -> bytes:
    node = {
        "__typename": "GraphSidecar" if children else ("GraphVideo" if is_video else "GraphImage"),
        "shortcode": shortcode,
        "display_url": url,
        "is_video": is_video,
        "taken_at_timestamp": 1717236000,
        "owner": {"id": "42", "username": owner},
        "edge_media_to_caption": {"edges": [{"node": {"text": caption}}] if caption else []},
    }
    if children:
        node["edge_sidecar_to_children"] = {
            "edges": [{"node": {"display_url": f"{url}?c={n}"}} for n in range(children)]
        }
    return json.dumps(
        {"node": node, "instaloader": {"version": "4.13", "node_type": "Post"}}
    ).encode()


@pytest.fixture
def instaloader_root(tmp_path: Path) -> Path:
    """Two target folders as instaloader writes them; one post saved under both."""
    root = tmp_path / "download"
    natgeo, beach = root / "natgeo", root / "#beach"
    natgeo.mkdir(parents=True)
    beach.mkdir()
    photo = "2024-06-01_10-00-00_UTC"
    (natgeo / f"{photo}.json.xz").write_bytes(
        lzma.compress(_instaloader_json("PHOTO1", "Sunset #beach", "nat", "http://x/p.jpg"))
    )
    (natgeo / f"{photo}.txt").write_text("Sunset #beach", "utf-8")
    (natgeo / f"{photo}.jpg").write_bytes(b"jpeg")
    (beach / f"{photo}.json.xz").write_bytes(  # the same post, saved without its image
        lzma.compress(_instaloader_json("PHOTO1", "Sunset #beach", "nat", "http://x/p.jpg"))
    )
    carousel = "2024-06-02_10-00-00_UTC"
    (natgeo / f"{carousel}.json.xz").write_bytes(
        lzma.compress(_instaloader_json("CAROUSEL", "Three #shells", "nat", "http://x/c.jpg", 3))
    )
    for n in (1, 2, 3):
        (natgeo / f"{carousel}_{n}.jpg").write_bytes(b"jpeg")
    video = "2024-06-03_10-00-00_UTC"  # uncompressed metadata, caption only in the .txt
    (natgeo / f"{video}.json").write_bytes(
        _instaloader_json("VIDEO1", None, "nat", "http://x/v.jpg", is_video=True)
    )
    (natgeo / f"{video}.txt").write_text("Waves #surf", "utf-8")
    (natgeo / f"{video}.mp4").write_bytes(b"mp4")
    (natgeo / "2024-06-04_10-00-00_UTC.json.xz").write_bytes(b"not lzma at all")
    (natgeo / "2024-06-05_10-00-00_UTC.json").write_bytes(
        _instaloader_json("LATIN1", None, "nat", "http://x/l.jpg")
    )
    (natgeo / "2024-06-05_10-00-00_UTC.txt").write_bytes("Caf\xe9 #coffee".encode("latin-1"))
    return root


def test_instaloader_folder(instaloader_root: Path) -> None:
    assert detect_format(instaloader_root) == "instaloader"
    posts, rejected = read(instaloader_root)

    assert rejected == Counter(bad_lzma=1, bad_utf8=1)
    by_code: dict[str, list[Post]] = {}
    for post in posts:
        by_code.setdefault(post.shortcode, []).append(post)
    assert sorted(by_code) == ["CAROUSEL", "PHOTO1", "VIDEO1"]
    carousel = by_code["CAROUSEL"][0]
    assert carousel.image_path.endswith("2024-06-02_10-00-00_UTC_1.jpg")
    assert carousel.caption == "Three #shells" and carousel.owner == "nat"
    assert carousel.taken_at == "2024-06-01T10:00:00Z"
    video = by_code["VIDEO1"][0]
    assert video.caption == "Waves #surf"
    assert video.image_path is None and video.image_url == "http://x/v.jpg"

    kept, dropped = drop_repeated_posts(posts)
    assert [reason for _, reason in dropped] == ["same_shortcode"]
    photo = next(p for p in kept if p.shortcode == "PHOTO1")
    assert photo.image_path.endswith("natgeo/2024-06-01_10-00-00_UTC.jpg")


def test_instaloader_folder_without_posts_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no instaloader posts"):
        read(tmp_path / "empty")


def test_csv_urls_paths_and_bad_rows(tmp_path: Path) -> None:
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "a.jpg").write_bytes(b"jpeg")
    path = tmp_path / "posts.csv"
    path.write_bytes(
        b"text,picture,who\n"
        b'"Lunch #food, yum",http://127.0.0.1/x.jpg,ana\n'
        b"Walk #park,pics/a.jpg,ben\n"
        b"No picture #none,,ben\n"
        b"Gone #lost,pics/missing.jpg,ben\n"
        b"Caf\xe9 #coffee,http://127.0.0.1/y.jpg,ana\n"
    )
    columns = parse_csv_columns("caption=text,image=picture,owner=who")

    posts, rejected = read(path, columns=columns)

    assert [(p.caption, p.owner) for p in posts] == [
        ("Lunch #food, yum", "ana"),
        ("Walk #park", "ben"),
    ]
    assert posts[0].image_url == "http://127.0.0.1/x.jpg"
    assert posts[1].image_path == str(tmp_path / "pics" / "a.jpg")
    assert posts[0].shortcode.startswith("csv-") and posts[0].shortcode != posts[1].shortcode
    assert rejected == Counter(missing_image=2, bad_utf8=1)
    again, _ = read(path, columns=columns)
    assert [p.shortcode for p in again] == [p.shortcode for p in posts]


def test_csv_without_the_named_columns_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text("body,url\nhello,http://x/a.jpg\n", "utf-8")
    with pytest.raises(UsageError, match="no caption column 'caption'"):
        read(path)


def test_csv_header_is_checked_when_the_input_is_opened(tmp_path: Path) -> None:
    """Before any row of any input is read, so a build fails at once, not after the others."""
    path = tmp_path / "posts.csv"
    path.write_text("body,url\nhello,http://x/a.jpg\n", "utf-8")
    with pytest.raises(UsageError, match="no caption column"):
        read_input(path, "csv", CSV_COLUMNS)  # not iterated


def test_csv_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_bytes("caption,image\nhi #sun,http://x/a.jpg\n".encode("utf-8-sig"))
    posts, rejected = read(path)
    assert [p.caption for p in posts] == ["hi #sun"] and not rejected


def test_csv_row_over_the_field_limit_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    huge = "x" * 200_000  # over the csv module's 131,072-character field limit
    path.write_text(f'caption,image\na,http://x/1.jpg\n"{huge}",http://x/2.jpg\nb,http://x/3.jpg\n')
    posts, rejected = read(path)
    assert [p.caption for p in posts] == ["a", "b"] and rejected == Counter(bad_csv=1)


@pytest.mark.parametrize("spec", ["caption", "colour=x", "caption="])
def test_bad_csv_column_spec(spec: str) -> None:
    with pytest.raises(UsageError, match="--csv-columns"):
        parse_csv_columns(spec)


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_unreadable_file_is_counted() -> None:
    posts, rejected = read(Path("/proc/self/mem"), "jsonl")  # opens, then fails with EIO
    assert posts == [] and rejected == Counter(unreadable_file=1)


def test_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="input not found"):
        read_input(tmp_path / "nope.jsonl", "auto", CSV_COLUMNS)


def test_format_detection(tmp_path: Path) -> None:
    assert detect_format(tmp_path / "a.csv") == "csv"
    assert detect_format(tmp_path / "posts.jsonl") == "jsonl"
    assert detect_format(tmp_path) == "instaloader"


def test_a_rejected_record_keeps_its_shortcode_when_it_has_one(tmp_path: Path) -> None:
    lines = [
        json.dumps({"shortcode": "NOIMG", "caption": "x #y"}),  # no image_url, no image_path
        json.dumps({"shortcode": "NOCAP", "image_url": "http://h/a.jpg"}),
        "{not json",
    ]
    (tmp_path / "posts.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    items = list(read_input(tmp_path / "posts.jsonl", "jsonl", CSV_COLUMNS))
    assert [(reason, code) for _, reason, code in items] == [
        ("missing_image", "NOIMG"),
        ("missing_caption", "NOCAP"),
        ("bad_json", None),
    ]
