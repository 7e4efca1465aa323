"""`python -m serving`: load the bundle once, then serve it with KServe's ModelServer.

A bad setting, or a bundle that is missing, corrupt or of another format, stops the process with
exit status 1 and one line saying why: an InferenceService then shows the pod failing to
start instead of serving garbage.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # outside the image, Keras may run on TensorFlow: its C++ chatter
# The folded LSTM's matmuls are small (128 x 100 by 100 x 400): a second BLAS thread only spins against the
# event loop for a core (one thread served 9% more tweets/s at 256 a request, 2 cores). Read at NumPy's import.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import gc
import logging
import sys
import warnings

from kserve import logging as kserve_logging
from kserve import model_server

from serving.model import SentimentPredictor
from serving.settings import ServingSettings
from twitter_sentiment import logs
from twitter_sentiment.settings import ConfigError, load

log = logging.getLogger("serving")
PROG = "python -m serving"


def parse_args(settings: ServingSettings, argv: list[str] | None = None) -> argparse.Namespace:
    """KServe's own flags, with our settings as the defaults of the flags we share."""
    parser = argparse.ArgumentParser(prog=PROG, parents=[model_server.parser],
                                     description="Serve the twitter-sentiment model bundle (KServe v1/v2).")
    parser.add_argument("--storage_uri", default=settings.storage_uri,
                        help="bundle directory, s3:// version prefix, or model store (LATEST is followed)")
    # KServe's per-request latency lines (three a request) are off unless asked for: /metrics has the
    # same timings as histograms, and uvicorn's access log keeps one line a request.
    parser.set_defaults(model_name=settings.model_name, http_port=settings.http_port,
                        enable_grpc=False, enable_latency_logging=False)
    args = parser.parse_args(argv)
    if args.workers != 1:
        parser.exit(2, f"{PROG}: --workers must be 1: each worker would load its own model; "
                       "scale with replicas\n")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        settings = load(ServingSettings)
        args = parse_args(settings, argv)
        settings = load(ServingSettings, storage_uri=args.storage_uri, model_name=args.model_name,
                        http_port=args.http_port)
    except ConfigError as error:
        print(f"{PROG}: {error}", file=sys.stderr)  # one sentence naming the variable, no traceback
        return 1
    if args.configure_logging:
        kserve_logging.configure_logging(args.log_config_file)  # KServe's and uvicorn's loggers
        logs.setup()  # ours: one line per event, LOG_LEVEL
        if not args.enable_latency_logging:
            logging.getLogger(kserve_logging.KSERVE_TRACE_LOGGER_NAME).setLevel(logging.WARNING)
    # KServe 0.21 answers with FastAPI's ORJSONResponse, which FastAPI 0.165 warns about on first use.
    warnings.filterwarnings("ignore", message="ORJSONResponse is deprecated")
    try:
        model = SentimentPredictor(settings)
        model.load()
    except Exception as error:  # BundleError, StorageError, or a surprise
        log.error("cannot serve STORAGE_URI=%s: %s: %s", settings.storage_uri, type(error).__name__, error)
        log.debug("start-up failure", exc_info=True)
        return 1

    from serving.app import build_server

    # The loaded TensorFlow graph is a large, permanent object graph: keep the cyclic GC from walking
    # it on every full collection while serving (and at exit, which otherwise takes seconds).
    gc.freeze()

    server = build_server(model, grpc_port=args.grpc_port, enable_grpc=args.enable_grpc,
                          max_asyncio_workers=args.max_asyncio_workers,
                          enable_latency_logging=args.enable_latency_logging,
                          access_log_format=args.access_log_format, event_loop=args.event_loop,
                          timeout_keep_alive=args.timeout_keep_alive)
    server.start([model])
    return 0


if __name__ == "__main__":
    sys.exit(main())
