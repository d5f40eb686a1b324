"""hashtag-evaluate: the metrics table beside the baselines, merged into metrics.json."""

from __future__ import annotations

import json
import shutil

import pytest

from train.cli import evaluate_main
from train.predictor import Predictor, load_release, save_release


@pytest.fixture(scope="module")
def trained(make_tiny_checkpoint, make_tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    dataset = make_tiny_dataset(root / "ds", n_posts=40, n_labels=4)
    return dataset, make_tiny_checkpoint(dataset, root / "run", epochs=1)


def test_table_lists_model_and_baselines_and_updates_metrics(make_tiny_checkpoint, trained, capsys):
    dataset, run = trained
    text_only = make_tiny_checkpoint(dataset, run.parent / "text-only", epochs=1, modality="text")
    code = evaluate_main(
        [
            "--checkpoint",
            str(run),
            "--split",
            "test",
            "--quiet",
            "--baselines",
            f"text,image,trained-text={text_only}",
        ]
    )
    assert code == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["test", "run", "popularity", "text", "image", "trained-text"]
    rows = {line.split()[0]: line.split()[1:] for line in table[1:]}
    assert {"p@1", "r@5", "acc@5", "map", "micro_f1", "macro_f1"} <= set(rows)
    metrics = json.loads((run / "metrics.json").read_text())
    assert float(rows["p@1"][0]) == pytest.approx(metrics["test"]["p@1"], abs=5e-4)
    # tfidf: written by training, kept
    assert set(metrics["baselines"]) == {"popularity", "tfidf", "text", "image", "trained-text"}
    assert "val" in metrics  # written by training, kept


def test_popularity_figures_match_training(trained, capsys):
    """Evaluate recomputes the popularity baseline exactly as training reported it."""
    dataset, run = trained
    before = json.loads((run / "metrics.json").read_text())["baselines"]["popularity"]["test"]
    assert evaluate_main(["--checkpoint", str(run), "--dataset", str(dataset), "--quiet"]) == 0
    after = json.loads((run / "metrics.json").read_text())["baselines"]["popularity"]["test"]
    assert after == pytest.approx(before)


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


def test_missing_checkpoint_is_exit_2(tmp_path, capsys):
    assert evaluate_main(["--checkpoint", str(tmp_path), "--quiet"]) == 2
    assert one_error_line(capsys) == (
        f"hashtag-evaluate: error: {tmp_path} is not a checkpoint directory: config.json is missing"
    )


def test_unknown_baseline_is_exit_2(trained, capsys):
    _, run = trained
    assert evaluate_main(["--checkpoint", str(run), "--baselines", "oracle", "--quiet"]) == 2
    assert "unknown baseline 'oracle'" in one_error_line(capsys)


def test_dataset_with_other_labels_is_exit_2(make_tiny_dataset, trained, tmp_path, capsys):
    _, run = trained
    other = make_tiny_dataset(tmp_path / "other", n_posts=20, n_labels=3)
    assert evaluate_main(["--checkpoint", str(run), "--dataset", str(other), "--quiet"]) == 2
    assert "differs from the checkpoint's labels.txt" in one_error_line(capsys)


def test_checkpoint_without_a_recorded_dataset_asks_for_one(trained, tmp_path, capsys):
    """A folder saved without the training record (``save_pretrained`` of a bare model, a Hub
    copy) gives no dataset to default to."""
    _, run = trained
    bare = tmp_path / "bare"
    shutil.copytree(run, bare)
    config = json.loads((bare / "config.json").read_text())
    (bare / "config.json").write_text(json.dumps({"model": config["model"]}))
    assert evaluate_main(["--checkpoint", str(bare), "--quiet"]) == 2
    assert "records no dataset: pass --dataset" in one_error_line(capsys)


def test_report_named_like_the_default_is_written_where_asked(trained, tmp_path, monkeypatch):
    """Only ``--report`` without a value goes into the checkpoint, not a file that happens to be
    called report-SPLIT.html."""
    _, run = trained
    monkeypatch.chdir(tmp_path)
    argv = ["--checkpoint", str(run), "--report", "report-SPLIT.html", "--quiet"]
    assert evaluate_main(argv) == 0
    assert (tmp_path / "report-SPLIT.html").is_file()


def rewrite_model_record(run, folder, change) -> None:
    """A copy of ``run`` in ``folder`` whose config.json ``model`` record ``change`` edited."""
    shutil.copytree(run, folder)
    config = json.loads((folder / "config.json").read_text())
    change(config["model"])
    (folder / "config.json").write_text(json.dumps(config))


def test_a_run_folder_from_before_the_newer_model_keys_still_scores(trained, tmp_path, capsys):
    """Keys older checkpoints lack read as what those runs were trained with."""
    dataset, run = trained
    newer = ("wide_dim", "loss", "wide_mode", "blend_alpha", "image_backbone", "image_mean")
    newer += ("image_std", "image_interpolation", "weights", "demojize")

    def drop_newer_keys(record: dict) -> None:
        for key in newer:
            record.pop(key)

    old = tmp_path / "old"
    rewrite_model_record(run, old, drop_newer_keys)
    tables = []
    for folder in (old, run):
        assert evaluate_main(["--checkpoint", str(folder), "--dataset", str(dataset), "-q"]) == 0
        tables.append(capsys.readouterr().out)
    assert tables[0] == tables[1]  # the run's name, the same figures


def test_a_damaged_model_record_is_one_line_and_exit_2(trained, tmp_path, capsys):
    dataset, run = trained
    damaged = tmp_path / "damaged"
    rewrite_model_record(run, damaged, lambda record: record.update(text_pooling="max"))
    assert evaluate_main(["--checkpoint", str(damaged), "--dataset", str(dataset), "-q"]) == 2
    assert one_error_line(capsys) == (
        f"hashtag-evaluate: error: {damaged / 'config.json'} is damaged: model.text_pooling "
        "must be 'pooled', 'cls' or 'mean', got 'max'"
    )


def test_weights_that_do_not_fit_the_record_are_one_line_and_exit_2(trained, tmp_path, capsys):
    """A record edited to another architecture than its weights (here: the image features'
    standardiser switched off, its three buffers then left over) is a usage error, not torch's."""
    dataset, run = trained
    edited = tmp_path / "edited"
    rewrite_model_record(run, edited, lambda record: record.update(image_norm=False))
    assert evaluate_main(["--checkpoint", str(edited), "--dataset", str(dataset), "-q"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(
        f"hashtag-evaluate: error: {edited / 'model.safetensors'} does not fit config.json's "
        "model record: unexpected image_norm."
    )
    assert line.endswith("(0 missing, 3 unexpected tensors)")  # mean, variance, batch count


def test_a_run_folder_with_older_training_settings_still_scores(trained, tmp_path, capsys):
    """A ``train`` section with a setting since renamed, and no ``run_name``: evaluation still
    finds the dataset, names the column by the folder, and a save keeps the keys as read."""
    _, run = trained
    old = run.parent / "older"  # beside the run: the recorded ../ds still names the dataset
    shutil.copytree(run, old)
    config = json.loads((old / "config.json").read_text())
    del config["run_name"]
    config["train"]["renamed_since"] = 3
    (old / "config.json").write_text(json.dumps(config))
    assert evaluate_main(["--checkpoint", str(old), "--baselines", "", "-q"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["test", "older", "popularity"]
    assert Predictor.load(old).name == "older"
    save_release(tmp_path / "copy", *load_release(old))
    copy = json.loads((tmp_path / "copy" / "config.json").read_text())
    assert copy["model"] == config["model"] and "run_name" not in copy
    assert copy["train"].keys() == config["train"].keys()


def test_a_damaged_training_record_is_one_line_and_exit_2(trained, tmp_path, capsys):
    _, run = trained
    damaged = tmp_path / "damaged"
    shutil.copytree(run, damaged)
    config = json.loads((damaged / "config.json").read_text())
    config["train"]["dataset"] = 5
    (damaged / "config.json").write_text(json.dumps(config))
    assert evaluate_main(["--checkpoint", str(damaged), "-q"]) == 2
    assert one_error_line(capsys) == (
        f"hashtag-evaluate: error: {damaged / 'config.json'} is damaged: train.dataset must be "
        "null or a string, got 5"
    )


def test_popularity_listed_as_a_baseline_is_exit_2(trained, capsys):
    _, run = trained
    assert evaluate_main(["--checkpoint", str(run), "--baselines", "tfidf,popularity", "-q"]) == 2
    assert one_error_line(capsys) == (
        "hashtag-evaluate: error: popularity is always shown; list only tfidf, text, image or "
        "NAME=DIR"
    )
