"""Streamer throughput, in one run: a replay of N recorded v2 stream messages through tweepy's parser, the
real model server (`python -m serving`, a process) and DynamoDB Local (a process), end to end.

Beside it, on the same tweets, the original design's pattern: for each tweet, a new HTTP client and one
`POST` of that one tweet, a new boto3 client and one `put_item`. That pattern runs at a few dozen
tweets/s, so it runs on the first --per-tweet tweets and its time for all N is extrapolated from its
measured rate (it is sequential per tweet: time grows linearly with the count). A third line
shows per-tweet requests with kept clients, to separate what batching buys from what reusing clients
buys. Each batched run writes into an empty table; a short warm-up run first (into its own table)
lets DynamoDB Local's JVM compile its hot paths, as it would have in a service that has been up a while.

Without --bundle it trains a bundle of the default architecture (sequence length 50, LSTM 100,
300-d vectors; one epoch): the model's size sets the server's cost per tweet.

    python -m bench.streamer [--count 20000] [--per-tweet 200] [--bundle DIR]

`--against CHECKOUT` compares, in one run, the streamer of another checkout (the base of issue 14:
`git worktree add /tmp/wt-c855d10 c855d10`) with this one: the same replay, each side with its own model
server (that checkout's `serving`) and its own DynamoDB Local, sides alternating for --rounds rounds, each
side at its own default BATCH_SIZE unless --batch-size is given. Both serve the same bundle: --bundle, or
one trained now of the default architecture with the base's model type (fixed length, no masking), so
the model's work is the same on both sides. `--models each` instead serves each side the model type its
checkout trains by default (the base: fixed length; now: length-aware), trained alike: issue 14's
comparison with today's main. It prints tweets/s and each process's CPU a tweet, and the ratios.

    python -m bench.streamer --against /tmp/wt-c855d10 [--rounds 2] [--count 20000] [--models same|each]

`--drain` measures instead what SIGTERM costs at a full queue: the model server is down, QUEUE_SIZE
tweets wait, SIGTERM comes; every one of them must be in DynamoDB Local (as UNSCORED) before the grace
period ends. It reports the drain time against the grace period.

    python -m bench.streamer --drain [--queue-size 10000] [--grace 10]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import httpx

from streamer.__main__ import build
from streamer.config import StreamerSettings, load
from streamer.health import Metrics
from streamer.records import result_item
from streamer.replay import write_replay
from streamer.sinks import create_table
from streamer.sources import TweetListener
from tests.helpers import bench_bundle
from twitter_sentiment import dynamodb_local, logs
from twitter_sentiment.processes import ROOT, model_server

TARGET_RATE, TARGET_RATIO = 1000.0, 20.0



def batched(replay: Path, model_url: str, table: str, batch_size: int) -> tuple[float, dict]:
    """`python -m streamer run`'s pipeline, in process, on the replay: (seconds, summary)."""
    settings = load(StreamerSettings, {"SOURCE": "replay", "REPLAY_FILE": str(replay), "MODEL_SERVER_URL": model_url,
                                       "SINK": "dynamodb", "DYNAMODB_TABLE": table, "BATCH_SIZE": str(batch_size)})
    pipeline = build(settings)
    started = time.perf_counter()
    summary = pipeline.run()
    seconds = time.perf_counter() - started
    pipeline.model.close()
    pipeline.sink.close()
    return seconds, summary.__dict__


def parsed_tweets(replay: Path, count: int) -> list:
    """The first `count` tweets of the replay, through the same parser the pipeline uses."""
    tweets = []
    listener = TweetListener("replay", tweets.append, Metrics(), 1000)
    with open(replay, "rb") as lines:
        for line in lines:
            if len(tweets) >= count:
                break
            if line.strip():
                listener.on_data(line.rstrip(b"\r\n"))
    return [t for t in tweets if t.scorable][:count]


