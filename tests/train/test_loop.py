"""hashtag-train end to end on a tiny dataset: checkpoint contents, resume, and bad input."""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from safetensors.torch import load_file

from train import epoch as train_epoch
from train.checkpoint import save_run_files, save_weights
from train.cli import train_main
from train.encoders import vgg_backbone
from train.loop import train
from train.model import HashtagModel, hashtag_loss
from train.predictor import Predictor, load_release
from train.settings import TrainSettings


@pytest.fixture(scope="module")
def dataset(make_tiny_dataset, tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "ds", n_posts=60, n_labels=4)


@pytest.fixture(scope="module")
def run(make_tiny_checkpoint, dataset, tmp_path_factory):
    return make_tiny_checkpoint(dataset, tmp_path_factory.mktemp("runs") / "tiny")


def test_checkpoint_directory_follows_contract_3(run, dataset):
    for name in (
        "config.json",
        "model.safetensors",
        "labels.txt",
        "metrics.json",
        "train_log.jsonl",
        "tokenizer",
        "last/model.safetensors",
        "last/state.pt",
    ):
        assert (run / name).exists(), name
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["num_labels"] == 4 and config["model"]["image_size"] == 32
    assert (run / config["train"]["dataset"]).resolve() == dataset.resolve()  # relative to run
    assert (run / "labels.txt").read_text() == (dataset / "labels.txt").read_text()
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"val", "test", "baselines"} <= set(metrics)
    assert set(metrics["baselines"]["popularity"]) == {"val", "test"}
    events = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert events[0] == {**events[0], "event": "feature_cache", "hits": 0}
    assert sum(e["event"] == "val" for e in events) == 3


def test_loss_falls_over_the_run(run):
    """Mean train loss of the last epoch is below the first's (overfitting: test_train_model)."""
    events = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    first = [e["loss"] for e in events if e["event"] == "train" and e["epoch"] == 1]
    last = [e["loss"] for e in events if e["event"] == "train" and e["epoch"] == 3]
    assert sum(last) / len(last) < sum(first) / len(first)


def test_second_run_reuses_the_feature_cache(make_tiny_checkpoint, dataset, run, tmp_path):
    second = make_tiny_checkpoint(dataset, run.parent / "again", epochs=1)
    first_event = json.loads((second / "train_log.jsonl").read_text().splitlines()[0])
    assert first_event["event"] == "feature_cache"
    assert first_event["misses"] == 0 and first_event["hits"] == 60


def test_checkpoint_round_trip_gives_the_same_outputs(run, tmp_path):
    model, config, labels, _ = load_release(run)
    save_run_files(tmp_path, config.saved(), labels, None)
    save_weights(model, tmp_path / "model.safetensors")
    again, *_ = load_release(tmp_path)
    inputs = {
        "input_ids": torch.tensor([[2, 7, 9, 3]]),
        "attention_mask": torch.ones(1, 4, dtype=torch.long),
        "pixels": torch.randn(1, 3, 32, 32),
    }
    with torch.inference_mode():
        assert torch.equal(model(**inputs), again(**inputs))
    assert isinstance(HashtagModel.from_record(model.record), type(model))


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tiny_config, dataset, tmp_path):
    cache = str(tmp_path / "cache")
    whole = tmp_path / "whole"
    settings = TrainSettings.model_validate(tiny_config(epochs=2, feature_cache=cache))
    train(settings, dataset, whole, resume=False, progress=False)
    split = tmp_path / "split"
    interrupted = settings.model_copy(update={"stop_after_epochs": 1})
    train(interrupted, dataset, split, resume=False, progress=False)
    assert json.loads((split / "train_log.jsonl").read_text().splitlines()[-1])["epoch"] == 1
    train(settings, dataset, split, resume=True, progress=False)
    expected = load_file(whole / "last" / "model.safetensors")
    resumed = load_file(split / "last" / "model.safetensors")
    assert expected.keys() == resumed.keys()
    assert all(torch.equal(expected[k], resumed[k]) for k in expected)


