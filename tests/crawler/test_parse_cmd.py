"""`hashtag-crawl parse` end to end: real files in, posts.jsonl out, one line per bad file."""

from __future__ import annotations

import argparse
import base64
import json
import shutil
from pathlib import Path

import pytest

from crawler import parse_cmd
from runtime.errors import run_main

OWN_FIXTURES = Path(__file__).parent / "fixtures" / "instagram"
CONTENT_CAPTURES = [  # (file, posts in it, media kinds); hashtag*.json share one post
    ("hashtag.json", "43 posts", "graphql"),
    ("hashtag-2.json", "20 posts", "graphql"),
    ("medias.json", "12 posts", "graphql"),
    ("media.json", "1 post", "v1"),
    ("location.html", "33 posts", "graphql"),
    ("profile-additional-data.html", "21 posts", "graphql"),
    ("home.html", "0 posts", "no media objects"),
]


def run_cli(*argv: str | Path) -> int:
    """What crawler/cli.py does with the sub-command: parse argv, run it through run_main."""
    parser = argparse.ArgumentParser(prog="hashtag-crawl")
    parse_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(arg) for arg in argv])
    return run_main(lambda: args.func(args), "hashtag-crawl")


def read_posts(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_parses_every_capture_and_dedupes(
    instagram_fixtures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "posts.jsonl"
    files = [instagram_fixtures / name for name, _, _ in CONTENT_CAPTURES]
    assert run_cli("parse", *files, "--append-to", out) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    *file_lines, last = captured.out.splitlines()
    assert [line.split(", feed continues after ")[0] for line in file_lines] == [
        f"{instagram_fixtures / name}: {count} ({kinds})" for name, count, kinds in CONTENT_CAPTURES
    ]
    assert file_lines[0].endswith(
        " continues after QVFEYy1pYW90TGt4aWF0aExLQnM4c1JCYV9BbkhkbmZy"
        "SzRKRVBrWEtCR0pJQlJES0NNUFVmbE5CUDF2eW45eVp0Mk1odG5KT3pJeHE0R2Z"
        "Dd05reEItbA=="
    )
    assert last == f"parsed 7 of 7 files: 129 posts added to {out}, 1 duplicates skipped"
    posts = read_posts(out)
    assert len(posts) == len({p["shortcode"] for p in posts}) == 129
    by_code = {p["shortcode"]: p for p in posts}
    assert by_code["CAnqPB-Jzcj"]["source"] == "file:media.json"
    assert by_code["CAnqPB-Jzcj"]["hashtags"] == ["letsgetloud", "memorialday"]

    assert run_cli("parse", *files, "--append-to", out) == 0  # again: nothing new
    assert "0 posts added" in capsys.readouterr().out
    assert len(read_posts(out)) == 129


def test_source_and_base_url_flags(tmp_path: Path) -> None:
    out = tmp_path / "posts.jsonl"
    fixture = OWN_FIXTURES / "tag_a1.json"
    code = run_cli(
        "parse",
        fixture,
        "--append-to",
        out,
        "--source",
        "tag:kayak",
        "--base-url",
        "http://127.0.0.1:8000/",
    )
    assert code == 0
    first = read_posts(out)[0]
    assert first["source"] == "tag:kayak"
    assert first["url"] == "http://127.0.0.1:8000/p/KayakA1/"


def har_entry(url: str, mime: str, text: str, base64_body: bool = False) -> dict:
    content: dict = {"mimeType": mime, "size": len(text)}
    if base64_body:
        content.update(text=base64.b64encode(text.encode()).decode(), encoding="base64")
    else:
        content["text"] = text
    return {
        "request": {"method": "GET", "url": url},
        "response": {"status": 200, "content": content},
    }


def test_har_file(instagram_fixtures: Path, tmp_path: Path, capsys) -> None:
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0 not text").decode()
    entries = [
        har_entry(
            "https://www.instagram.com/",
            "text/html; charset=utf-8",
            (instagram_fixtures / "home.html").read_text("utf-8"),
        ),
        har_entry(
            "https://www.instagram.com/graphql/query/?tag=paris",
            "application/json",
            (instagram_fixtures / "hashtag.json").read_text("utf-8"),
            base64_body=True,
        ),
        har_entry(
            "https://i.instagram.com/api/v1/media/1/info/",
            "application/json",
            (instagram_fixtures / "media.json").read_text("utf-8"),
        ),
        har_entry(
            "https://www.instagram.com/api/v1/web/whatever/",
            "application/json",
            '{"status": "ok", "config": {}}',
        ),
        {
            "request": {"url": "https://cdn.example/a.jpg"},
            "response": {"content": {"mimeType": "image/jpeg", "text": jpeg, "encoding": "base64"}},
        },
        har_entry("https://static.cdninstagram.com/app.js", "application/javascript", "var a={};"),
        {"request": {"url": "https://www.instagram.com/x"}, "response": {"content": {}}},
    ]
    har = tmp_path / "session.har"
    har.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}), "utf-8")
    out = tmp_path / "posts.jsonl"
    assert run_cli("parse", har, "--append-to", out) == 0
    captured = capsys.readouterr()
    assert "44 posts added" in captured.out
    assert f"{har}: 44 posts in 4 responses (graphql, v1), feed continues after QVFEYy" in (
        captured.out
    )
    posts = read_posts(out)
    assert {p["source"] for p in posts} == {"file:session.har"}
    assert "CKsCopzFQH5" in {p["shortcode"] for p in posts}


