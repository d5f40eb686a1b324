"""The serving API: load a checkpoint directory once, predict hashtags for batches of posts.

Missing inputs have one documented neutral value: a ``None`` caption is the empty string and a
``None`` image is the all-zero tensor after normalisation (the ImageNet mean colour), the same
stand-ins training used. Captions are padded to the longest in the batch, as in training (padding
to ``max_seq_len`` would cost a short caption up to twice the encoder time), and the padding is
masked out, so with dropout off a post scores the same alone or in a batch, up to float32
rounding (about 1e-6: the CPU kernels sum in an order that depends on the shapes). An image is
prepared as the dataset build prepared the training pictures (``runtime.image_prep``: turned
upright by its EXIF orientation, transparency on white, RGB), so any PIL image may be passed.

:meth:`Predictor.predict` takes captions as people write them and turns each into model text the
way the training data did (``runtime.model_text.model_text`` with the dataset's ``demojize``);
:meth:`Predictor.scores` takes model text as a dataset stores it. In a notebook::

    from train.predictor import Predictor
    predictor = Predictor.from_pretrained("runs/albert-vgg16")  # or a Hub repo id
    predictor.predict(["sunset at the beach 🌅"], [Image.open("beach.jpg")])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from huggingface_hub import ModelHubMixin
from PIL import Image
from transformers import PreTrainedTokenizerBase

from runtime import image_prep
from runtime.label_file import read_labels
from runtime.model_text import model_text
from train.checkpoint import WEIGHTS_FILE, load_tokenizer, save_run_files, save_weights
from train.data import ImageInput, neutral_pixels, tokenize
from train.hub import LIBRARY_NAME, MODEL_TAGS, model_folder
from train.model import HashtagModel, load_trained_model
from train.run_record import RunRecord, read_run_record


class Predictor(ModelHubMixin, library_name=LIBRARY_NAME, tags=MODEL_TAGS):
    # Tokenizer padding: ``True`` pads to the longest caption in the batch.
    padding: bool | str = True

    def __init__(
        self,
        model: HashtagModel,
        config: RunRecord,
        labels: list[str],
        tokenizer,
        name: str,
        device: str = "cpu",
    ) -> None:
        record = model.record  # config.model, validated when the model was built
        self.config = config
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = device
        self.labels: list[str] = labels
        self.name: str = name
        self.modality: str = record.modality
        self.max_seq_len: int = record.max_seq_len
        # The image encoder's own input size, resampling and normalisation, as trained.
        self.image_input = ImageInput.from_record(record)
        self.image_size: int = self.image_input.size
        # How captions became model text in the training data (runtime.model_text.model_text).
        self.demojize: bool = record.demojize
        self._transform = self.image_input.transform()
        # The wide part's vectorisers (None without one): the caption's n-grams are computed
        # here, outside the model, so an ONNX graph stands in for the torch model unchanged.
        self.ngrams = model.ngrams

    @classmethod
    def load(cls, checkpoint_dir: str | Path, device: str = "cpu") -> Predictor:
        """A local checkpoint directory, named by the run that wrote it (else by the folder)."""
        model, config, labels, tokenizer = load_release(checkpoint_dir)
        name = config.run_name or Path(checkpoint_dir).resolve().name
        return cls(model, config, labels, tokenizer, name, device)

    @classmethod
    def _from_pretrained(
        cls, *, model_id: str, device: str = "cpu", model=None, config=None, **download
    ) -> Predictor:
        """``from_pretrained``'s loader. The mixin passes config.json's sections that share a
        name with ``__init__``'s parameters (``model``, ``config``); :meth:`load` reads them."""
        return cls.load(model_folder(model_id, **download), device)

    def _save_pretrained(self, save_directory: Path) -> None:
        """A checkpoint directory ``hashtag-serve --checkpoint`` and :meth:`load` accept."""
        if not isinstance(self.model, HashtagModel):
            raise TypeError("save the PyTorch predictor, not a copy tuned for serving")
        save_release(save_directory, self.model, self.config, self.labels, self.tokenizer)

    def model_text(self, caption: str | None) -> str:
        """The caption as the model reads it: labels, mentions and links removed, emoji spelt
        out when the training data did so."""
        return model_text(caption, self.demojize)

    def scores(
        self,
        texts: list[str | None],
        images: list[Image.Image | None],
        max_seq_len: int | None = None,
    ) -> np.ndarray:
        """Sigmoid score of every label for every post (posts x labels); ``texts`` are model
        text, as a dataset's ``text`` column holds it."""
        if len(texts) != len(images):
            raise ValueError(f"got {len(texts)} texts but {len(images)} images")
        inputs: dict[str, torch.Tensor] = {}
        if self.model.uses_text:
            encoded = self.encode_texts(texts, max_seq_len or self.max_seq_len)
            inputs["input_ids"] = encoded["input_ids"].to(self.device)
            inputs["attention_mask"] = encoded["attention_mask"].to(self.device)
        if self.ngrams is not None:
            inputs["ngrams"] = self.ngrams.transform([text or "" for text in texts]).to(self.device)
        if self.model.uses_image:
            pixels = torch.stack([self._pixels(image) for image in images])
            inputs["pixels"] = pixels.to(self.device)
        with torch.inference_mode():
            logits = self.model(**inputs)
        return torch.sigmoid(logits.float()).cpu().numpy()

    def predict(
        self,
        captions: list[str | None],
        images: list[Image.Image | None],
        top_k: int = 10,
        max_seq_len: int | None = None,
    ) -> list[list[tuple[str, float]]]:
        """The ``top_k`` labels of each post with their sigmoid scores, best first; captions
        are raw (see :meth:`model_text`)."""
        if not captions and not images:
            return []
        texts = [self.model_text(caption) for caption in captions]
        scores = self.scores(texts, images, max_seq_len)
        order = np.argsort(-scores, axis=1, kind="stable")[:, : max(top_k, 0)]
        return [
            [(self.labels[j], float(row_scores[j])) for j in row_order]
            for row_scores, row_order in zip(scores, order, strict=True)
        ]

    def encode_texts(self, texts: list[str | None], max_seq_len: int) -> dict[str, torch.Tensor]:
        """Token ids and attention mask, cut at ``max_seq_len``, padded as ``padding`` says."""
        return tokenize(self.tokenizer, [text or "" for text in texts], max_seq_len, self.padding)

    def _pixels(self, image: Image.Image | None) -> torch.Tensor:
        if image is None:
            return neutral_pixels(self.image_size)
        return self._transform(image_prep.prepare(image))


def load_release(run_dir: str | Path) -> tuple[HashtagModel, RunRecord, list[str], Any]:
    """Model (eval mode, CPU), config.json's record, labels and tokenizer of a checkpoint
    directory."""
    root = Path(run_dir)
    return (
        load_trained_model(root),
        read_run_record(root),
        read_labels(root, "checkpoint"),
        load_tokenizer(root),
    )


def save_release(
    folder: Path,
    model: HashtagModel,
    config: RunRecord,
    labels: list[str],
    tokenizer: PreTrainedTokenizerBase | None,
) -> None:
    """What :func:`load_release` reads, written to ``folder`` (``save_pretrained``'s files)."""
    save_run_files(folder, config.saved(), labels, tokenizer, model.ngrams)
    save_weights(model, folder / WEIGHTS_FILE)
