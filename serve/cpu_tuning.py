"""CPU tuning of a loaded predictor, and the check that tuning did not change its answers.

What is applied, and why (figures in docs/benchmarks/serve.md):
- ONNX Runtime (the default on CPU, serve/onnx_backend.py): the model exported at start (the
  graph kept in the checkpoint folder for the next start); about twice as fast as eager PyTorch
  at batch 1, logits within about 1e-6. A model it cannot export falls back to PyTorch with a
  warning (unless ``engine`` insists on it). The remaining items tune that PyTorch path;
- thread settings: one intra-op thread per core and a single inter-op thread, because the
  micro-batcher already runs exactly one model call at a time;
- ``channels_last`` weights for the VGG16 convolutions, which lets oneDNN pick its blocked
  kernels;
- bfloat16 VGG16 convolutions on CPUs with native bf16 instructions (AVX512-BF16, AMX), where
  oneDNN runs them at about twice the fp32 rate; elsewhere bf16 is emulated and slower, so
  ``auto`` turns it on only where the CPU has them;
- int8 dynamic quantization of the text encoder's ``nn.Linear`` layers (ALBERT's projections),
  off by default: its activation scale is taken over the whole batch, so a batched answer is not
  the single one, and on a MiniLM checkpoint it changed most test posts' top-10;
- the wide part's n-gram rows computed by :mod:`serve.ngram_rows` (scikit-learn's arithmetic
  without its per-call checks: the same rows bit for bit, checked at start, in a tenth of the
  CPU time).

Each is kept only while it leaves the top-k ranking equal to fp32 on a test split
(``top_k_agreement`` in benchmarks/agreement.py; tests/serve/test_cpu_tuning.py and
benchmarks/serve.py check it).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from runtime.errors import PipelineError
from serve.ngram_rows import fast_ngrams
from serve.onnx_backend import OnnxModel, OnnxUnavailable
from serve.settings import ServeSettings
from train.predictor import Predictor

log = logging.getLogger(__name__)
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclasses.dataclass(frozen=True)
class Tuning:
    """What :func:`tuning_for` applies; each field off unless asked for (the settings' defaults
    live in configs/serve.yaml)."""

    quantize: bool = False
    channels_last: bool = False
    bf16_images: bool = False
    onnxruntime: bool = False

    @property
    def changes_model(self) -> bool:
        return self.quantize or self.channels_last or self.bf16_images or self.onnxruntime


class Bfloat16Backbone(nn.Module):
    """Runs the wrapped convolutions in bfloat16 and hands float32 back to the fp32 heads."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone.to(torch.bfloat16)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.backbone(pixels.to(torch.bfloat16)).float()


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU advertises bf16 instructions (Linux; elsewhere assume not)."""
    try:
        flags = cpuinfo.read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return False
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_bf16(setting: str, device: str) -> bool:
    """``on``/``off`` as given; ``auto`` is on for a CPU with native bf16 instructions."""
    if setting == "auto":
        return device == "cpu" and cpu_has_native_bf16()
    return setting == "on"


def tuning_for(settings: ServeSettings) -> Tuning:
    """The CPU tuning the settings ask for, less what the device or the engine cannot run.

    ``auto`` picks ONNX Runtime on CPU unless a PyTorch-only option (int8, bf16) is asked for.
    The combinations that cannot be honoured (ONNX Runtime on a GPU, or with int8 or bf16 on)
    never get here: ServeSettings refuses them.
    """
    # Dynamic int8 kernels exist for CPU only.
    quantize = settings.quantize and settings.device == "cpu"
    # bf16 ``auto`` means "where it helps": not under an explicitly asked-for ONNX Runtime.
    bf16_images = settings.engine != "onnxruntime" and resolve_bf16(
        settings.bf16_images, settings.device
    )
    onnxruntime = settings.engine == "onnxruntime" or (
        settings.engine == "auto" and settings.device == "cpu" and not (quantize or bf16_images)
    )
    return Tuning(
        quantize=quantize,
        channels_last=settings.channels_last and not onnxruntime,
        bf16_images=bf16_images,
        onnxruntime=onnxruntime,
    )


def load_tuned(settings: ServeSettings) -> tuple[Predictor, Tuning]:
    """Load the checkpoint and apply :func:`tuning_for`; return the predictor and the tuning used.
    A wide part's n-gram rows come from :mod:`serve.ngram_rows` (the same rows, less CPU).

    With engine ``auto``, a model ONNX Runtime cannot take is served by PyTorch instead, with a
    warning saying why; with ``onnxruntime`` asked for explicitly, that is an error.
    """
    tuning = tuning_for(settings)
    predictor = Predictor.load(settings.checkpoint, settings.device)
    if predictor.ngrams is not None:  # the same rows as scikit-learn's, for less CPU
        predictor.ngrams = fast_ngrams(predictor.ngrams)
    log.info("model loaded; tuning it (%s engine)", settings.engine)
    try:
        return tuned_predictor(predictor, tuning, Path(settings.checkpoint)), tuning
    except OnnxUnavailable as exc:
        if settings.engine == "onnxruntime":
            raise PipelineError(f"engine onnxruntime: {exc}") from None
        log.warning("serving with PyTorch: %s", exc)
    tuning = tuning_for(settings.model_copy(update={"engine": "torch"}))
    return tuned_predictor(predictor, tuning), tuning


def configure_threads(num_threads: int = 0) -> int:
    """Use ``num_threads`` intra-op threads (0: one per core); return the number set."""
    threads = num_threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        # Only settable before the first parallel op; a second app in one process keeps it.
        log.debug("inter-op threads already fixed at %d", torch.get_num_interop_threads())
    return threads


def optimize_model(model: nn.Module, tuning: Tuning) -> nn.Module:
    """A tuned copy of ``model`` (the original stays untouched, to compare against)."""
    tuned = copy.deepcopy(model).eval()
    if tuning.channels_last:
        tuned = tuned.to(memory_format=torch.channels_last)
    if tuning.bf16_images and getattr(tuned, "image_backbone", None) is not None:
        tuned.image_backbone = Bfloat16Backbone(tuned.image_backbone)
    if tuning.quantize and getattr(tuned, "text_encoder", None) is not None:
        # Only the text encoder: it holds nearly all Linear work, and the heads must keep a
        # float ``weight`` (HashtagModel.forward reads ``image_proj.weight.dtype``).
        with warnings.catch_warnings():
            # torch.ao.quantization announces its move to torchao; the API still works.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", UserWarning)
            tuned.text_encoder = torch.ao.quantization.quantize_dynamic(
                tuned.text_encoder, {nn.Linear}, dtype=torch.qint8
            )
    return tuned


def tuned_predictor(
    predictor: Predictor, tuning: Tuning, checkpoint: Path | None = None
) -> Predictor:
    """A shallow copy of ``predictor`` whose ``model`` is the tuned one (tokenizer shared).

    ``checkpoint``: the folder ``predictor`` was loaded from, where the ONNX graph is kept
    between starts (serve.onnx_backend); None exports it in memory only."""
    if not tuning.changes_model:
        return predictor
    tuned = copy.copy(predictor)
    if tuning.onnxruntime:
        threads = torch.get_num_threads()
        tuned.model = OnnxModel(predictor.model, predictor.image_size, threads, checkpoint)
    else:
        tuned.model = optimize_model(predictor.model, tuning)
    return tuned