def test_cli_resume_continues_with_the_saved_settings(
    make_tiny_checkpoint, dataset, tmp_path, capsys
):
    """``--resume`` alone reuses the first run's config; only flags it names change it."""
    run = make_tiny_checkpoint(dataset, tmp_path / "r", modality="text", stop_after_epochs=1)
    code, lines = run_cli(capsys, "--dataset", str(dataset), "--out", str(run), "--resume")
    assert code == 0 and lines == []
    events = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in events if e["event"] == "val"] == [1, 2]
    assert json.loads((run / "config.json").read_text())["train"]["image_size"] == 32
    code, lines = run_cli(
        capsys, "--dataset", str(dataset), "--out", str(run), "--resume", "--max-seq-len", "8"
    )
    assert code == 2 and len(lines) == 1 and "--resume cannot change max_seq_len" in lines[0]


def test_cli_resume_reads_the_saved_paths_from_the_run_folder(
    make_tiny_checkpoint, dataset, tmp_path, capsys, monkeypatch
):
    """config.json stores the feature cache relative to the run: a resume started from another
    working directory must still find it, not cache every image again somewhere else."""
    run = make_tiny_checkpoint(dataset, tmp_path / "r", epochs=2, stop_after_epochs=1)
    elsewhere = tmp_path / "elsewhere" / "deeper"  # "../feature-cache" names another folder here
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    code, lines = run_cli(capsys, "--dataset", str(dataset), "--out", str(run), "--resume")
    assert code == 0 and lines == []
    events = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    resumed_cache = [e for e in events if e["event"] == "feature_cache"][-1]
    assert resumed_cache["misses"] == 0 and not (elsewhere.parent / "feature-cache").exists()


def test_cli_resume_accepts_the_first_commands_path_flags(
    make_tiny_checkpoint, dataset, tmp_path, capsys, monkeypatch
):
    """Repeating the first command with --resume names the same folder, written another way."""
    (tmp_path / "encoder").mkdir()
    run = make_tiny_checkpoint(
        dataset,
        tmp_path / "r",
        modality="text",
        stop_after_epochs=1,
        text_encoder=str(tmp_path / "encoder"),
    )
    monkeypatch.chdir(tmp_path)
    argv = ("--dataset", str(dataset), "--out", "r", "--resume", "--text-encoder", "encoder")
    code, lines = run_cli(capsys, *argv)
    assert code == 0 and lines == []
    events = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in events if e["event"] == "val"] == [1, 2]


def test_cli_resume_refuses_a_dataset_with_other_labels(
    make_tiny_checkpoint, make_tiny_dataset, dataset, tmp_path, capsys
):
    run = make_tiny_checkpoint(dataset, tmp_path / "r", modality="text", stop_after_epochs=1)
    other = make_tiny_dataset(tmp_path / "other", n_posts=20, n_labels=3)
    code, lines = run_cli(capsys, "--dataset", str(other), "--out", str(run), "--resume")
    assert code == 2 and len(lines) == 1 and "has other labels than the run" in lines[0]


def test_cli_resume_of_a_folder_without_its_training_settings_is_refused(
    run, dataset, tmp_path, capsys
):
    """A folder whose config.json has no ``train`` section (a ``save_pretrained`` copy) has no
    settings to continue with: one line, not the shipped defaults."""
    bare = tmp_path / "bare"
    shutil.copytree(run, bare)
    config = json.loads((bare / "config.json").read_text())
    (bare / "config.json").write_text(json.dumps({"model": config["model"]}))
    code, lines = run_cli(capsys, "--dataset", str(dataset), "--out", str(bare), "--resume")
    assert code == 2 and len(lines) == 1 and "config.json records no training settings" in lines[0]


def test_training_stops_early_when_val_map_stops_improving(make_tiny_checkpoint, dataset, tmp_path):
    """With a zero learning rate val mAP never rises after epoch 1: patience 1 ends at epoch 2."""
    run = make_tiny_checkpoint(
        dataset, tmp_path / "r", modality="text", epochs=5, head_lr=0.0, patience=1
    )
    events = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert [e["best"] for e in events if e["event"] == "val"] == [True, False]


