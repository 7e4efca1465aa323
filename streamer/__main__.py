"""`python -m streamer run | create-table`: the streamer's command line (replays: `python -m streamer.replay`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys
import threading

log = logging.getLogger("streamer")


def build(settings, *, max_backoff: float = 10.0, ttl_days: float | None = None):
    """The running parts for `settings`: a Pipeline, its source, model client, sink and metrics attached."""
    from streamer.health import Metrics
    from streamer.journal import Journal
    from streamer.pipeline import Pipeline
    from streamer.scorer import ModelClient
    from streamer.shadow import Shadow
    from streamer.sinks import open_sink
    from streamer.sources import ReplaySource, XSource, parse_rules

    metrics = Metrics()
    model = ModelClient(settings.model_server_url, settings.model_name)
    sink = open_sink(settings, ttl_days=ttl_days)
    if settings.source == "x":
        source = XSource(settings.x_bearer_token.get_secret_value(),
                         parse_rules(settings.stream_rules, settings.stream_language), metrics,
                         settings.max_text_length, api_url=settings.x_api_url,
                         backfill_minutes=settings.backfill_minutes)
    else:
        source = ReplaySource(settings.replay_file, metrics, settings.max_text_length, settings.replay_rate)
    return Pipeline(source, model, sink, metrics, batch_size=settings.batch_size,
                    batch_max_wait_ms=settings.batch_max_wait_ms, queue_size=settings.queue_size,
                    grace_seconds=settings.shutdown_grace_seconds, max_backoff=max_backoff,
                    journal=Journal(settings.journal_dir) if settings.journal_dir else None,
                    stall_seconds=settings.stall_seconds,
                    shadow=Shadow(ModelClient(settings.shadow_model_server_url, settings.model_name, timeout=5.0),
                                  settings.shadow_sample, metrics) if settings.shadow_sample else None)


def stream(settings, *, max_backoff: float = 10.0, ttl_days: float | None = None):
    """Stream, score and store until the source ends or SIGTERM; returns the run's Summary (its counts).

    Raises ConfigError at start when the model server answers that it has no MODEL_NAME.
    """
    from streamer.health import HealthServer

    pipeline = build(settings, max_backoff=max_backoff, ttl_days=ttl_days)
    try:
        if not pipeline.model.check_model():
            log.warning("model server not reachable at start (%s); requests will be retried", settings.model_server_url)
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, lambda *_: pipeline.request_stop())
        health = HealthServer(settings.health_port, {
            "source": pipeline.source.check,
            "model_server": pipeline.model.ready,
            "sink": pipeline.sink.check,
        }, pipeline.metrics, alive=pipeline.alive).start()
        ok, detail = pipeline.sink.check()
        if not ok:
            log.warning("sink not reachable at start (%s); writes will be retried", detail)
        try:
            return pipeline.run()
        finally:
            health.stop()
            for signum, handler in previous.items():  # a caller's own handlers come back
                signal.signal(signum, handler)
    finally:
        pipeline.model.close()
        pipeline.sink.close()


def run(args) -> int:
    from streamer.config import StreamerSettings, load

    settings = load(StreamerSettings)
    log.info("starting: %r", settings)
    summary = stream(settings, max_backoff=args.max_backoff, ttl_days=args.ttl_days)
    log.info("stopped: %s", json.dumps(dataclasses.asdict(summary)))
    print(json.dumps({"event": "stopped", **dataclasses.asdict(summary)}), flush=True)
    return 1 if summary.error else 0


def create_table(args) -> int:
    from streamer.sinks import create_table as create
    from streamer.sinks import dynamodb_client
    from twitter_sentiment.contract import RESULTS_TABLE

    table = args.table or os.environ.get("DYNAMODB_TABLE") or RESULTS_TABLE
    outcome = create(dynamodb_client(), table, args.ttl_attribute)
    print(f"table {table}: {outcome}" + (f", TTL on {args.ttl_attribute}" if args.ttl_attribute else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    from streamer.sinks import TTL_ATTRIBUTE
    from twitter_sentiment import logs

    parser = argparse.ArgumentParser(prog="python -m streamer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="stream, score and store (settings from the environment)")
    run_parser.add_argument("--max-backoff", type=float, default=10.0,
                            help="longest wait between retries of the model server or the sink, seconds")
    run_parser.add_argument("--ttl-days", type=float,
                            help=f"DynamoDB: write {TTL_ATTRIBUTE} (epoch seconds) so items expire after this "
                                 f"many days (the table needs `create-table --ttl-attribute {TTL_ATTRIBUTE}`)")
    run_parser.set_defaults(handler=run)
    table_parser = commands.add_parser("create-table", help="create the DynamoDB results table (on-demand)")
    table_parser.add_argument("--table", help="table name (default: DYNAMODB_TABLE)")
    table_parser.add_argument("--ttl-attribute", help=f"enable DynamoDB TTL on this attribute (`run --ttl-days` "
                                                      f"writes {TTL_ATTRIBUTE})")
    table_parser.set_defaults(handler=create_table)
    args = parser.parse_args(argv)
    logs.setup()  # the project's one format, LOG_LEVEL
    for chatty in ("httpx", "httpcore", "botocore", "urllib3"):  # one line per request would drown the log
        logging.getLogger(chatty).setLevel(logging.WARNING)
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError

    from twitter_sentiment.settings import ConfigError

    try:
        return args.handler(args)
    except ConfigError as error:  # one sentence naming the variable, no traceback
        print(f"python -m streamer {args.command}: {error}", file=sys.stderr, flush=True)
        return 1
    except NoRegionError:
        print(f"python -m streamer {args.command}: AWS_REGION is not set: the DynamoDB table's region",
              file=sys.stderr, flush=True)
        return 1
    except NoCredentialsError:
        print(f"python -m streamer {args.command}: no AWS credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY "
              "or a role)", file=sys.stderr, flush=True)
        return 1
    except EndpointConnectionError as error:
        print(f"python -m streamer {args.command}: DynamoDB does not answer at {error.kwargs.get('endpoint_url')} "
              "(check AWS_ENDPOINT_URL_DYNAMODB)", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
