"""The original-style server that benchmarks/serve.py measures hashtag-serve against.

It answers the same HTTP API with the same app (so the two differ only in how the model runs)
but runs the model the way the original project did: eager PyTorch in fp32, no tuning, one
model call per request, and every caption padded to ``max_seq_len`` tokens (the original
project's tokenizer code filled each caption up to ``max_seq_len`` with pad tokens).

    .venv/bin/python -m benchmarks.original_server --checkpoint DIR --port 8001
"""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from runtime.errors import run_main
from serve.app import create_app
from serve.settings import ServeSettings
from train.predictor import Predictor

PROG = "benchmarks/original_server.py"
DESCRIPTION = "eager fp32, one model call per request, captions padded to max_seq_len"
log = logging.getLogger(PROG)


class OriginalPredictor(Predictor):
    """Pads every caption to ``max_seq_len``, as the original project did."""

    padding = "max_length"


def serve(checkpoint: str, port: int) -> int:
    settings = ServeSettings(
        checkpoint=checkpoint, port=port, engine="torch", max_batch_size=1, max_wait_ms=0
    )
    predictor = OriginalPredictor.load(checkpoint)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("original-style server: %s", DESCRIPTION)
    uvicorn.run(create_app(settings, predictor), host="127.0.0.1", port=port, log_level="warning")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory to serve")
    parser.add_argument("--port", type=int, required=True, help="loopback port")
    args = parser.parse_args(argv)
    return run_main(lambda: serve(args.checkpoint, args.port), PROG)


if __name__ == "__main__":
    sys.exit(main())
