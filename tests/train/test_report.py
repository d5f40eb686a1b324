"""TensorBoard events and report.html of a run; the report renders with its pictures in Chromium."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from train.cli import evaluate_main
from train.predictor import Predictor

EPOCHS = 2
CHARTS = ("curves", "ap-chart", "calibration")


@pytest.fixture(scope="module")
def run(make_tiny_checkpoint, make_tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    dataset = make_tiny_dataset(root / "dataset", n_posts=50, n_labels=5)
    return make_tiny_checkpoint(dataset, root / "tiny", epochs=EPOCHS)


def test_tensorboard_events_hold_loss_map_and_lr_per_epoch(run):
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"epoch/train_loss", "epoch/map", "epoch/lr", "train/loss", "train/lr"} <= scalars
    # Two event files (staging folder, then --out): read in name order, which puts writer 10
    # before writer 9 of the process when both were opened within one second, as here.
    for tag in ("epoch/train_loss", "epoch/map", "epoch/lr"):
        steps = sorted(event.step for event in events.Scalars(tag))
        assert steps == list(range(1, EPOCHS + 1)), tag
    assert all(0 <= event.value <= 1 for event in events.Scalars("epoch/map"))


def _rendered(browser, path) -> dict:
    """Load ``path`` in Chromium and report what a reader would see of its pictures."""
    browser.get(path.as_uri())
    return browser.execute_script(
        """
        const images = [...document.images];
        return {
          ids: images.map(image => image.id).filter(Boolean),
          broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
          thumbnails: document.querySelectorAll('#gallery img.thumb').length,
          posts: document.querySelectorAll('#gallery .post').length,
          external: images.filter(i => !i.src.startsWith('data:')).length,
        };
        """
    )


def test_training_report_renders_charts_and_thumbnails(run, browser):
    page = _rendered(browser, run / "report.html")
    assert set(CHARTS) <= set(page["ids"])
    assert page["broken"] == [] and page["external"] == 0  # every picture is embedded
    assert page["thumbnails"] == page["posts"] > 0
    assert browser.find_element(By.TAG_NAME, "h1").text == "tiny"
    assert "test split" in browser.find_element(By.CLASS_NAME, "sub").text
    predicted = browser.find_elements(By.CSS_SELECTOR, "#gallery .hit, #gallery .miss")
    assert predicted and all(tag.text.startswith("#topic") for tag in predicted)


def test_evaluate_writes_the_report_for_another_split(run, browser):
    assert evaluate_main(["--checkpoint", str(run), "--split", "val", "--report", "--quiet"]) == 0
    page = _rendered(browser, run / "report-val.html")
    assert set(CHARTS) <= set(page["ids"]) and page["broken"] == []
    assert "val split" in browser.find_element(By.CLASS_NAME, "sub").text


def test_report_of_a_folder_without_training_log_says_so(run, tmp_path, browser):
    saved = tmp_path / "saved"
    Predictor.from_pretrained(run).save_pretrained(saved)
    report = tmp_path / "out.html"
    argv = ["--checkpoint", str(saved), "--dataset", str(run.parent / "dataset"), "--quiet"]
    assert evaluate_main([*argv, "--report", str(report)]) == 0
    page = _rendered(browser, report)
    assert "curves" not in page["ids"] and page["broken"] == []
    assert browser.find_element(By.ID, "no-curves").is_displayed()


def test_report_under_a_file_is_refused_before_scoring(run, tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    report = tmp_path / "afile" / "r.html"
    assert evaluate_main(["--checkpoint", str(run), "--report", str(report), "--quiet"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == (
        f"hashtag-evaluate: error: --report {report}: {tmp_path / 'afile'} is a file, "
        "not a directory"
    )
