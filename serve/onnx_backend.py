"""Run a loaded HashtagModel with ONNX Runtime: the same graph, exported in memory at start.

Why: on CPU at the batch sizes a server sees (1 to 8 posts), ONNX Runtime's fused attention,
LayerNorm and GELU kernels and its blocked convolutions run the model in about half the time of
eager PyTorch, with logits within about 1e-6 of it (figures in docs/benchmarks/serve.md). The
export happens in memory each time the server starts (a few seconds), so no artifact beside the
checkpoint can go stale, and a read-only checkpoint volume is enough.

:class:`OnnxModel` answers the same call as the torch module (keyword tensors in, logits out), so
:class:`train.predictor.Predictor` drives either one unchanged.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import torch
from torch import nn

from train.model import HashtagModel

# Largest difference from the eager logits accepted by the start-up check. Rounding differences
# are about 1e-6; a wrong export (a dropped mask, a mis-ordered input) is off by far more.
MAX_LOGIT_DIFFERENCE = 1e-3


class OnnxUnavailable(RuntimeError):
    """This model cannot run on ONNX Runtime here (no package, failed export, wrong logits)."""


class _PositionalInputs(nn.Module):
    """The model with positional inputs named ``names``: an exported graph takes no kwargs."""

    def __init__(self, model: HashtagModel, names: tuple[str, ...]) -> None:
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.names, tensors, strict=True)))


def input_names(model: HashtagModel) -> tuple[str, ...]:
    """The graph inputs a model of this modality takes, in order."""
    text = ("input_ids", "attention_mask") if model.uses_text else ()
    image = ("pixels",) if model.uses_image else ()
    return (*text, *image, "ngrams") if model.uses_ngrams else (*text, *image)


def example_inputs(
    model: HashtagModel, image_size: int, seq_len: int = 8
) -> dict[str, torch.Tensor]:
    """Inputs of batch 2 for tracing: batch and caption length 1 would be traced as constants."""
    inputs: dict[str, torch.Tensor] = {}
    if model.uses_text:
        vocab = model.text_encoder.config.vocab_size
        inputs["input_ids"] = torch.randint(0, vocab, (2, seq_len))
        inputs["attention_mask"] = torch.ones(2, seq_len, dtype=torch.long)
        inputs["attention_mask"][1, max(1, seq_len // 2) :] = 0
    if model.uses_image:
        inputs["pixels"] = torch.randn(2, 3, image_size, image_size)
    if model.uses_ngrams:  # TF-IDF rows: non-negative, mostly zero
        features = torch.rand(2, model.wide.in_features)
        inputs["ngrams"] = features * (features > 0.9)
    return inputs


def export_onnx(model: HashtagModel, image_size: int) -> bytes:
    """The model as an ONNX graph with a dynamic batch size and caption length."""
    names = input_names(model)
    example = example_inputs(model, image_size)
    batch = torch.export.Dim("batch", min=1, max=4096)
    length = torch.export.Dim("length", min=1, max=4096)
    axes = {"input_ids": {0: batch, 1: length}, "attention_mask": {0: batch, 1: length}}
    axes["pixels"] = axes["ngrams"] = {0: batch}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        # The exporter prints progress lines and warns about its own internals.
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            _PositionalInputs(model.eval(), names),
            tuple(example[name] for name in names),
            input_names=list(names),
            output_names=["logits"],
            dynamic_shapes=(tuple(axes[name] for name in names),),  # one entry: *tensors
            dynamo=True,
            verbose=False,
        )
    return program.model_proto.SerializeToString()


class OnnxModel:
    """An ONNX Runtime session standing in for a HashtagModel's forward call."""

    def __init__(self, model: HashtagModel, image_size: int, threads: int) -> None:
        try:
            import onnxruntime as ort  # only this backend needs it
        except ImportError as exc:
            raise OnnxUnavailable(f"onnxruntime is not installed ({exc})") from None

        self.uses_text = model.uses_text
        self.uses_image = model.uses_image
        self.uses_ngrams = model.uses_ngrams
        self.ngrams = model.ngrams
        self.input_names = input_names(model)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: its warnings are about optional fusions
        try:
            graph = export_onnx(model, image_size)
            self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds; all mean "no graph"
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise OnnxUnavailable(f"export to ONNX failed: {first_line}") from exc
        self._check_against(model, image_size)

    def __call__(self, **inputs: torch.Tensor) -> torch.Tensor:
        feeds = {name: inputs[name].cpu().numpy() for name in self.input_names}
        (logits,) = self.session.run(["logits"], feeds)
        return torch.from_numpy(logits)

    def _check_against(self, model: HashtagModel, image_size: int) -> None:
        """Refuse a graph whose logits differ from the eager model's on probe inputs."""
        for seq_len in (1, 5):
            probe = example_inputs(model, image_size, seq_len)
            with torch.inference_mode():
                expected = model(**probe).float().numpy()
            difference = float(np.abs(self(**probe).numpy() - expected).max())
            if not difference <= MAX_LOGIT_DIFFERENCE:
                raise OnnxUnavailable(
                    f"the ONNX graph's logits differ from PyTorch's by {difference:.2g}"
                )
