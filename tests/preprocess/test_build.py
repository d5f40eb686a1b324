"""``hashtag-build-dataset`` end to end: real files, images from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import lzma
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.parquet as pq
import pytest

from demo_site.generator import DemoCorpus
from preprocess import build, langid
from preprocess.cli import main
from preprocess.funnel import STAGES
from preprocess.writer import PARQUET_SCHEMA
from runtime.hashtags import extract_hashtags
from runtime.records import PostRecord

JSONL_POSTS, INSTALOADER_POSTS, CSV_POSTS = range(0, 40), range(40, 50), range(50, 60)
FAST_IMAGES = ["--set", "images.timeout_s=2", "--set", "images.retries=0"]


class _ImageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.images: dict[str, bytes] = {}
        self.hits: Counter[str] = Counter()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        server: _ImageServer = self.server  # type: ignore[assignment]
        path = urlsplit(self.path).path
        server.hits[path] += 1
        body = server.images.get(path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "image/jpeg" if body else "text/html")
        body = body or b"<html>not found</html>"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def corpus() -> DemoCorpus:
    return DemoCorpus(seed=3, n_posts=60, n_topics=3, n_owners=12)


@pytest.fixture(scope="module")
def server(
    corpus: DemoCorpus, expected_record: Callable[..., PostRecord]
) -> Iterator[_ImageServer]:
    httpd = _ImageServer()
    for i in JSONL_POSTS:
        url = expected_record(corpus, i, httpd.base_url, "tag:demo")["image_url"]
        httpd.images[urlsplit(url).path] = corpus.render_image(i)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def inputs(
    expected_record: Callable[..., PostRecord],
    tmp_path_factory: pytest.TempPathFactory,
    corpus: DemoCorpus,
    server: _ImageServer,
) -> list[Path]:
    """posts.jsonl (with bad lines and a dead image URL), an instaloader folder and a CSV."""
    root = tmp_path_factory.mktemp("inputs")
    records = [expected_record(corpus, i, server.base_url, "tag:demo") for i in JSONL_POSTS]
    dead = dict(
        records[0],
        shortcode="DEADLINK",
        owner="someone_else",
        image_url=f"{server.base_url}/gone.jpg",
    )
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in [*records, dead]]
    lines += [b'{"shortcode": "broken', b"\xff\xfe not utf-8", b'{"shortcode": "NOCAPTION"}']
    (root / "posts.jsonl").write_bytes(b"\n".join(lines) + b"\n")

    for n, i in enumerate(INSTALOADER_POSTS):
        post = corpus.post(i)
        target = root / "instaloader" / ("natgeo" if n % 2 else "#demo")
        target.mkdir(parents=True, exist_ok=True)
        stem = f"2024-06-{n + 1:02d}_10-00-00_UTC"
        node = {
            "shortcode": post.shortcode,
            "display_url": "http://127.0.0.1:9/expired.jpg",
            "taken_at_timestamp": post.taken_at,
            "owner": {"username": post.owner},
            "edge_media_to_caption": {"edges": [{"node": {"text": post.caption}}]},
        }
        document = {"node": node, "instaloader": {"version": "4.13", "node_type": "Post"}}
        (target / f"{stem}.json.xz").write_bytes(lzma.compress(json.dumps(document).encode()))
        (target / f"{stem}.txt").write_text(post.caption, "utf-8")
        (target / f"{stem}.jpg").write_bytes(corpus.render_image(i))

    rows = ["caption,image,owner"]
    for i in CSV_POSTS:
        post = corpus.post(i)
        (root / f"csv-{i}.jpg").write_bytes(corpus.render_image(i))
        caption = post.caption.replace('"', '""')
        rows.append(f'"{caption}",csv-{i}.jpg,{post.owner}')
    (root / "posts.csv").write_text("\n".join(rows) + "\n", "utf-8")
    return [root / "posts.jsonl", root / "instaloader", root / "posts.csv"]


def run_build(inputs: list[Path], out: Path, *extra: str) -> int:
    args = [
        "build",
        "--out",
        str(out),
        "--langid-backend",
        "fasttext",
        "--min-count",
        "2",
        "--top-k",
        "25",
        "--keep-und",
        "-q",
        *FAST_IMAGES,
        *extra,
    ]
    for path in inputs:
        args += ["--input", str(path)]
    return main(args)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, inputs: list[Path]) -> Path:
    out = tmp_path_factory.mktemp("build") / "dataset"
    assert run_build(inputs, out, "--balance", "sqrt") == 0
    return out


def test_dataset_directory_follows_contract_2(built: Path) -> None:
    names = {p.name for p in built.iterdir()}
    assert {
        "manifest.json",
        "labels.txt",
        "train.parquet",
        "val.parquet",
        "test.parquet",
        "images",
        "stats.json",
        "report.html",
        "drops.parquet",
    } <= names
    labels = built.joinpath("labels.txt").read_text("utf-8").splitlines()
    assert 0 < len(labels) <= 25
    tables = {name: pq.read_table(built / f"{name}.parquet") for name in ("train", "val", "test")}
    for table in tables.values():
        assert table.schema.equals(PARQUET_SCHEMA)
    rows = [row for table in tables.values() for row in table.to_pylist()]
    assert len({row["shortcode"] for row in rows}) == len(rows)
    for row in rows:
        assert row["labels"] and all(0 <= i < len(labels) for i in row["labels"])
        assert {labels[i] for i in row["labels"]} <= set(row["hashtags"])
        assert extract_hashtags(row["text"]) == []
        image = row["image"]
        assert image["path"] == f"images/{row['image_sha256'][:2]}/{row['image_sha256']}.jpg"
        assert (built / image["path"]).read_bytes() == image["bytes"]
        assert row["weight"] > 0
    train_labels = {i for row in tables["train"].to_pylist() for i in row["labels"]}
    assert train_labels == set(range(len(labels)))
    image_shas = [row["image_sha256"] for row in rows]
    assert len(set(image_shas)) == len(image_shas)
    assert not any(p.name.startswith(".dataset") for p in built.parent.iterdir())
    written_atomically = [p for p in built.rglob("*") if p.is_file() and p.suffix != ".parquet"]
    assert {p.stat().st_mode & 0o777 for p in written_atomically} == {0o644}


def test_manifest_stats_and_report(built: Path, inputs: list[Path]) -> None:
    manifest = json.loads(built.joinpath("manifest.json").read_text("utf-8"))
    assert manifest["schema_version"] == 2
    assert [i["format"] for i in manifest["inputs"]] == ["jsonl", "instaloader", "csv"]
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    assert manifest["config"]["labels"]["min_count"] == 2
    assert list(manifest["counts"]) == list(STAGES)

    stats = json.loads(built.joinpath("stats.json").read_text("utf-8"))
    funnel = {stage["stage"]: stage for stage in stats["funnel"]}
    assert funnel["read"]["posts"] == len(JSONL_POSTS) + 4 + len(INSTALOADER_POSTS) + len(CSV_POSTS)
    assert funnel["parsed"]["dropped"] == {"bad_json": 1, "bad_utf8": 1, "missing_caption": 1}
    counts = [funnel[s]["posts"] for s in STAGES]
    assert counts == sorted(counts, reverse=True)
    for before, after in zip(STAGES, STAGES[1:], strict=False):
        dropped = sum(funnel[after]["dropped"].values())
        assert funnel[before]["posts"] - dropped == funnel[after]["posts"]
    assert funnel["image ok"]["dropped"] == {"http_404": 1}
    assert sum(stats["splits"].values()) == funnel["image ok"]["posts"]
    assert "en" in stats["language_mix"]

    html = built.joinpath("report.html").read_text("utf-8")
    assert html.count("data:image/png;base64,") == 6
    assert "http_404" in html and 'src="http' not in html


def test_the_drop_log_names_every_dropped_post(built: Path) -> None:
    drops = pq.read_table(built / "drops.parquet").to_pylist()
    stats = json.loads(built.joinpath("stats.json").read_text("utf-8"))
    logged = Counter((row["step"], row["reason"]) for row in drops)
    counted = Counter(
        {(s["stage"], reason): n for s in stats["funnel"] for reason, n in s["dropped"].items()}
    )
    assert logged == counted  # the funnel's drops, one row each
    kept = {
        code
        for name in ("train", "val", "test")
        for code in pq.read_table(built / f"{name}.parquet").column("shortcode").to_pylist()
    }
    for row in drops:
        if row["reason"] in ("bad_json", "bad_utf8"):
            assert row["shortcode"] is None  # a record that did not parse has no shortcode
        elif row["reason"] != "same_shortcode":  # its other copy may be in the dataset
            assert row["shortcode"] and row["shortcode"] not in kept
    assert [row["step"] for row in drops if row["reason"] == "http_404"] == ["image ok"]


def test_manifest_names_the_default_backend_it_used(
    tmp_path: Path, inputs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(langid, "DEFAULT_BACKEND", "fasttext")  # the fast one, for the test
    out = tmp_path / "dataset"
    args = ["build", "--out", str(out), "--input", str(inputs[0]), "--min-count", "2", "-q"]
    assert main([*args, *FAST_IMAGES]) == 0
    manifest = json.loads(out.joinpath("manifest.json").read_text("utf-8"))
    assert manifest["config"]["language"]["backend"] == "fasttext"  # not null: reproducible


def test_rebuild_reuses_the_image_cache(
    built: Path, inputs: list[Path], server: _ImageServer
) -> None:
    hits = server.hits.copy()
    before = json.loads(built.joinpath("stats.json").read_text("utf-8"))
    assert run_build(inputs, built, "--balance", "sqrt") == 0
    assert server.hits == hits  # a 404 is remembered like a success
    assert json.loads(built.joinpath("stats.json").read_text("utf-8")) == before


def test_interrupted_build_keeps_the_previous_dataset(
    built: Path, inputs: list[Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    snapshot = {p.relative_to(built): p.read_bytes() for p in built.rglob("*") if p.is_file()}

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(build, "write_report", fail)
    assert run_build(inputs, built, "--top-k", "3") == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "hashtag-build-dataset: error: unexpected OSError: disk full"
    ]
    after = {p.relative_to(built): p.read_bytes() for p in built.rglob("*") if p.is_file()}
    assert after == snapshot
    assert sorted(p.name for p in built.parent.iterdir()) == ["dataset", "dataset.image-cache"]


def test_funnel_is_printed_on_stdout(
    tmp_path: Path, inputs: list[Path], capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "split-by-owner"
    assert (
        run_build(inputs[:1], out, "--split-by", "owner", "--cache-dir", str(tmp_path / "cache"))
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "read",
        "parsed",
        "deduped",
        "language",
        "labelled",
        "image",
    ]
    owners = {}
    for name in ("train", "val", "test"):
        for owner in pq.read_table(out / f"{name}.parquet").column("owner").to_pylist():
            assert owners.setdefault(owner, name) == name


def test_a_damaged_cache_index_is_one_line_before_any_input_is_read(
    tmp_path: Path, inputs: list[Path], capsys: pytest.CaptureFixture
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "index.sqlite").write_text("not a database")
    args = ["build", "--input", str(inputs[0]), "--out", str(tmp_path / "d"), "-q"]
    assert main([*args, "--cache-dir", str(cache)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "index.sqlite is damaged" in err[0] and "delete it" in err[0]
    assert sorted(p.name for p in cache.iterdir()) == ["index.sqlite"]
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--input", "/nonexistent/posts.jsonl"], "input not found: /nonexistent/posts.jsonl"),
        ([], "no input given; pass --input PATH (repeatable)"),
        (
            ["--input", "{inputs}", "--set", "splits.fractions.train=0.5"],
            "splits.fractions must be shares that sum to 1",
        ),
        (["--input", "{inputs}", "--top-k", "0"], "labels.top_k must be at least 1, got 0"),
        (
            ["--input", "{inputs}", "--min-count", "-1"],
            "labels.min_count must be at least 1, got -1",
        ),
        (["--input", "{inputs}", "--near-dup", "65"], "dedup.near_dup must be at most 64, got 65"),
        (
            ["--input", "{inputs}", "--lang", "english"],
            "language.keep.0 must be an ISO 639-1 code such as en",
        ),
        (["--input", "{inputs}", "--set", "language.keep=en"], "language.keep must be a list"),
        (["--input", "{inputs}", "--set", "text.demojize=maybe"], "demojize must be true or"),
        (["--input", "{inputs}", "--set", "labels.top_k=many"], "top_k must be an integer"),
        (
            ["--input", "{inputs}", "--set", "image_cache=2024"],
            "image_cache must be null or a string, got 2024",
        ),
        (["--input", "{inputs}", "--cache-dir", "{out}/cache"], "lies inside --out"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    tmp_path: Path,
    inputs: list[Path],
    capsys: pytest.CaptureFixture,
    extra: list[str],
    message: str,
) -> None:
    args = [
        a.replace("{inputs}", str(inputs[0])).replace("{out}", str(tmp_path / "d")) for a in extra
    ]
    code = main(["build", "--out", str(tmp_path / "d"), "-q", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("hashtag-build-dataset: error: ")
    assert message in err[0]
    assert not (tmp_path / "d").exists()


def test_refuses_to_replace_a_folder_that_is_not_a_dataset(
    tmp_path: Path, inputs: list[Path], capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("precious", "utf-8")
    assert run_build(inputs[:1], tmp_path / "home") == 2
    assert "not a dataset directory" in capsys.readouterr().err
    assert (tmp_path / "home" / "notes.txt").read_text("utf-8") == "precious"


def test_hashtags_command_reads_stdin() -> None:
    stdin = "Sun #Beach#sea ＃Ｔｏｋｙｏ\nno tags, a#b #123\n".encode() + b"\xff bad #bytes\n"
    result = subprocess.run(
        [sys.executable, "-m", "preprocess", "hashtags"],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode("utf-8").split("\n") == ["beach\tsea\ttokyo", "", "bytes", ""]


def test_nothing_left_is_a_one_line_runtime_failure(
    tmp_path: Path, corpus: DemoCorpus, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "a.jpg").write_bytes(corpus.render_image(0))
    record = {"shortcode": "NOTAGS", "caption": "A quiet day at the beach", "image_path": "a.jpg"}
    (tmp_path / "posts.jsonl").write_text(json.dumps(record) + "\n", "utf-8")
    assert run_build([tmp_path / "posts.jsonl"], tmp_path / "dataset") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "hashtag-build-dataset: error: no post is left to write; funnel: read 1 -> "
        "parsed 1 -> deduped 1 -> language 1 -> labelled 0 -> image ok 0"
    ]
    assert not (tmp_path / "dataset").exists()
