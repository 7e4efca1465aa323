"""`python -m streamer run | create-table`: the streamer's command line (replays: `python -m streamer.replay`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys

log = logging.getLogger("streamer")


def build(settings, *, max_backoff: float = 10.0, ttl_days: float | None = None):
    """The running parts for `settings`: (pipeline, source, model client, sink, metrics)."""
    from streamer.health import Metrics
    from streamer.pipeline import Pipeline
    from streamer.scorer import ModelClient
    from streamer.sinks import open_sink
    from streamer.sources import ReplaySource, XSource, parse_rules

    metrics = Metrics()
    on_retry = lambda target: metrics.retried.labels(target).inc()
    model = ModelClient(settings.predict_url, settings.ready_url, max_backoff=max_backoff, on_retry=on_retry)
    sink = open_sink(settings, abort=model.abort, on_retry=on_retry, ttl_days=ttl_days)
    if settings.source == "x":
        source = XSource(settings.x_bearer_token, parse_rules(settings.stream_rules, settings.stream_language),
                         metrics, settings.max_text_length)
    else:
        source = ReplaySource(settings.replay_file, metrics, settings.max_text_length, settings.replay_rate)
    pipeline = Pipeline(source, model, sink, metrics, batch_size=settings.batch_size,
                        batch_max_wait_ms=settings.batch_max_wait_ms, queue_size=settings.queue_size,
                        grace_seconds=settings.shutdown_grace_seconds)
    return pipeline, source, model, sink, metrics


def run(args) -> int:
    from streamer.config import Settings
    from streamer.health import HealthServer

    settings = Settings.from_env()
    log.info("starting: %s", settings)
    pipeline, source, model, sink, metrics = build(settings, max_backoff=args.max_backoff, ttl_days=args.ttl_days)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: pipeline.request_stop())
    health = HealthServer(settings.health_port, {
        "source": source.check,
        "model_server": model.ready,
        "sink": sink.check,
    }, metrics).start()
    ok, detail = sink.check()
    if not ok:
        log.warning("sink not reachable at start (%s); writes will be retried", detail)
    try:
        summary = pipeline.run()
    finally:
        health.stop()
        model.close()
        sink.close()
    log.info("stopped: %s", json.dumps(dataclasses.asdict(summary)))
    print(json.dumps({"event": "stopped", **dataclasses.asdict(summary)}), flush=True)
    return 1 if summary.source_error else 0


def create_table(args) -> int:
    from streamer.config import Settings
    from streamer.sinks import create_table as create
    from streamer.sinks import dynamodb_client

    table = args.table or os.environ.get("DYNAMODB_TABLE") or Settings.dynamodb_table
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
    from streamer.config import ConfigError

    try:
        return args.handler(args)
    except ConfigError as error:
        log.error("configuration: %s", error)
        return 2


if __name__ == "__main__":
    sys.exit(main())
