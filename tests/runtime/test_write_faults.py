"""Every writing command on a disk that fills up, or a folder that stops accepting writes,
while it runs: one stderr line naming the place, exit 1, nothing half-written left behind, and
the same command done once there is room again (issue 19, part 3).

The disks are real: small tmpfs mounts (the ``small_disk`` fixture; skipped where mounting is
not permitted). A folder turns unwritable mid-run with ``chattr +i``: permission bits do not stop
root, and a read-only remount is refused while the command holds a file open for writing.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import save_file

from crawler.cli import main as crawl_main
from preprocess.cli import main as build_main
from runtime.errors import run_main
from runtime.files import append_jsonl, iter_jsonl
from runtime.write_faults import WriteFault, write_fault, writing_into
from train.cli import evaluate_main, train_main

DISK_FULL = "is full (No space left on device)"


def run_cli(main: Callable[[list[str]], int], argv: list[str], capsys) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main([*argv, "-q"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "unexpected" not in err, err
    return code, [line for line in err.splitlines() if line.strip()]


def leftovers(folder: Path) -> list[str]:
    """Everything under ``folder``, as relative paths."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def assert_whole_lines(path: Path) -> list[dict]:
    """The records of a JSON Lines file that must hold no torn or bad line (or not exist)."""
    if not path.exists():
        return []
    assert path.read_bytes().endswith(b"\n") or path.stat().st_size == 0
    rows = list(iter_jsonl(path))
    assert all(record is not None for _, record, _ in rows), "a torn line"
    return [record for _, record, _ in rows]


# the mechanism ------------------------------------------------------------------------------


def test_an_append_that_does_not_fit_is_cut_back_to_the_last_whole_line(small_disk):
    disk = small_disk("8k")
    path = disk.folder / "posts.jsonl"
    append_jsonl(path, [{"n": 0}])
    before = path.read_bytes()
    with pytest.raises(OSError) as raised:
        append_jsonl(path, [{"n": n, "pad": "x" * 1000} for n in range(1, 40)])
    assert write_fault(raised.value) is not None
    assert path.read_bytes() == before
    with pytest.raises(OSError):  # a file that did not exist is not left behind empty
        append_jsonl(disk.folder / "new.jsonl", [{"pad": "x" * 20_000}])
    assert leftovers(disk.folder) == ["posts.jsonl"]


def test_a_library_that_quotes_the_system_error_is_recognised(small_disk, capsys):
    """safetensors raises its own SafetensorError with the words 'No space left on device'."""
    disk = small_disk("8k")

    def body() -> None:
        save_file({"w": torch.zeros(10_000)}, str(disk.folder / "model.safetensors"))

    assert run_main(body, "prog") == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("prog: error: the disk at ") and DISK_FULL in line
    with (
        pytest.raises(WriteFault, match=f"the disk at {disk.folder} is full"),
        writing_into(disk.folder),
    ):
        body()


def test_a_permission_error_outside_the_output_place_is_no_write_fault(tmp_path):
    denied = PermissionError(13, "Permission denied", str(tmp_path / "input.jsonl"))
    assert write_fault(denied, tmp_path / "out") is None
    assert write_fault(denied) is None
    inside = PermissionError(13, "Permission denied", str(tmp_path / "out" / "x"))
    assert "became unwritable" in str(write_fault(inside, tmp_path / "out"))


# hashtag-crawl ------------------------------------------------------------------------------

DEMO_CRAWL = ["crawl", "--demo", "--limit", "60", "--no-delay", "--set", "demo.n_posts=2000"]


@pytest.mark.browser
@pytest.mark.slow
def test_crawl_on_a_full_disk_keeps_whole_lines_and_resumes(chromium_ready, small_disk, capsys):
    disk = small_disk("24k")
    out = disk.folder / "crawl"
    code, lines = run_cli(crawl_main, [*DEMO_CRAWL, "--out", str(out)], capsys)
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"hashtag-crawl: error: the disk at {out} {DISK_FULL}")
    kept = assert_whole_lines(out / "posts.jsonl")
    assert not [name for name in leftovers(out) if name.startswith(".")]  # no temporary files

    disk.resize("4m")
    code, _ = run_cli(crawl_main, [*DEMO_CRAWL, "--out", str(out)], capsys)
    posts = assert_whole_lines(out / "posts.jsonl")
    assert code == 0 and posts[: len(kept)] == kept
    assert len(posts) == 60 == len({post["shortcode"] for post in posts})


