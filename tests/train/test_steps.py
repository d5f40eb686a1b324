"""The steps of train.loop.train() driven one by one, and the run folder that only appears at
the first checkpoint (a staging folder beside --out until then)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from runtime.errors import UsageError
from train.baselines import TrainSplitFits
from train.cli import train_main
from train.data import load_dataset
from train.epoch import make_trainer, train_epoch
from train.inputs import make_data
from train.loop import load_model, restore_or_start, should_stop
from train.run_folder import open_run_folder, refuse_existing_run
from train.run_setup import RunState, prepare_run
from train.settings import TrainSettings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dataset(make_tiny_dataset, tmp_path_factory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "ds", n_posts=40, n_labels=3)


def siblings(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.parent.iterdir())


def test_a_new_run_is_staged_beside_out_until_promoted(tmp_path):
    out = tmp_path / "run"
    with open_run_folder(out, resume=False, writes=True) as folder:
        assert folder.staged and folder.path.parent == tmp_path
        assert folder.path.name.startswith(".run.building-")
        assert not out.exists()
        folder.log({"event": "train", "step": 1, "loss": 0.5})
        folder.promote()
        assert not folder.staged and folder.path == out
        folder.log({"event": "train", "step": 2, "loss": 0.25})
    assert siblings(out) == ["run"]
    lines = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2]
    assert len(list((out / "tensorboard").iterdir())) == 2  # one event file per folder
    assert out.stat().st_mode & 0o777 == 0o755


def test_a_run_that_fails_before_its_checkpoint_leaves_nothing(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError), open_run_folder(out, False, True) as folder:
        folder.log({"event": "train", "step": 1, "loss": 0.5})
        raise RuntimeError("failed in the first epoch")
    assert folder.board is None  # closed before its folder went
    assert list(tmp_path.iterdir()) == []


def test_an_empty_out_folder_is_replaced_by_the_run(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    refuse_existing_run(out)
    with open_run_folder(out, False, True) as folder:
        folder.log({"event": "val", "epoch": 1})
        folder.promote()
    assert siblings(out) == ["run"] and (out / "train_log.jsonl").is_file()


def test_resume_writes_in_place(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    with open_run_folder(out, resume=True, writes=True) as folder:
        assert not folder.staged
        folder.log({"event": "val", "epoch": 2})
    assert siblings(out) == ["run"] and (out / "train_log.jsonl").is_file()


def test_other_ranks_write_nothing(tmp_path):
    with open_run_folder(tmp_path / "run", resume=False, writes=False) as folder:
        assert folder.board is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "needle"),
    [("model.safetensors", "already holds a run"), ("notes.txt", "is not empty")],
)
def test_out_with_files_is_refused(tmp_path, name, needle):
    (tmp_path / name).write_text("x")
    with pytest.raises(UsageError, match=needle):
        refuse_existing_run(tmp_path)


def test_should_stop_on_patience_or_the_invocations_budget():
    config = TrainSettings(patience=2, stop_after_epochs=None)
    assert not should_stop(config, RunState(epoch=3, stale_epochs=1, epochs_this_run=3))
    assert should_stop(config, RunState(epoch=3, stale_epochs=2, epochs_this_run=3))
    budget = TrainSettings(patience=5, stop_after_epochs=2)
    assert not should_stop(budget, RunState(epoch=5, epochs_this_run=1))
    assert should_stop(budget, RunState(epoch=5, epochs_this_run=2))


def test_run_state_saves_what_a_resume_needs():
    state = RunState(epoch=2, step=14, best_map=0.5, stale_epochs=1, epochs_this_run=2)
    assert state.saved() == {"epoch": 2, "step": 14, "best_map": 0.5, "stale_epochs": 1}
    assert RunState(**state.saved()).epochs_this_run == 0  # counted per invocation


def test_one_epoch_from_the_steps_alone(tiny_config, dataset, tmp_path):
    """prepare_run → load_model → make_data → make_trainer → train_epoch, without train()."""
    config = tiny_config(modality="both", grad_accum_steps=2, feature_cache=str(tmp_path / "fc"))
    settings = TrainSettings.model_validate(config)
    setup = prepare_run(settings, dataset, tmp_path / "run", resume=False, progress=False)
    labels, frames = load_dataset(dataset)
    with open_run_folder(setup.out_dir, False, writes=True) as folder:
        tfidf = TrainSplitFits.of(frames["train"], len(labels), settings.seed)
        model, tokenizer, record, saved = load_model(setup, labels, frames, tfidf)
        assert saved is None and record.num_labels == 3
        data = make_data(setup, model, record, tokenizer, labels, frames, folder)
        trainer = make_trainer(setup, model, len(data.loader))
        state = restore_or_start(setup, trainer, saved, folder)
        loss = train_epoch(setup, trainer, data, state, folder)
        events = [json.loads(line) for line in folder.log_path.read_text().splitlines()]
    assert math.isfinite(loss) and loss > 0
    assert state.step == math.ceil(len(data.loader) / 2) and state.epoch == 0
    assert events[0]["event"] == "feature_cache"  # frozen VGG: features cached first
    assert [e["step"] for e in events if e["event"] == "train"] == list(range(1, state.step + 1))
    assert not (tmp_path / "run").exists()  # never promoted: no checkpoint was saved


@pytest.mark.slow
def test_a_run_killed_before_its_first_checkpoint_leaves_nothing_at_out(
    tiny_config, dataset, tmp_path
):
    """kill -9 at the end of the first epoch: no --out, only a staging folder, which the same
    command (no --resume, no clean-up) removes before it trains."""
    config = tmp_path / "tiny.yaml"
    config.write_text(
        yaml.safe_dump(tiny_config(modality="text", epochs=1, feature_cache=str(tmp_path / "fc")))
    )
    out = tmp_path / "runs" / "run"
    argv = ["--dataset", str(dataset), "--out", str(out), "--config", str(config), "-q"]
    script = (
        "import os, signal, sys\n"
        "import train.loop\n"
        "def killed(*args, **kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "train.loop.predict_loader = killed\n"
        "from train.cli import train_main\n"
        "sys.exit(train_main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run(
        [sys.executable, "-c", script, *argv], cwd=REPO, env=env, capture_output=True, timeout=300
    )
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    left = siblings(out)
    assert len(left) == 1 and left[0].startswith(".run.building-")
    assert train_main(argv) == 0
    assert siblings(out) == ["run"] and (out / "model.safetensors").is_file()