def test_softmax_loss_and_weighted_sampling_train(
    make_tiny_checkpoint, make_tiny_dataset, tmp_path, monkeypatch
):
    """Every training step computes the softmax loss, and draws only the posts the ``weight``
    column lets through: here the posts holding the rarest label, all others weighted 0."""
    dataset = make_tiny_dataset(tmp_path / "ds")
    table = pq.read_table(dataset / "train.parquet")
    rare = max(label for labels in table.column("labels").to_pylist() for label in labels)
    weights = [float(rare in labels) for labels in table.column("labels").to_pylist()]
    assert 0 < sum(weights) < len(weights)
    column = table.schema.get_field_index("weight")
    table = table.set_column(
        column, table.schema.field(column), pa.array(weights, type=pa.float32())
    )
    pq.write_table(table, dataset / "train.parquet")
    steps: list[tuple[str, torch.Tensor]] = []

    def recording_loss(logits: torch.Tensor, targets: torch.Tensor, kind: str) -> torch.Tensor:
        steps.append((kind, targets.detach().clone()))
        return hashtag_loss(logits, targets, kind)

    monkeypatch.setattr(train_epoch, "hashtag_loss", recording_loss)
    make_tiny_checkpoint(
        dataset,
        tmp_path / "softmax",
        epochs=1,
        loss="softmax",
        weighted_sampling=True,
        modality="text",
    )
    assert steps and {kind for kind, _ in steps} == {"softmax"}
    drawn = torch.cat([targets for _, targets in steps])
    assert bool((drawn[:, rare] == 1).all())  # no post of weight 0 was ever drawn


def test_finetune_mode_with_gradient_accumulation(make_tiny_checkpoint, dataset, tmp_path):
    """VGG16 trained end to end from pixels; two batches per optimizer step."""
    run = make_tiny_checkpoint(
        dataset,
        tmp_path / "finetune",
        epochs=1,
        modality="image",
        image_mode="finetune",
        grad_accum_steps=2,
    )
    events = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "train"  # no feature cache in finetune mode
    assert [e["step"] for e in events if e["event"] == "train"] == [1, 2, 3]  # 5 batches / 2
    torch.manual_seed(0)  # the seed the run started from; the backbone is built first
    initial = vgg_backbone().state_dict()
    trained = load_file(run / "model.safetensors")
    assert not torch.equal(initial["0.0.weight"], trained["image_backbone.0.0.weight"])


# ---- bad input: one line on stderr and a documented exit code -----------------------------


def run_cli(capsys, *argv: str) -> tuple[int, list[str]]:
    code = train_main([*argv, "--quiet"])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.fixture
def offline_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    # offline mode flips huggingface_hub's process-wide switch: restore it after the test
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)


def test_missing_pretrained_text_encoder_is_one_line_exit_2(
    dataset, tmp_path, capsys, offline_caches
):
    code, lines = run_cli(capsys, "--dataset", str(dataset), "--out", str(tmp_path / "r"))
    assert code == 2 and len(lines) == 1
    assert "albert-base-v2" in lines[0] and "--init random" in lines[0]


def test_missing_vgg16_weights_is_one_line_exit_2(dataset, tmp_path, capsys, offline_caches):
    code, lines = run_cli(
        capsys, "--dataset", str(dataset), "--out", str(tmp_path / "r"), "--modality", "image"
    )
    assert code == 2 and len(lines) == 1
    assert "VGG16_Weights.IMAGENET1K_V1" in lines[0] and "not in the torch.hub cache" in lines[0]
    assert "--image-weights" in lines[0]


def test_damaged_vgg16_weights_file_is_one_line_exit_2(dataset, tmp_path, capsys):
    damaged = tmp_path / "vgg16.pth"
    damaged.write_bytes(b"not a state dict")
    code, lines = run_cli(
        capsys,
        *("--dataset", str(dataset), "--out", str(tmp_path / "r"), "--modality", "image"),
        *("--image-weights", str(damaged)),
    )
    assert code == 2 and len(lines) == 1
    assert f"{damaged} does not hold torchvision's ImageNet weights of vgg16" in lines[0]


