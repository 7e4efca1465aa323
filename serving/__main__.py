"""`python -m serving`: load the bundle once, then serve it with KServe's ModelServer.

A bundle that is missing, corrupt or of another format, or a bad setting, stops the process with
exit status 1 and one log line saying why: an InferenceService then shows the pod failing to
start instead of serving garbage.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

import argparse
import gc
import logging
import sys
import warnings

from kserve import logging as kserve_logging
from kserve import model_server

from serving.model import DEFAULT_NAME, SentimentPredictor
from serving.requests import Limits
from twitter_sentiment import logs

log = logging.getLogger("serving")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m serving", parents=[model_server.parser],
                                     description="Serve the twitter-sentiment model bundle (KServe v1/v2).")
    parser.add_argument("--storage_uri", default=os.environ.get("STORAGE_URI", "/mnt/models"),
                        help="bundle directory, s3:// version prefix, or model store (LATEST is followed)")
    port = os.environ.get("HTTP_PORT", "8080")
    if not port.isdigit():
        parser.exit(2, f"{parser.prog}: HTTP_PORT must be a port number, got {port!r}\n")
    # KServe's per-request latency lines (three a request) are off unless asked for: /metrics has the
    # same timings as histograms, and uvicorn's access log keeps one line a request.
    parser.set_defaults(model_name=os.environ.get("MODEL_NAME", DEFAULT_NAME), http_port=int(port),
                        enable_grpc=False, enable_latency_logging=False)
    args = parser.parse_args(argv)
    if args.workers != 1:
        parser.exit(2, f"{parser.prog}: --workers must be 1: each worker would load its own model; "
                       "scale with replicas\n")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.configure_logging:
        kserve_logging.configure_logging(args.log_config_file)  # KServe's and uvicorn's loggers
        logs.setup()  # ours: one line per event, LOG_LEVEL
        if not args.enable_latency_logging:
            logging.getLogger(kserve_logging.KSERVE_TRACE_LOGGER_NAME).setLevel(logging.WARNING)
    # KServe 0.21 answers with FastAPI's ORJSONResponse, which FastAPI 0.165 warns about on first use.
    warnings.filterwarnings("ignore", message="ORJSONResponse is deprecated")
    try:
        model = SentimentPredictor(args.model_name, args.storage_uri, Limits.from_env())
        model.load()
    except Exception as error:  # BundleError, StorageError, ValueError (settings), or a surprise
        log.error("cannot serve STORAGE_URI=%s: %s: %s", args.storage_uri, type(error).__name__, error)
        log.debug("start-up failure", exc_info=True)
        return 1

    from serving.app import build_server

    # The loaded TensorFlow graph is a large, permanent object graph: keep the cyclic GC from walking
    # it on every full collection while serving (and at exit, which otherwise takes seconds).
    gc.freeze()

    server = build_server(model, http_port=args.http_port, grpc_port=args.grpc_port,
                          enable_grpc=args.enable_grpc, max_asyncio_workers=args.max_asyncio_workers,
                          enable_latency_logging=args.enable_latency_logging,
                          access_log_format=args.access_log_format, event_loop=args.event_loop,
                          timeout_keep_alive=args.timeout_keep_alive)
    server.start([model])
    return 0


if __name__ == "__main__":
    sys.exit(main())