def test_har_without_json_or_html_is_bad_input(tmp_path: Path, capsys) -> None:
    har = tmp_path / "images.har"
    entries = [har_entry("u", "image/jpeg", "x"), har_entry("v", "text/css", "a{}")]
    har.write_text(json.dumps({"log": {"entries": entries}}))
    assert run_cli("parse", har, "--append-to", tmp_path / "posts.jsonl") == 2
    (line,) = error_lines(capsys)
    assert line == (
        f"hashtag-crawl parse: error: {har}: HAR file with no Instagram JSON or HTML response "
        "(2 entries)"
    )


def bad_file(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A bad input file and the reason its error line must give."""
    if kind == "plain-text":
        path = tmp_path / "notes.txt"
        path.write_text("saved from instagram: #sunset posts", "utf-8")
        return path, "not JSON or HTML"
    if kind == "binary":
        path = tmp_path / "garbage.json"
        path.write_bytes(bytes(range(256)) * 8)
        return path, "not UTF-8 text (binary or corrupt file, bad byte at offset 128)"
    if kind == "truncated-json":
        path = tmp_path / "cut.json"
        path.write_text('{"data": {"hashtag": {"edge_hashtag_to_media": {"edges": [', "utf-8")
        return path, "malformed JSON (Expecting value at line 1)"
    if kind == "missing":
        return tmp_path / "nowhere.html", "no such file"
    if kind == "empty-folder":
        path = tmp_path / "empty"
        path.mkdir()
        return path, "a folder with no files in it"
    if kind == "not-instagram":
        path = tmp_path / "blog.html"
        path.write_text("<html><title>My blog</title><p>hi</p></html>", "utf-8")
        return path, "HTML page with no Instagram post data"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["plain-text", "binary", "truncated-json", "missing", "empty-folder", "not-instagram"]
)
def test_bad_file_is_one_line_exit_2_and_others_still_parsed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    bad, reason = bad_file(tmp_path, kind)
    out = tmp_path / "out" / "posts.jsonl"
    good_before, good_after = OWN_FIXTURES / "tag_a1.json", OWN_FIXTURES / "xdt_web_info.json"
    assert run_cli("parse", good_before, bad, good_after, "--append-to", out) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"hashtag-crawl parse: error: {bad}: {reason}"]
    assert "parsed 2 of 3 files: 3 posts added" in captured.out
    codes = [p["shortcode"] for p in read_posts(out)]
    assert codes == ["KayakA1", "KayakB2", "WebInfo020"]


def test_challenge_page_is_reported_not_parsed(
    instagram_fixtures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = instagram_fixtures / "checkpoint-challenge-content.html"
    out = tmp_path / "posts.jsonl"
    assert run_cli("parse", page, "--append-to", out) == 2
    expected = f"hashtag-crawl parse: error: {page}: a challenge page, not posts"
    assert error_lines(capsys) == [expected]
    assert not out.exists() or out.read_text() == ""


def test_append_to_is_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("parse", OWN_FIXTURES / "tag_a1.json", "--append-to", tmp_path) == 2
    assert error_lines(capsys) == [
        f"hashtag-crawl: error: --append-to {tmp_path} is a directory; "
        "give the posts.jsonl file to write"
    ]


def test_base_url_that_is_no_site_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "posts.jsonl"
    assert (
        run_cli("parse", OWN_FIXTURES / "tag_a1.json", "--append-to", out, "--base-url", "foo") == 2
    )
    assert error_lines(capsys) == [
        "hashtag-crawl: error: --base-url must be an http:// or https:// URL such as "
        "https://www.instagram.com, got 'foo'"
    ]
    assert not out.exists()


def test_documents_without_posts_are_zero_posts_exit_0(
    instagram_fixtures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A response without media objects (a viewer query, an empty profile) is not an error."""
    viewer = tmp_path / "viewer.json"
    viewer.write_text('{"data": {"viewer": {"id": "1"}}, "status": "ok"}', "utf-8")
    shell = instagram_fixtures / "home.html"
    out = tmp_path / "posts.jsonl"
    assert run_cli("parse", viewer, shell, "--append-to", out) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines() == [
        f"{viewer}: 0 posts (no media objects)",
        f"{shell}: 0 posts (no media objects)",
        f"parsed 2 of 2 files: 0 posts added to {out}, 0 duplicates skipped",
    ]


def test_folder_of_mixed_captures_reports_posts_per_file(
    instagram_fixtures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """2018-2026 shapes side by side: JSON, HTML with data-sjs or _sharedData, a HAR, a shell."""
    folder = tmp_path / "captures"
    (folder / "2026").mkdir(parents=True)
    for name in ("tag_page_sjs.html", "profile_timeline_xdt.json", "search_top_serp.json"):
        shutil.copy(OWN_FIXTURES / name, folder / "2026" / name)
    for name in ("location.html", "home.html"):
        shutil.copy(instagram_fixtures / name, folder / name)
    reel = har_entry(
        "https://www.instagram.com/api/v1/clips/user/",
        "application/json",
        (OWN_FIXTURES / "clips_user.json").read_text("utf-8"),
    )
    (folder / "reels.har").write_text(json.dumps({"log": {"entries": [reel]}}), "utf-8")
    (folder / "notes.txt").write_text("to do: crawl #sunset again", "utf-8")
    (folder / ".DS_Store").write_bytes(b"\x00\x01")
    out = folder / "posts.jsonl"
    out.write_text("", "utf-8")  # --append-to inside the folder is not parsed itself

    assert run_cli("parse", folder, "--append-to", out) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"hashtag-crawl parse: error: {folder / 'notes.txt'}: not JSON or HTML"
    ]
    *lines, summary = captured.out.splitlines()
    assert [line.split(", feed continues")[0] for line in lines] == [
        f"{folder / '2026' / 'profile_timeline_xdt.json'}: 3 posts (v1)",
        f"{folder / '2026' / 'search_top_serp.json'}: 3 posts (v1)",
        f"{folder / '2026' / 'tag_page_sjs.html'}: 3 posts (v1)",
        f"{folder / 'home.html'}: 0 posts (no media objects)",
        f"{folder / 'location.html'}: 33 posts (graphql)",
        f"{folder / 'reels.har'}: 2 posts (v1)",
    ]
    assert summary == f"parsed 6 of 7 files: 44 posts added to {out}, 0 duplicates skipped"
    assert len(read_posts(out)) == 44