def test_missing_dataset_dir(tmp_path, capsys):
    code, lines = run_cli(capsys, "--dataset", str(tmp_path / "nope"), "--out", str(tmp_path / "r"))
    assert code == 2 and lines == [
        f"hashtag-train: error: dataset directory {tmp_path / 'nope'} does not exist"
    ]


def test_labels_txt_that_disagrees_with_the_parquet_labels(
    make_tiny_dataset, dataset, tmp_path, capsys
):
    broken = make_tiny_dataset(tmp_path / "ds", n_posts=20, n_labels=4)
    (broken / "labels.txt").write_text("topic1\ntopic0\ntopic2\ntopic3\n")  # two lines swapped
    # --init random: without network, missing pretrained weights would be refused first
    argv = ["--dataset", str(broken), "--out", str(tmp_path / "r"), "--init", "random"]
    code, lines = run_cli(capsys, *argv)
    assert code == 2 and len(lines) == 1 and "labels.txt does not match" in lines[0]
    (broken / "labels.txt").write_text("topic0\ntopic1\n")  # too few
    code, lines = run_cli(capsys, *argv)
    assert code == 2 and len(lines) == 1 and "labels.txt has 2 labels" in lines[0]


def test_empty_train_split(make_tiny_dataset, write_split, tmp_path, capsys):
    empty = make_tiny_dataset(tmp_path / "ds", n_posts=20)
    write_split(empty, "train", [])
    argv = ["--dataset", str(empty), "--out", str(tmp_path / "r"), "--init", "random"]
    code, lines = run_cli(capsys, *argv)
    assert code == 2 and len(lines) == 1 and "has no rows" in lines[0]


def test_resume_without_saved_state(dataset, tmp_path, capsys):
    code, lines = run_cli(
        capsys, "--dataset", str(dataset), "--out", str(tmp_path / "r"), "--resume"
    )
    assert code == 2 and len(lines) == 1 and "config.json is missing" in lines[0]


def test_existing_run_is_not_overwritten(dataset, run, capsys):
    code, lines = run_cli(capsys, "--dataset", str(dataset), "--out", str(run), "--init", "random")
    assert code == 2 and len(lines) == 1 and "already holds a run" in lines[0]


def test_bad_config_value(dataset, tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"image_mode": "thawed"}))
    code, lines = run_cli(
        capsys, "--dataset", str(dataset), "--out", str(tmp_path / "r"), "--config", str(config)
    )
    assert code == 2 and lines == [
        "hashtag-train: error: image_mode must be 'frozen' or 'finetune', got 'thawed'"
    ]


@pytest.mark.slow
def test_compiled_training_saves_a_checkpoint_that_loads_uncompiled(
    make_tiny_checkpoint, dataset, tmp_path
):
    """``--compile`` wraps the model in torch.compile; the checkpoint must not carry the wrapper."""
    run = make_tiny_checkpoint(dataset, tmp_path / "compiled", epochs=1, compile=True)
    assert not any("_orig_mod" in name for name in load_file(run / "model.safetensors"))
    model, _, labels, _ = load_release(run)
    assert len(labels) > 0 and not hasattr(model, "_orig_mod")


def test_checkpoint_records_how_the_dataset_made_model_text(
    make_tiny_checkpoint, dataset, run, tmp_path
):
    assert json.loads((run / "config.json").read_text())["model"]["demojize"] is False
    demojized = tmp_path / "demojized"
    shutil.copytree(dataset, demojized)
    (demojized / "manifest.json").write_text(json.dumps({"config": {"text": {"demojize": True}}}))
    other = make_tiny_checkpoint(demojized, tmp_path / "r", modality="text", epochs=1)
    assert json.loads((other / "config.json").read_text())["model"]["demojize"] is True
    assert Predictor.load(other).demojize is True
