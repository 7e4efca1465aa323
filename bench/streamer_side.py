"""One side of `python -m bench.streamer --against`: the streamer of whatever checkout is first on PYTHONPATH.

Runs as a script under `python -P` (its own folder would put bench/streamer.py in the package's place),
with the checkout under test as its working directory and PYTHONPATH, so `streamer` and
`twitter_sentiment` are that checkout's. It speaks both command-line APIs the streamer has
had: `Settings.from_env` with `build` returning a tuple (c855d10), and `load(StreamerSettings, ...)` with
`build` returning the pipeline (now). Prints one JSON line: seconds, the summary, and the CPU seconds of
this process and of the model server and DynamoDB Local (by pid) over the measured run.

    python bench/streamer_side.py REPLAY MODEL_URL TABLE --warm-up FILE --warm-up-table T --pids NAME=PID ...
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat, fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settings_for(env: dict):
    try:
        from streamer.config import StreamerSettings, load
    except ImportError:  # c855d10
        from streamer.config import Settings

        return Settings.from_env(env)
    return load(StreamerSettings, env)


def run_once(replay: str, model_url: str, table: str, batch_size: int | None) -> tuple[float, dict, int]:
    from streamer.__main__ import build

    env = {"SOURCE": "replay", "REPLAY_FILE": replay, "MODEL_SERVER_URL": model_url, "SINK": "dynamodb",
           "DYNAMODB_TABLE": table}
    if batch_size:
        env["BATCH_SIZE"] = str(batch_size)
    settings = settings_for(env)
    built = build(settings)
    pipeline, model, sink = (built[0], built[2], built[3]) if isinstance(built, tuple) else (
        built, built.model, built.sink)
    started = time.perf_counter()
    summary = pipeline.run()
    seconds = time.perf_counter() - started
    model.close()
    sink.close()
    return seconds, dict(summary.__dict__), settings.batch_size


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("replay")
    parser.add_argument("model_url")
    parser.add_argument("table")
    parser.add_argument("--warm-up", help="a replay run first, not measured")
    parser.add_argument("--warm-up-table")
    parser.add_argument("--batch-size", type=int, help="default: the checkout's own BATCH_SIZE default")
    parser.add_argument("--pids", nargs="*", default=[], help="NAME=PID of each server process to measure")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # replay noise (stream error messages) is expected
    if args.warm_up:
        run_once(args.warm_up, args.model_url, args.warm_up_table, args.batch_size)
    pids = dict(entry.split("=", 1) for entry in args.pids)
    before = {name: process_cpu(int(pid)) for name, pid in pids.items()}
    cpu_started = time.process_time()
    seconds, summary, batch_size = run_once(args.replay, args.model_url, args.table, args.batch_size)
    cpu = {"streamer": time.process_time() - cpu_started}
    cpu.update({name: process_cpu(int(pid)) - before[name] for name, pid in pids.items()})
    print(json.dumps({"seconds": seconds, "summary": summary, "cpu": cpu, "batch_size": batch_size}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
