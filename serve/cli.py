"""``hashtag-serve``: load a checkpoint once, tune it for the CPU, serve it with uvicorn.

Settings come, lowest precedence first, from ``configs/serve.yaml``, ``--config``/``--set``,
``HASHTAG_SERVE_*`` environment variables, then the flags below.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import socket
from collections.abc import Mapping, Sequence

import uvicorn

from runtime.checkpoint_check import check_checkpoint
from runtime.cli import ConfigFlags, command_parser, required_group, run
from runtime.config import renamed_keys, resolve_config
from runtime.errors import PipelineError, UsageError
from runtime.settings import choices, env_values, validate
from serve.settings import ENV_PREFIX, ServeSettings

PROG = "hashtag-serve"
log = logging.getLogger(__name__)


# The flags that override configs/serve.yaml; each key is also the ServeSettings field.
FLAGS = ConfigFlags("serve")


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser(
        PROG,
        "Serve a hashtag checkpoint over HTTP. Defaults come from configs/serve.yaml; "
        "HASHTAG_SERVE_<KEY> environment variables override it, the flags override both.",
        stage="serve",
    )
    _server_flags(parser)
    _fetching_flags(parser)
    engine = parser.add_argument_group("batching and inference")
    _batching_flags(engine)
    _inference_flags(engine)
    parser.set_defaults(func=lambda args: serve(resolve_settings(args)))
    return parser


def _server_flags(parser: argparse.ArgumentParser) -> None:
    add = FLAGS.add
    add(
        required_group(parser),
        "--checkpoint",
        key="checkpoint",
        metavar="DIR",
        help="checkpoint directory, runs/<name>: given here, in the config or as "
        "HASHTAG_SERVE_CHECKPOINT",
    )
    add(parser, "--host", key="host", help="interface to bind")
    add(parser, "--port", key="port", type=int, help="TCP port")
    add(
        parser,
        "--device",
        key="device",
        help="torch device for the model (auto: cuda when visible)",
    )


def _fetching_flags(parser: argparse.ArgumentParser) -> None:
    add = FLAGS.add
    fetching = parser.add_argument_group("image fetching and input limits")
    add(
        fetching,
        "--allow-private-urls",
        key="allow_private_urls",
        action="store_true",
        help="let image_url reach loopback/private addresses (for local testing only)",
    )
    add(
        fetching,
        "--drive-base-url",
        key="drive_base_url",
        metavar="URL",
        help="Drive download endpoint",
    )
    add(
        fetching,
        "--fetch-timeout-s",
        key="fetch_timeout_s",
        type=float,
        metavar="S",
        help="seconds for a whole image download",
    )
    add(
        fetching,
        "--max-upload-bytes",
        key="max_upload_bytes",
        type=int,
        metavar="N",
        help="largest image accepted",
    )
    add(
        fetching,
        "--max-text-chars",
        key="max_text_chars",
        type=int,
        metavar="N",
        help="longest caption accepted",
    )


def _batching_flags(engine: argparse._ArgumentGroup) -> None:
    add = FLAGS.add
    add(
        engine,
        "--max-batch-size",
        key="max_batch_size",
        type=int,
        metavar="N",
        help="requests per model call",
    )
    add(
        engine,
        "--max-wait-ms",
        key="max_wait_ms",
        type=float,
        metavar="MS",
        help="how long a batch waits to fill",
    )


def _inference_flags(engine: argparse._ArgumentGroup) -> None:
    add = FLAGS.add
    add(
        engine,
        "--engine",
        key="engine",
        choices=choices(ServeSettings, "engine"),
        renamed_from=("--backend",),
        help="inference engine (auto: ONNX Runtime on CPU, PyTorch otherwise)",
    )
    add(
        engine,
        "--threads",
        key="num_threads",
        dest="num_threads",
        type=int,
        metavar="N",
        help="intra-op threads (0: one per core)",
    )
    add(
        engine,
        "--quantize",
        key="quantize",
        action=argparse.BooleanOptionalAction,
        help="int8 dynamic quantization of the text encoder (batch-dependent answers)",
    )
    add(
        engine,
        "--channels-last",
        key="channels_last",
        action=argparse.BooleanOptionalAction,
        help="channels_last memory format for the convolutions",
    )
    add(
        engine,
        "--bf16-images",
        key="bf16_images",
        choices=choices(ServeSettings, "bf16_images"),
        help="bfloat16 image convolutions (auto: where the CPU has bf16 instructions)",
    )


def _current_names(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with the renamed ``HASHTAG_SERVE_<KEY>`` variables (``BACKEND``, now
    ``ENGINE``: runtime.config.RENAMED_KEYS) under their new names, for one release."""
    ours = {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX)
    }
    return {
        f"{ENV_PREFIX}{key.upper()}": value for key, value in renamed_keys("serve", ours).items()
    }


def resolve_settings(
    args: argparse.Namespace, environ: dict[str, str] | None = None
) -> ServeSettings:
    """Merge the config files, the environment and the flags (see the module docstring)."""
    values = resolve_config("serve", args, flag_keys={})  # flags come after the environment
    environ = _current_names(os.environ if environ is None else environ)
    values.update(env_values(ServeSettings, ENV_PREFIX, environ))
    values.update(
        {
            key: getattr(args, dest)
            for dest, key in FLAGS.keys.items()
            if getattr(args, dest) is not None
        }
    )
    return validate(ServeSettings, values)


def serve(settings: ServeSettings) -> int:
    """Load, tune, and run until SIGINT/SIGTERM; uvicorn drains in-flight requests first."""
    # ServeSettings has refused bad settings already; then the checkpoint, then the port.
    if not settings.checkpoint:
        raise UsageError("--checkpoint DIR is required (or HASHTAG_SERVE_CHECKPOINT)")
    # Imported here so that --help and bad flags answer without loading torch and transformers.
    from serve.cpu_tuning import configure_threads, load_tuned

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
        # uvicorn drains, then re-raises the SIGINT or SIGTERM it caught; with these handlers
        # in place that re-raise returns here, so a requested stop exits 0 instead of 130/143
        # (until here both signals stop the load like any command's, runtime.errors.run_main).
        stops = (signal.SIGINT, signal.SIGTERM)
        previous = {stop: signal.signal(stop, lambda signum, frame: None) for stop in stops}
        host, port = listener.getsockname()[:2]
        log.info("serving on http://%s:%d/", f"[{host}]" if ":" in host else host, port)
        try:
            uvicorn.Server(config).run(sockets=[listener])
        finally:
            for stop, handler in previous.items():
                signal.signal(stop, handler)
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
    return run(build_parser(), argv)
