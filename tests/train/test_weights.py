"""Pretrained weights: found by name in pre-filled Hugging Face and torch.hub caches, downloaded
into them when online, and offline never a network call, with one line and exit 2 when missing.

The caches are built here the way the libraries lay them out: models--org--name/snapshots/REV/
plus refs/main under $HF_HOME/hub (from the bundled MiniLM's files), and torchvision's file name
under $TORCH_HOME/hub/checkpoints (a random state dict: only the layout matters).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
import torchvision
import yaml
from huggingface_hub import constants as hub_constants
from safetensors.torch import load_file

from runtime.errors import PipelineError
from train.cli import train_main
from train.encoders import (
    image_backbone,
    image_weights_enum,
    load_backbone_weights,
    minilm_dir,
    vgg_backbone,
)
from train.weights import (
    CACHE,
    DOWNLOAD,
    WeightsSource,
    image_source,
    image_state_dict,
    text_source,
    torch_hub_file,
    unreachable,
)

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
REVISION = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"
needs_minilm = pytest.mark.skipif(minilm_dir() is None, reason="the minilm extra is not installed")


@pytest.fixture
def caches(tmp_path, monkeypatch) -> dict[str, Path]:
    """Empty Hugging Face and torch homes of this test, online (restored afterwards, as is
    the offline state ``--offline`` sets)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return {"hf": tmp_path / "hf" / "hub", "torch": tmp_path / "torch" / "hub" / "checkpoints"}


@pytest.fixture
def network_attempts(monkeypatch) -> list:
    """Every socket connect and name lookup made in this process, each refused."""
    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("this test is offline")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


@pytest.fixture(scope="module")
def dataset(make_tiny_dataset, tmp_path_factory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "ds", n_posts=24)