def per_tweet(tweets: list, predict_url: str, table: str, endpoint: str, reuse_clients: bool) -> float:
    """One request and one put_item per tweet; new clients per tweet unless reuse_clients. Returns seconds."""
    import boto3
    from boto3.dynamodb.types import TypeSerializer

    serialize = TypeSerializer().serialize

    def dynamodb():
        return boto3.session.Session().client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                                              aws_access_key_id="local", aws_secret_access_key="local")

    kept_http, kept_db = (httpx.Client(), dynamodb()) if reuse_clients else (None, None)
    started = time.perf_counter()
    for tweet in tweets:
        http = kept_http or httpx.Client()
        answer = http.post(predict_url, json={"instances": [tweet.text]}).json()
        if not reuse_clients:
            http.close()
        prediction = answer["predictions"][0]
        item = result_item(tweet, prediction["label"], prediction["score"], answer.get("model_version", ""))
        (kept_db or dynamodb()).put_item(TableName=table, Item={k: serialize(v) for k, v in item.items()})
    seconds = time.perf_counter() - started
    if kept_http:
        kept_http.close()
    return seconds


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) so far of this process and of its children: the model server, DynamoDB Local."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {"streamer (this process)": time.process_time()}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != os.getpid():
                continue
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        name = "DynamoDB Local" if b"DynamoDBLocal" in command else "model server" if b"serving" in command else None
        if name:
            found[name] = (int(fields[11]) + int(fields[12])) / tick
    return found


def count_items(client, table: str) -> int:
    return sum(page["Count"] for page in client.get_paginator("scan").paginate(TableName=table, Select="COUNT"))


