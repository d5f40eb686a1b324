"""Run a loaded HashtagModel with ONNX Runtime: the same graph, exported at start.

Why: on CPU at the batch sizes a server sees (1 to 8 posts), ONNX Runtime's fused attention,
LayerNorm and GELU kernels and its blocked convolutions run the model in about half the time of
eager PyTorch, with logits within about 1e-6 of it (figures in docs/benchmarks/serve.md).

The export is the slowest part of a server's start (35 s of about 65 s for the make demo
checkpoint at load 9 on 2 cores), so given the checkpoint folder the graph is kept there, in
``onnx/<digest>.onnx``, named by a digest of everything it is made from (the weights, the
checkpoint's config.json, the image size, torch's version and this module's source): a changed
checkpoint or exporter gets a new name, so a kept graph cannot go stale, and the next start only
loads it. The start-up logit check runs either way, and a kept graph that fails it is exported
again. A read-only checkpoint folder is fine: the graph is then exported in memory each start.

:class:`OnnxModel` answers the same call as the torch module (keyword tensors in, logits out), so
:class:`train.predictor.Predictor` drives either one unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from runtime.files import atomic_write_bytes
from train.model import HashtagModel

log = logging.getLogger(__name__)

# Largest difference from the eager scores (the sigmoid of the logits, what is served and ranked)
# accepted by the start-up check. Rounding differences are about 1e-7; a wrong export (a dropped
# mask, a mis-ordered input) is off by far more. Scores, not logits: a blended model's logit is
# log(p) - log(1 - p), whose rounding error grows as 1/p, so at p = 3e-7 ONNX Runtime's and
# PyTorch's logits differed by 0.05 on random probes (4 of 60) while p differed by 1.5e-8.
MAX_SCORE_DIFFERENCE = 1e-5
GRAPH_DIR = "onnx"  # in the checkpoint folder: the exported graph, named by its digest


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

    def __init__(
        self, model: HashtagModel, image_size: int, threads: int, checkpoint: Path | None = None
    ) -> None:
        """``checkpoint``: the folder ``model`` was loaded from, where the graph is kept (see the
        module docstring); None exports in memory only."""
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
        # No busy-waiting between calls: by default the intra-op threads spin after each run,
        # taking the cores the event loop needs to decode the next request's image. In process
        # at load 3.7 on 2 cores a batch-1 call of the blended demo model took 112 ms wall /
        # 66 ms CPU spinning, 70 / 42 ms without (docs/benchmarks/serve.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: its warnings are about optional fusions
        kept = None
        if checkpoint is not None:
            name = f"{graph_digest(model, image_size, Path(checkpoint))}.onnx"
            kept = Path(checkpoint) / GRAPH_DIR / name
            if kept.is_file():
                try:
                    self.session = ort.InferenceSession(
                        kept.read_bytes(), options, providers=["CPUExecutionProvider"]
                    )
                    self._check_against(model, image_size)
                    log.info("ONNX graph loaded from %s", kept)
                    return
                except Exception as exc:  # noqa: BLE001 - a damaged file fails in many ways
                    log.warning("kept ONNX graph %s refused (%s); exporting again", kept, exc)
        try:
            graph = export_onnx(model, image_size)
            self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds; all mean "no graph"
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise OnnxUnavailable(f"export to ONNX failed: {first_line}") from exc
        self._check_against(model, image_size)
        if kept is not None:
            keep_graph(kept, graph)

    def __call__(self, **inputs: torch.Tensor) -> torch.Tensor:
        feeds = {name: inputs[name].cpu().numpy() for name in self.input_names}
        (logits,) = self.session.run(["logits"], feeds)
        return torch.from_numpy(logits)

    def _check_against(self, model: HashtagModel, image_size: int) -> None:
        """Refuse a graph whose scores differ from the eager model's on probe inputs."""
        for seq_len in (1, 5):
            probe = example_inputs(model, image_size, seq_len)
            with torch.inference_mode():
                expected = torch.sigmoid(model(**probe).float()).numpy()
            difference = float(np.abs(torch.sigmoid(self(**probe)).numpy() - expected).max())
            if not difference <= MAX_SCORE_DIFFERENCE:
                raise OnnxUnavailable(
                    f"the ONNX graph's scores differ from PyTorch's by {difference:.2g}"
                )


def graph_digest(model: HashtagModel, image_size: int, checkpoint: Path) -> str:
    """A digest of everything the exported graph is made from (see the module docstring)."""
    digest = hashlib.sha256()
    digest.update(f"{image_size} {torch.__version__}".encode())
    digest.update(Path(__file__).read_bytes())
    digest.update((checkpoint / "config.json").read_bytes())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()[:32]


def keep_graph(path: Path, graph: bytes) -> None:
    """Write the graph beside the checkpoint, replacing graphs of earlier weights; a folder that
    cannot be written only costs the export at the next start."""
    try:
        atomic_write_bytes(path, graph, mode=0o644)  # as readable as the checkpoint's files
        for older in path.parent.glob("*.onnx"):
            if older != path:
                older.unlink()
    except OSError as exc:
        log.info("ONNX graph not kept in %s (%s): exported again at each start", path.parent, exc)