def fill_hf_cache(hub: Path, repo_id: str, files: Path) -> Path:
    """The model's files as a cached snapshot that refs/main points at."""
    repo = hub / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / REVISION
    shutil.copytree(files, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    return snapshot


def fill_torch_cache(checkpoints: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    """VGG16 convolution weights under torchvision's file name (the classifier is not read)."""
    torch.manual_seed(7)
    state = {f"features.{k}": v for k, v in vgg_backbone()[0].state_dict().items()}
    path = checkpoints / Path(image_weights_enum("vgg16").url).name
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return path, state


@pytest.fixture(scope="session")
def pretrained_config(tiny_config):
    def pretrained_config(tmp_path: Path, **overrides) -> Path:
        config = tiny_config(
            text_init="pretrained",
            image_init="pretrained",
            text_encoder=MINILM_ID,
            text_pooling="mean",
            epochs=1,
            feature_cache=str(tmp_path / "features"),
            **overrides,
        )
        path = tmp_path / "train.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    return pretrained_config


@needs_minilm
@pytest.mark.parametrize("how", ["HF_HUB_OFFLINE", "--offline"])
def test_offline_run_finds_both_caches_by_name_and_opens_no_socket(
    pretrained_config, how, dataset, tmp_path, caches, network_attempts, monkeypatch, capsys
):
    snapshot = fill_hf_cache(caches["hf"], MINILM_ID, minilm_dir())
    weights_file, state = fill_torch_cache(caches["torch"])
    flags = ["--offline"] if how == "--offline" else []
    if how == "HF_HUB_OFFLINE":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    run = tmp_path / "run"
    config = pretrained_config(tmp_path)
    code = train_main(
        ["--dataset", str(dataset), "--out", str(run), "--config", str(config)] + flags
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert network_attempts == []
    # announced before any work, then recorded in the checkpoint
    assert f"text encoder {MINILM_ID}: cached weights in {snapshot}" in err
    assert (
        f"image encoder vgg16 (VGG16_Weights.IMAGENET1K_V1): cached weights in {weights_file}"
        in err
    )
    assert err.index("cached weights") < err.index("feature cache")
    record = json.loads((run / "config.json").read_text())["model"]["weights"]
    assert record["text"] == {
        "encoder": "text",
        "name": MINILM_ID,
        "origin": CACHE,
        "location": str(snapshot),
        "revision": REVISION,
    }
    assert record["image"]["origin"] == CACHE and record["image"]["location"] == str(weights_file)
    # the frozen backbone holds exactly the cached file's weights
    trained = load_file(run / "model.safetensors")
    assert torch.equal(trained["image_backbone.0.28.weight"], state["features.28.weight"])


@needs_minilm
@pytest.mark.parametrize("how", ["HF_HUB_OFFLINE", "--offline"])
def test_offline_without_cached_weights_is_one_line_exit_2_before_any_work(
    pretrained_config, how, dataset, tmp_path, caches, network_attempts, monkeypatch, capsys
):
    flags = ["--offline"] if how == "--offline" else []
    if how == "HF_HUB_OFFLINE":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    run = tmp_path / "run"
    argv = [
        "--dataset",
        str(dataset),
        "--out",
        str(run),
        "--config",
        str(pretrained_config(tmp_path)),
    ]
    code = train_main([*argv, *flags, "--quiet"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert f"text encoder {MINILM_ID!r} is not in the Hugging Face cache" in lines[0]
    assert "offline" in lines[0] and f"hf download {MINILM_ID}" in lines[0]
    assert network_attempts == [] and not run.exists()

    fill_hf_cache(caches["hf"], MINILM_ID, minilm_dir())  # now only VGG16 is missing
    code = train_main([*argv, *flags, "--quiet"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert (
        "ImageNet weights of vgg16 (VGG16_Weights.IMAGENET1K_V1) are not in the torch.hub"
        in lines[0]
    )
    assert image_weights_enum("vgg16").url in lines[0] and str(caches["torch"]) in lines[0]
    assert network_attempts == [] and not run.exists()


def test_online_missing_weights_are_planned_as_downloads_into_the_caches(caches, monkeypatch):
    # huggingface.co and download.pytorch.org cannot exist here: they count as answering
    monkeypatch.setattr("train.weights.unreachable", lambda url: None)
    text = text_source("albert-base-v2", "pretrained", offline=False)
    assert (text.origin, text.location) == (DOWNLOAD, "https://huggingface.co/albert-base-v2")
    image = image_source("resnet50", "pretrained", None, offline=False)
    assert image.origin == DOWNLOAD and image.weights == "ResNet50_Weights.IMAGENET1K_V2"
    assert image.location == "https://download.pytorch.org/models/resnet50-11ad3fa6.pth"
    assert image.describe() == (
        "image encoder resnet50 (ResNet50_Weights.IMAGENET1K_V2): not cached, will download the "
        "weights from https://download.pytorch.org/models/resnet50-11ad3fa6.pth"
    )


def _refused_url() -> str:
    """A loopback URL nothing listens on: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def _train_without_network(argv: list[str], tmp_path: Path, capsys) -> tuple[int, list[str]]:
    """``hashtag-train`` with ARGV into ``tmp_path/runs/r``: exit code and stderr lines; the
    run must leave nothing, not even ``runs/``."""
    code = train_main(["--out", str(tmp_path / "runs" / "r"), *argv, "--quiet"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert not (tmp_path / "runs").exists()
    return code, lines


def test_default_text_encoder_with_the_hub_unreachable_fails_like_offline(
    dataset, tmp_path, caches, monkeypatch, capsys
):
    """The default ALBERT, not cached, and the Hub's endpoint refuses connections: the one
    line and exit 2 of --offline, with the same advice, before any retry or run folder."""
    monkeypatch.setattr(hub_constants, "ENDPOINT", _refused_url())
    code, lines = _train_without_network(["--dataset", str(dataset)], tmp_path, capsys)
    assert code == 2 and len(lines) == 1, lines
    assert "text encoder 'albert-base-v2' is not in the Hugging Face cache" in lines[0]
    assert "cannot be reached (connection refused)" in lines[0]
    assert "--text-encoder minilm" in lines[0] and "--init random" in lines[0]


@pytest.mark.parametrize("modality", ["text", "image"])
def test_real_default_weights_without_network_fail_like_offline(
    modality, dataset, tmp_path, caches, capsys
):
    """The real huggingface.co and download.pytorch.org, from a machine without network."""
    url = image_weights_enum("vgg16").url if modality == "image" else hub_constants.ENDPOINT
    if unreachable(url) is None:
        pytest.skip(f"{url} answers from this machine: the no-network case cannot happen here")
    argv = ["--dataset", str(dataset), "--modality", modality]
    code, lines = _train_without_network(argv, tmp_path, capsys)
    assert code == 2 and len(lines) == 1, lines
    assert "cannot be reached" in lines[0] and "--init random" in lines[0]


DOWNLOAD_SCRIPT = """
import json, sys
from train.weights import load_text_encoder, text_source
source = text_source(sys.argv[1], "pretrained", offline=False)
encoder, tokenizer, loaded = load_text_encoder(source)
print(json.dumps([source.origin, loaded.record(), encoder.config.hidden_size]))
"""


@needs_minilm
@pytest.mark.slow
def test_a_text_encoder_is_downloaded_into_the_hf_cache_then_found_offline(
    hub_commit, running_hub, caches, tmp_path
):
    """Online: fetched from the Hub (a local stand-in, HF_ENDPOINT) into HF_HOME, recorded
    with its revision; then the same name is found there offline."""
    with running_hub({MINILM_ID: minilm_dir()}) as hub:
        env = {**os.environ, "HF_ENDPOINT": hub.url, "PYTHONPATH": str(Path.cwd())}
        done = subprocess.run(
            [sys.executable, "-c", DOWNLOAD_SCRIPT, MINILM_ID],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stderr
    origin, record, hidden = json.loads(done.stdout.splitlines()[-1])
    snapshot = caches["hf"] / f"models--{MINILM_ID.replace('/', '--')}" / "snapshots" / hub_commit
    assert origin == DOWNLOAD and hidden == 384
    assert record == {
        "encoder": "text",
        "name": MINILM_ID,
        "origin": DOWNLOAD,
        "location": str(snapshot),
        "revision": hub_commit,
    }
    assert ("GET", f"/{MINILM_ID}/resolve/main/model.safetensors") in hub.requests
    found = text_source(MINILM_ID, "pretrained", offline=True)
    assert (found.origin, found.location, found.revision) == (CACHE, str(snapshot), hub_commit)


def test_torch_hub_cache_serves_any_image_encoder_by_torchvision_file_name(caches):
    """efficientnet_b0's full torchvision state dict under its own file name: found offline,
    read, and loaded into the backbone without its classifier."""
    torch.manual_seed(5)
    reference = torchvision.models.efficientnet_b0(weights=None)
    path = caches["torch"] / "efficientnet_b0_rwightman-7f5810bc.pth"
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    source = image_source("efficientnet_b0", "pretrained", None, offline=True)
    assert (source.origin, source.location) == (CACHE, str(path))
    backbone = image_backbone("efficientnet_b0")
    load_backbone_weights(backbone, "efficientnet_b0", image_state_dict(source, progress=False))
    assert torch.equal(backbone.features[0][0].weight, reference.features[0][0].weight)


def test_image_weights_path_wins_over_the_cache(caches, tmp_path):
    fill_torch_cache(caches["torch"])
    mine = tmp_path / "mine.pth"
    mine.write_bytes(b"")
    source = image_source("vgg16", "pretrained", str(mine), offline=True)
    assert source.origin == "local" and source.location == str(mine)


@pytest.fixture
def weights_server(tmp_path):
    """A local HTTP server standing in for download.pytorch.org."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_download_lands_in_the_torch_hub_cache_and_is_hash_checked(caches, weights_server):
    folder, base = weights_server
    state = {"weight": torch.arange(6.0)}
    torch.save(state, folder / "blob.pth")
    digest = hashlib.sha256((folder / "blob.pth").read_bytes()).hexdigest()
    (folder / "blob.pth").rename(folder / f"tiny-{digest[:8]}.pth")
    source = WeightsSource("image", "tiny", DOWNLOAD, f"{base}/tiny-{digest[:8]}.pth")
    assert torch.equal(image_state_dict(source, progress=False)["weight"], state["weight"])
    assert torch_hub_file(source.location).is_file()
    assert torch_hub_file(source.location).parent == caches["torch"]

    (folder / f"tiny-{digest[:8]}.pth").rename(folder / "tiny-00000000.pth")
    damaged = WeightsSource("image", "tiny", DOWNLOAD, f"{base}/tiny-00000000.pth")
    with pytest.raises(PipelineError, match="could not download"):
        image_state_dict(damaged, progress=False)
    assert not torch_hub_file(damaged.location).exists()  # nothing half-written left behind


def test_bad_encoder_names_are_one_line_exit_2(dataset, tmp_path, caches, capsys):
    base = ["--dataset", str(dataset), "--out", str(tmp_path / "r"), "--quiet"]
    assert train_main([*base, "--modality", "image", "--image-encoder", "resnet5O"]) == 2
    assert "image encoder 'resnet5O' is not a torchvision classification model" in (
        capsys.readouterr().err
    )
    assert train_main([*base, "--text-encoder", "no such//model"]) == 2
    assert "is neither an existing folder nor a Hugging Face model id" in capsys.readouterr().err