@pytest.mark.browser
@pytest.mark.slow
def test_crawl_into_a_folder_made_unwritable_mid_run_says_so_and_resumes(
    chromium_ready, small_disk, capsys
):
    disk = small_disk("8m")
    out = disk.folder / "crawl"
    argv = [*DEMO_CRAWL, "--limit", "400", "--download-images", "--out", str(out)]
    frozen = threading.Event()

    def freeze_after_the_first_batch() -> None:
        deadline = time.monotonic() + 120
        while not (out / "posts.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        subprocess.run(["chattr", "+i", str(out)], check=True)
        frozen.set()

    watcher = threading.Thread(target=freeze_after_the_first_batch, daemon=True)
    watcher.start()
    code, lines = run_cli(crawl_main, argv, capsys)
    watcher.join()
    assert frozen.is_set()
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"hashtag-crawl: error: {out} became unwritable during the run")
    kept = assert_whole_lines(out / "posts.jsonl")

    subprocess.run(["chattr", "-i", str(out)], check=True)
    code, _ = run_cli(crawl_main, argv, capsys)
    posts = assert_whole_lines(out / "posts.jsonl")
    assert code == 0 and posts[: len(kept)] == kept
    assert len(kept) < len(posts) == len({post["shortcode"] for post in posts})
    assert all((out / post["image_path"]).is_file() for post in posts)


def test_parse_on_a_full_disk_keeps_whole_lines_and_resumes(instagram_fixtures, small_disk, capsys):
    disk = small_disk("8k")
    out = disk.folder / "posts.jsonl"
    argv = ["parse", str(instagram_fixtures), "--append-to", str(out)]
    code, lines = run_cli(crawl_main, argv, capsys)
    assert code == 1 and lines[-1] == (
        f"hashtag-crawl: error: the disk at {out} {DISK_FULL}: nothing half-written was kept; "
        "free some space and run the same command again"
    )
    kept = assert_whole_lines(out)
    disk.resize("16m")
    code, _ = run_cli(crawl_main, argv, capsys)
    posts = assert_whole_lines(out)
    assert code in (0, 2)  # 2: some captures are no post pages, as without a full disk
    assert posts[: len(kept)] == kept and len(posts) > len(kept)
    assert len({post["shortcode"] for post in posts}) == len(posts)


# hashtag-build-dataset ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_posts(chromium_ready, tmp_path_factory) -> Path:
    """posts.jsonl of a demo crawl with its images saved beside it."""
    out = tmp_path_factory.mktemp("crawled")
    argv = [*DEMO_CRAWL, "--limit", "40", "--download-images", "--out", str(out), "-q"]
    assert crawl_main(argv) == 0
    return out / "posts.jsonl"


@pytest.mark.browser
def test_build_on_a_full_disk_leaves_no_dataset(demo_posts, small_disk, capsys):
    disk = small_disk("64k")
    out = disk.folder / "ds"
    code, lines = run_cli(
        build_main, ["build", "--input", str(demo_posts), "--out", str(out)], capsys
    )
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"hashtag-build-dataset: error: the disk at {out} {DISK_FULL}")
    # the persistent image cache keeps whole images only; no dataset, no staging folder
    assert [name for name in os.listdir(disk.folder)] == ["ds.image-cache"]
    assert not [name for name in leftovers(disk.folder) if "/." in f"/{name}"]


@pytest.fixture(scope="module")
def dataset(make_tiny_dataset, tmp_path_factory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "ds", n_posts=40, n_labels=3)


@pytest.fixture(scope="module")
def built_dataset(demo_posts, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built") / "ds"
    argv = ["build", "--input", str(demo_posts), "--out", str(out), "--min-count", "2", "-q"]
    assert build_main(argv) == 0
    return out


@pytest.mark.browser
@pytest.mark.parametrize("form", ["webdataset", "hf"])
def test_export_on_a_full_disk_leaves_nothing(form, built_dataset, small_disk, capsys):
    disk = small_disk("32k")
    out = disk.folder / "export"
    argv = ["export", "--dataset", str(built_dataset), "--out", str(out), "--output-format", form]
    code, lines = run_cli(build_main, argv, capsys)
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"hashtag-build-dataset: error: the disk at {out} {DISK_FULL}")
    assert leftovers(disk.folder) == []


# hashtag-train and hashtag-evaluate -----------------------------------------------------------


@pytest.fixture(scope="module")
def train_config(tiny_config, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("config")
    config = tiny_config(modality="text", epochs=1, feature_cache=str(folder / "features"))
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_train_on_a_full_disk_leaves_no_run_folder(dataset, train_config, small_disk, capsys):
    disk = small_disk("64k")
    out = disk.folder / "runs" / "r"
    argv = ["--dataset", str(dataset), "--out", str(out), "--config", str(train_config)]
    code, lines = run_cli(train_main, argv, capsys)
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"hashtag-train: error: the disk at {out} {DISK_FULL}")
    assert leftovers(disk.folder) == []  # no staging folder, no empty runs/

    disk.resize("64m")
    code, _ = run_cli(train_main, argv, capsys)
    assert code == 0 and (out / "model.safetensors").is_file()

    report = small_disk("4k").folder / "report.html"
    code, lines = run_cli(
        evaluate_main, ["--checkpoint", str(out), "--report", str(report)], capsys
    )
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"hashtag-evaluate: error: the disk at {report} {DISK_FULL}")
    assert leftovers(report.parent) == []
