"""``hashtag-serve``: load a checkpoint once, tune it for the CPU, serve it with uvicorn.

Settings come, lowest precedence first, from ServeSettings' defaults, ``configs/serve.yaml``,
``--config``/``--set``, ``HASHTAG_SERVE_*`` environment variables, then the flags below.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import logging
import signal
import socket
from collections.abc import Sequence

import uvicorn

from runtime.checkpoints import check_checkpoint
from runtime.config import add_config_args, resolve_config
from runtime.errors import PipelineError, UsageError, run_main
from runtime.logs import add_logging_args, setup_logging
from serve.settings import BACKENDS, ServeSettings, env_values, settings_from

PROG = "hashtag-serve"
log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Serve a hashtag checkpoint over HTTP.")
    parser.add_argument("--checkpoint", metavar="DIR", help="checkpoint directory (runs/<name>)")
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8000)")
    parser.add_argument("--device", help="torch device for the model (default cpu)")
    parser.add_argument(
        "--allow-private-urls",
        action="store_true",
        default=None,
        help="let image_url reach loopback/private addresses (for local testing only)",
    )
    parser.add_argument("--drive-base-url", metavar="URL", help="Drive download endpoint")
    parser.add_argument("--max-batch-size", type=int, help="requests per model call (default 8)")
    parser.add_argument("--max-wait-ms", type=float, help="how long a batch waits to fill")
    parser.add_argument("--max-upload-bytes", type=int, help="largest image accepted")
    parser.add_argument("--max-text-chars", type=int, help="longest caption accepted")
    parser.add_argument("--fetch-timeout-s", type=float, help="seconds for a whole image download")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="inference engine (auto: ONNX Runtime on CPU, PyTorch otherwise)",
    )
    parser.add_argument(
        "--threads", dest="num_threads", type=int, help="intra-op threads (0: cores)"
    )
    parser.add_argument(
        "--quantize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="int8 dynamic quantization of the text encoder (default off: batch-dependent)",
    )
    parser.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="channels_last memory format for the convolutions",
    )
    parser.add_argument(
        "--bf16-images",
        choices=("auto", "on", "off"),
        help="bfloat16 VGG16 convolutions (auto: on where the CPU has bf16 instructions)",
    )
    add_config_args(parser)
    add_logging_args(parser)
    return parser


def resolve_settings(
    args: argparse.Namespace, environ: dict[str, str] | None = None
) -> ServeSettings:
    """Merge the config files, the environment and the flags (see the module docstring)."""
    values = resolve_config("serve", args, flag_keys={})
    values.update(env_values(environ))
    # Each settings flag's argparse dest is the ServeSettings field it sets.
    flags = {
        field.name: getattr(args, field.name, None) for field in dataclasses.fields(ServeSettings)
    }
    values.update({name: value for name, value in flags.items() if value is not None})
    return settings_from(values)


def serve(settings: ServeSettings) -> int:
    """Load, tune, and run until SIGINT/SIGTERM; uvicorn drains in-flight requests first."""
    if not settings.checkpoint:
        raise UsageError("--checkpoint DIR is required (or HASHTAG_SERVE_CHECKPOINT)")
    # Imported here so that --help and bad flags answer without loading torch and transformers.
    from serve.inference import configure_threads, load_tuned, tuning_for

    tuning_for(settings)  # settings errors first, then the checkpoint, then the port
    check_checkpoint(settings.checkpoint)
    with listening_socket(settings.host, settings.port) as listener:
        from serve.app import create_app

        log.info("loading %s: model, then CPU tuning (can take a minute)", settings.checkpoint)
        threads = configure_threads(settings.num_threads)
        predictor, tuning = load_tuned(settings)
        log.info(
            "model %s (%s, %d labels) on %s, %d threads, %s",
            predictor.name,
            predictor.modality,
            len(predictor.labels),
            settings.device,
            threads,
            tuning,
        )
        config = uvicorn.Config(
            create_app(settings, predictor),
            host=settings.host,
            port=settings.port,
            log_config=None,  # our root logger formats uvicorn's messages and access log
            access_log=True,
            timeout_graceful_shutdown=settings.graceful_timeout_s,
        )
        # uvicorn drains, then re-raises the SIGTERM it caught; with a handler in place that
        # re-raise returns here, so a requested stop exits 0 instead of dying by the signal.
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
        host, port = listener.getsockname()[:2]
        log.info("serving on http://%s:%d/", f"[{host}]" if ":" in host else host, port)
        uvicorn.Server(config).run(sockets=[listener])
    log.info("stopped")
    return 0


def listening_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound before the model loads: a port in use is one line at once,
    not a uvicorn error after the load. Held until uvicorn takes it over, so nothing else can
    take the port meanwhile."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        message = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
            raise UsageError(f"{message} (--host is not an address of this machine)") from None
        raise PipelineError(message) from None
    return listener


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args)
    return run_main(lambda: serve(resolve_settings(args)), PROG)