def drain(queue_size: int, grace: float, work: Path) -> int:
    """SIGTERM at a full queue with the model server down: (drain seconds vs grace), every tweet stored."""
    import threading

    from tests.helpers import free_port

    replay = work / "drain.jsonl"
    write_replay(replay, queue_size + 2000, seed=5)
    jar = dynamodb_local.find_jar()
    if jar is None:
        print(f"DynamoDB Local is missing: {dynamodb_local.INSTALL_COMMAND}", file=sys.stderr)
        return 2
    with dynamodb_local.dynamodb_local(jar) as endpoint:
        os.environ.update(dynamodb_local.env(endpoint))
        client = dynamodb_local.client(endpoint)
        create_table(client, "drain")
        settings = load(StreamerSettings, {
            "SOURCE": "replay", "REPLAY_FILE": str(replay), "MODEL_SERVER_URL": f"http://127.0.0.1:{free_port()}",
            "SINK": "dynamodb", "DYNAMODB_TABLE": "drain", "QUEUE_SIZE": str(queue_size),
            "SHUTDOWN_GRACE_SECONDS": str(grace)})
        pipeline = build(settings, max_backoff=1.0)
        outcome = {}
        runner = threading.Thread(target=lambda: outcome.update(summary=pipeline.run()))
        runner.start()
        while pipeline.queue.qsize() < queue_size:  # the model server is down: the queue fills
            time.sleep(0.05)
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        pipeline.request_stop()  # what SIGTERM calls
        runner.join()
        seconds = time.perf_counter() - started
        cpu = {name: value - cpu_before.get(name, 0.0) for name, value in cpu_seconds().items()}
        pipeline.model.close()
        summary = outcome["summary"]
        stored = count_items(client, "drain")
    print(f"drain at a full queue (QUEUE_SIZE={queue_size}, model server down, DynamoDB Local):")
    print(f"  SIGTERM to stopped: {seconds:.2f}s of a {grace:.0f}s grace period ({seconds / grace:.0%}); "
          f"{summary.received} received, {summary.unscored} stored as UNSCORED, {summary.unstored} unstored; "
          f"items in the table: {stored}")
    print("  CPU seconds of the drain (what a quiet machine would need): " + ", ".join(
        f"{name} {value:.1f}s" for name, value in cpu.items()))
    ok = seconds < grace and stored == summary.received and summary.unstored == 0
    print(f"target: every received tweet stored within the grace period: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


def server_pids() -> dict[str, int]:
    """This process's model server and DynamoDB Local children, by name."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != os.getpid():
                continue
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if b"DynamoDBLocal" in command:
            found["DynamoDB Local"] = int(stat.parent.name)
        elif b"serving" in command:
            found["model server"] = int(stat.parent.name)
    return found


def one_side(root: Path, bundle: Path, replay: Path, warm: Path | None, batch_size: int | None,
             work: Path, name: str) -> dict:
    """The replay through `root`'s streamer (bench/streamer_side.py), model server and a fresh DynamoDB Local."""
    jar = dynamodb_local.find_jar()
    with dynamodb_local.dynamodb_local(jar) as endpoint, \
            model_server(bundle, root=root, log_path=work / f"{name}-server.log") as url:
        client = dynamodb_local.client(endpoint)
        for table in ("warm-up", "measured"):
            create_table(client, table)
        pids = server_pids()
        command = [sys.executable, "-P", str(ROOT / "bench" / "streamer_side.py"), str(replay), url, "measured",
                   "--pids", *(f"{n}={pid}" for n, pid in pids.items())]
        if warm:
            command += ["--warm-up", str(warm), "--warm-up-table", "warm-up"]
        if batch_size:
            command += ["--batch-size", str(batch_size)]
        done = subprocess.run(command, cwd=root, capture_output=True, text=True,
                              env={**os.environ, **dynamodb_local.env(endpoint), "PYTHONPATH": str(root)})
        if done.returncode != 0:
            raise RuntimeError(f"{name}: bench/streamer_side.py failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["stored"] = count_items(client, "measured")
    return result


def against(base: Path, args, work: Path) -> int:
    """Base vs this checkout in one run: the table of issue 14's targets."""
    base = base.resolve()
    if not (base / "streamer" / "__main__.py").is_file():
        print(f"--against {base}: not a checkout of this project (no streamer/__main__.py)", file=sys.stderr)
        return 2
    if dynamodb_local.find_jar() is None:
        print(f"DynamoDB Local is missing: {dynamodb_local.INSTALL_COMMAND}", file=sys.stderr)
        return 2
    commit = subprocess.run(["git", "-C", str(base), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "?"
    def trained(length_aware: bool) -> Path:
        (work / str(length_aware)).mkdir()
        return bench_bundle(None, work / str(length_aware), length_aware=length_aware)

    bundle = Path(args.bundle) if args.bundle else trained(length_aware=args.models == "each")
    base_bundle = Path(args.base_bundle) if args.base_bundle else bundle if args.models == "same" else trained(False)
    for name, served in (("base", base_bundle), ("now", bundle)):
        kind = json.loads((served / "metadata.json").read_text()).get("classifier", {})
        print(f"{name} serves {served} (sequence length {kind.get('sequence_length')}, "
              f"{'length-aware' if kind.get('length_aware') else 'fixed length'})")
    replay, warm = work / "replay.jsonl", work / "warm-up.jsonl" if args.warm_up else None
    write_replay(replay, args.count)
    if warm:
        write_replay(warm, args.warm_up, seed=99)
    sides = {f"base {commit}": base, "now": ROOT}
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    for round_number in range(args.rounds):
        for name, root in sides.items():
            served = base_bundle if root == base else bundle
            result = one_side(root, served, replay, warm, args.batch_size, work, name.split()[0])
            per_tweet = {n: v / args.count * 1e6 for n, v in result["cpu"].items()}
            result["rate"], result["us"] = args.count / result["seconds"], per_tweet
            runs[name].append(result)
            print(f"round {round_number + 1}, {name}: {result['rate']:,.0f} tweets/s, BATCH_SIZE "
                  f"{result['batch_size']}, CPU us/tweet " + ", ".join(f"{n} {v:.0f}" for n, v in per_tweet.items())
                  + f"; stored {result['stored']} of {args.count}, summary {json.dumps(result['summary'])}")

    def median(name: str, key: str) -> float:
        values = [run["rate"] if key == "rate" else (run["us"]["streamer"] + run["us"]["model server"])
                  if key == "both" else run["us"][key] for run in runs[name]]
        return statistics.median(values)

    (base_name, now_name) = sides
    rows = [("tweets/s end to end", "rate", "{:,.0f}"), ("CPU us/tweet: streamer", "streamer", "{:.0f}"),
            ("CPU us/tweet: model server", "model server", "{:.0f}"),
            ("CPU us/tweet: streamer + model server", "both", "{:.0f}"),
            ("CPU us/tweet: DynamoDB Local", "DynamoDB Local", "{:.0f}")]
    print(f"\nmedian of {args.rounds} round(s), {args.count} tweets each, load average "
          f"{os.getloadavg()[0]:.2f} at the end:")
    print(f"| | {base_name} | {now_name} | now / base |\n|---|---|---|---|")
    ratios = {}
    for label, key, form in rows:
        old, new = median(base_name, key), median(now_name, key)
        ratios[key] = new / old
        print(f"| {label} | {form.format(old)} | {form.format(new)} | {new / old:.2f}x |")
    sizes = [f"{name} {runs[name][0]['batch_size']}" for name in sides]
    print("| BATCH_SIZE | " + " | ".join(str(runs[name][0]["batch_size"]) for name in sides) + " | |")
    complete = all(run["stored"] == args.count and run["summary"]["unstored"] == 0 for r in runs.values() for run in r)
    ok_cpu, ok_rate = ratios["both"] <= 0.5, ratios["rate"] >= 1.3
    print(f"targets: streamer + model server CPU a tweet <= 0.5x base: {ratios['both']:.2f}x "
          f"{'met' if ok_cpu else 'MISSED'}; end to end >= 1.3x base: {ratios['rate']:.2f}x "
          f"{'met' if ok_rate else 'MISSED'}; every tweet stored on both sides: {'yes' if complete else 'NO'} "
          f"(BATCH_SIZE: {', '.join(sizes)})")
    return 0 if ok_cpu and ok_rate and complete else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20000, help="tweets in the replay (batched run)")
    parser.add_argument("--per-tweet", type=int, default=200, help="tweets for the per-tweet pattern")
    parser.add_argument("--warm-up", type=int, default=3000, help="tweets in the warm-up run (0: none)")
    parser.add_argument("--batch-size", type=int, help="BATCH_SIZE (default: the streamer's own default)")
    parser.add_argument("--bundle", help="a model bundle directory (default: train one of the default architecture)")
    parser.add_argument("--against", metavar="CHECKOUT", help="compare with another checkout's streamer, in one run")
    parser.add_argument("--rounds", type=int, default=1, help="--against: rounds of base then now")
    parser.add_argument("--models", choices=("same", "each"), default="same",
                        help="--against: same: both sides serve one fixed-length bundle (the base's kind); each: "
                             "the base a fixed-length one, now a length-aware one (today's default), trained alike")
    parser.add_argument("--base-bundle", help="--against: the bundle the base serves (default: as --models says)")
    parser.add_argument("--drain", action="store_true", help="measure the SIGTERM drain at a full queue instead")
    parser.add_argument("--queue-size", type=int, default=10000, help="--drain: QUEUE_SIZE")
    parser.add_argument("--grace", type=float, default=10.0, help="--drain: SHUTDOWN_GRACE_SECONDS")
    args = parser.parse_args()
    logs.setup("WARNING")
    for quiet in ("streamer.sources", "streamer.retry"):  # expected outage and replay noise
        logging.getLogger(quiet).setLevel(logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="bench-streamer-"))
    average = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {average[0]:.2f} {average[1]:.2f} {average[2]:.2f} at start")
    if args.drain:
        return drain(args.queue_size, args.grace, work)
    if args.against:
        return against(Path(args.against), args, work)
    args.batch_size = args.batch_size or StreamerSettings.model_fields["batch_size"].default

    bundle = bench_bundle(args.bundle, work)
    replay = work / "replay.jsonl"
    write_replay(replay, args.count)
    warm_replay = work / "warm-up.jsonl"
    if args.warm_up:
        write_replay(warm_replay, args.warm_up, seed=99)

    jar = dynamodb_local.find_jar()
    if jar is None:
        print(f"DynamoDB Local is missing: {dynamodb_local.INSTALL_COMMAND}", file=sys.stderr)
        return 2
    with dynamodb_local.dynamodb_local(jar) as endpoint, model_server(bundle, log_path=work / "server.log") as url:
        os.environ.update(dynamodb_local.env(endpoint))
        client = dynamodb_local.client(endpoint)
        for table in ("warm-up", "batched", "per-tweet", "per-tweet-kept"):
            create_table(client, table)
        if args.warm_up:
            seconds, _ = batched(warm_replay, url, "warm-up", args.batch_size)
            print(f"warm-up: {args.warm_up} tweets in {seconds:.2f}s ({args.warm_up / seconds:,.0f} tweets/s), "
                  "not counted")

        cpu_before = cpu_seconds()
        seconds, summary = batched(replay, url, "batched", args.batch_size)
        cpu = {name: value - cpu_before.get(name, 0.0) for name, value in cpu_seconds().items()}
        stored = count_items(client, "batched")
        rate = args.count / seconds
        print(f"\nbatched (BATCH_SIZE={args.batch_size}, replay -> tweepy parser -> model server -> DynamoDB Local):")
        print(f"  {args.count} tweets in {seconds:.2f}s = {rate:,.0f} tweets/s end to end")
        print(f"  summary {json.dumps(summary)}; items in the table: {stored}")
        print("  CPU seconds during the run: " + ", ".join(
            f"{name} {value:.1f}s ({value / args.count * 1e6:.0f} us/tweet)"
                                                          for name, value in cpu.items()))

        tweets = parsed_tweets(replay, args.per_tweet)
        predict_url = f"{url}/v1/models/twitter-sentiment:predict"
        one_seconds = per_tweet(tweets, predict_url, "per-tweet", endpoint, reuse_clients=False)
        one_rate = len(tweets) / one_seconds
        kept_seconds = per_tweet(tweets, predict_url, "per-tweet-kept", endpoint, reuse_clients=True)
        kept_rate = len(tweets) / kept_seconds
        print(f"\nper tweet, new HTTP and boto3 clients per tweet (the original pattern), first {len(tweets)} "
              f"of the same tweets:")
        print(f"  {len(tweets)} tweets in {one_seconds:.2f}s = {one_rate:,.1f} tweets/s; "
              f"{args.count} tweets would take {args.count / one_rate:,.0f}s (extrapolated)")
        print(f"per tweet, clients kept (for comparison): {kept_rate:,.1f} tweets/s")

        ratio = rate / one_rate
        print(f"\nratio batched / original pattern: {ratio:,.1f}x (batched / per tweet with kept clients: "
              f"{rate / kept_rate:,.1f}x)")
        ok_rate, ok_ratio, ok_items = rate >= TARGET_RATE, ratio >= TARGET_RATIO, stored == args.count
        print(f"targets: >= {TARGET_RATE:,.0f} tweets/s: {'met' if ok_rate else 'MISSED'}; "
              f">= {TARGET_RATIO:.0f}x the per-tweet pattern: {'met' if ok_ratio else 'MISSED'}; "
              f"every tweet stored once: {'yes' if ok_items else 'NO'}")
    return 0 if ok_rate and ok_ratio and ok_items else 1


if __name__ == "__main__":
    sys.exit(main())
