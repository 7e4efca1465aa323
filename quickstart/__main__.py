"""`python -m quickstart`: the whole system on this machine, on the embedded defaults.

1. trains through the pipeline (kfp.local) and publishes the bundle to ./model-store
2. starts the KServe model server on localhost with that bundle
3. streams a recorded X API v2 stream (built from the sample's tweets) through the streamer
4. stores one result per tweet in SQLite, or in DynamoDB with SINK=dynamodb: DynamoDB Local, installed and
   started here, unless AWS_ENDPOINT_URL_DYNAMODB or AWS credentials point at another
5. prints a summary and writes results/report.html and results/report.png
then runs the monitor pipeline (kfp.local) on these results against the champion. Run it again and
the new model meets the first as its champion: the run shows the champion/challenger decision.
Settings are checked first, in the first second. Each step logs to results/logs/<step>.log. Exit 0
when every step worked; otherwise 1 and a sentence naming the step and its log, or the setting.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Literal

from pydantic import Field

from twitter_sentiment import dynamodb_local, logs
from twitter_sentiment.contract import MODEL_NAME, RESULTS_TABLE, predict_path
from twitter_sentiment.processes import NotReady, free_port, model_server, port_taken
from twitter_sentiment.settings import ConfigError, Settings, load

# Training-log lines worth seeing on the console while the full log goes to results/logs/train.log.
PROGRESS = re.compile(r"Task '[\w-]+' finished with status|word2vec (vocabulary|epoch (8|16|24|32)/)|"
                      r"^\s*\d+/\d+ - .*val_loss|classifier trained|champion/challenger:|nothing was published")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class StepFailed(RuntimeError):
    def __init__(self, step: str, log: Path, why: str):
        super().__init__(f"step '{step}' failed: {why}; its log is {log}")


class QuickstartSettings(Settings):
    """What the run reads from the environment (docs/configuration.md); the streamer reads the rest."""

    dataset_uri: str = "sample"
    sink: Literal["sqlite", "dynamodb"] = "sqlite"
    sqlite_path: str | None = None  # default: results/results.sqlite, fresh each run
    dynamodb_table: str = RESULTS_TABLE
    aws_endpoint_url_dynamodb: str | None = Field(None, pattern=r"^https?://[^\s/]+")
    aws_region: str | None = None  # the streamer's; boto3 itself reads AWS_DEFAULT_REGION or the profile


def credentials_configured() -> bool:
    """AWS credentials in the environment, a profile or a shared file (not an instance role: no network probe)."""
    import botocore.session
    from botocore.credentials import create_credential_resolver

    resolver = create_credential_resolver(botocore.session.get_session())
    for remote in ("container-role", "iam-role"):
        resolver.remove(remote)
    return resolver.load_credentials() is not None


NO_REGION = "AWS_REGION is not set: DynamoDB needs a region (e.g. AWS_REGION=us-east-1)"


def check_dynamodb(settings: QuickstartSettings) -> str:
    """The DynamoDB the settings name answers; ConfigError names the variable to fix. Returns where it is."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    endpoint = settings.aws_endpoint_url_dynamodb
    session = boto3.session.Session(region_name=settings.aws_region)
    if not session.region_name:
        raise ConfigError(NO_REGION)
    where = f"AWS_ENDPOINT_URL_DYNAMODB={endpoint}" if endpoint else f"DynamoDB in {session.region_name}"
    # One quick try: an endpoint that does not answer in seconds will not answer after the training either.
    quick = Config(connect_timeout=3, read_timeout=5, retries={"total_max_attempts": 1})
    try:
        session.client("dynamodb", config=quick).list_tables(Limit=1)
    except NoCredentialsError:
        raise ConfigError(f"AWS_ACCESS_KEY_ID is not set: {where} needs credentials") from None
    except NoRegionError:
        raise ConfigError(NO_REGION) from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise ConfigError(f"AWS_ACCESS_KEY_ID: {where} refused the credentials ({code})") from None
    except BotoCoreError as error:
        setting = f"AWS_ENDPOINT_URL_DYNAMODB={endpoint!r}" if endpoint else f"AWS_REGION={session.region_name!r}"
        raise ConfigError(f"{setting}: DynamoDB does not answer there ({error})") from None
    return session.region_name


class Run:
    def __init__(self, args, settings: QuickstartSettings):
        self.args = args
        self.settings = settings
        self.results = Path(args.results).resolve()
        self.logs = self.results / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.store = Path(args.model_store).resolve()
        self.sqlite_path = settings.sqlite_path or str(self.results / "results.sqlite")
        self.dynamodb = ""  # where the DynamoDB results go, in words
        self.region = dynamodb_local.REGION
        self.dynamodb_env: dict[str, str] = {}  # DynamoDB Local's endpoint, region and keys, when started here

    def check(self, stack: ExitStack) -> None:
        """Before the long work: every setting the run needs is valid and its sink answers."""
        if port_taken(self.args.port):
            raise StepFailed("serve", self.logs / "serve.log", f"port {self.args.port} is already in use (try --port)")
        self.streamer_settings("(checked)", "http://127.0.0.1:1")  # the streamer's own variables, now
        if self.settings.sink == "dynamodb":
            if self.settings.aws_endpoint_url_dynamodb or credentials_configured():
                self.region = check_dynamodb(self.settings)  # theirs: start nothing
                self.dynamodb = f"{self.settings.aws_endpoint_url_dynamodb or 'AWS'} (region {self.region})"
            else:
                log = self.logs / "dynamodb-local.log"
                self.say("0/5 starting DynamoDB Local, installed if missing (SINK=dynamodb, and no endpoint or AWS "
                         "credentials set)")
                try:
                    endpoint = stack.enter_context(dynamodb_local.dynamodb_local(log_path=log))
                except (RuntimeError, OSError) as error:
                    raise StepFailed("dynamodb-local", log, str(error)) from None
                self.dynamodb_env = dynamodb_local.env(endpoint)
                self.dynamodb = f"DynamoDB Local at {endpoint}, stopped at the end"

    def streamer_settings(self, replay: str, url: str):
        from streamer.config import StreamerSettings

        return load(StreamerSettings, {**os.environ, "SOURCE": "replay", "REPLAY_FILE": replay,
                                       "MODEL_SERVER_URL": url, "MODEL_NAME": MODEL_NAME,
                                       "HEALTH_PORT": str(free_port()), "SINK": self.settings.sink,
                                       "SQLITE_PATH": self.sqlite_path})

    def say(self, text: str) -> None:
        print(f"[quickstart] {text}", flush=True)

    def _run(self, step: str, command: list[str], echo: re.Pattern | None = None) -> None:
        """Run a step to completion, its output in results/logs/<step>.log; echo the lines `echo` matches."""
        log = self.logs / f"{step}.log"
        with open(log, "w", encoding="utf-8") as handle:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                       errors="replace")
            for line in process.stdout:
                handle.write(line)
                if echo and echo.search(ANSI.sub("", line)):
                    print("    " + ANSI.sub("", line).strip()[:150], flush=True)
            returncode = process.wait()
        if returncode != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise StepFailed(step, log, f"exit status {returncode}: {ANSI.sub('', tail[0])[:300]}")

    def train(self) -> None:
        self.say(f"1/5 training through the pipeline (kfp.local) on {self.args.dataset_uri}; "
                 f"progress in {self.logs / 'train.log'}")
        started = time.monotonic()
        self._run("train", [sys.executable, "-m", "pipelines", "run-local", "--dataset-uri", self.args.dataset_uri,
                            "--artifacts", str(self.results / "artifacts"), "--model-store", str(self.store),
                            *self.args.train_args], echo=PROGRESS)
        from twitter_sentiment.store import ModelStore

        self.version = ModelStore(str(self.store)).latest()
        self.say(f"    the champion is {self.store / self.version} ({time.monotonic() - started:.0f}s)")

    def serve(self, stack: ExitStack) -> str:
        log = self.logs / "serve.log"
        self.say(f"2/5 starting the model server on http://127.0.0.1:{self.args.port} (log {log})")
        try:
            return stack.enter_context(model_server(self.store, port=self.args.port, log_path=log))
        except NotReady as error:
            raise StepFailed("serve", log, str(error)) from None

    def stream(self, url: str):
        """The streamer, in this process: its return value is the run's counts."""
        from streamer.__main__ import stream
        from streamer.sinks import create_table, dynamodb_client

        replay = Path(self.args.replay) if self.args.replay else self.results / f"replay-{self.args.tweets}.jsonl"
        if not replay.exists():
            self._run("replay", [sys.executable, "-m", "streamer.replay", "--count", str(self.args.tweets),
                                 "--out", str(replay)])
        os.environ.update(self.dynamodb_env)  # boto3 reads them; the streamer runs in this process
        settings = self.streamer_settings(str(replay), url)
        if settings.sink == "sqlite" and not self.settings.sqlite_path:
            for leftover in self.results.glob("results.sqlite*"):  # this run's results only (and -wal, -shm)
                leftover.unlink()
        log = self.logs / "stream.log"
        self.say(f"3/5 streaming {replay.name} through the streamer into {settings.sink} (log {log})")
        logs.setup(filename=str(log))
        try:
            if settings.sink == "dynamodb":
                create_table(dynamodb_client(), settings.dynamodb_table)
            summary = stream(settings)
        except Exception as error:  # the streamer's own failures are in its log, with the traceback
            logging.getLogger("quickstart").exception("the streamer failed")
            raise StepFailed("stream", log, f"{type(error).__name__}: {error}") from None
        finally:
            for handler in logging.getLogger().handlers[:]:
                handler.close()
                logging.getLogger().removeHandler(handler)
        if summary.error:
            raise StepFailed("stream", log, f"the replay could not be read: {summary.error}")
        return summary

    def monitor(self) -> None:
        """The monitor pipeline over this run's results, its window ending at the last tweet."""
        from datetime import datetime, timedelta

        results = (f"sqlite://{Path(self.sqlite_path).resolve()}" if self.settings.sink == "sqlite" else
                   f"dynamodb://{self.settings.dynamodb_table}")
        end = (datetime.fromisoformat(self.last_tweet.replace("Z", "+00:00")) + timedelta(seconds=1)).isoformat() \
            if self.last_tweet else ""  # the replay's tweets carry their recorded times, not now
        self.say(f"monitor: the drift pipeline (kfp.local) on these results vs the champion "
                 f"(log {self.logs / 'monitor.log'})")
        self._run("monitor", [sys.executable, "-m", "pipelines", "monitor-local", "--results", results,
                              "--model-store", str(self.store), "--artifacts", str(self.results / "artifacts"),
                              "--window-end", end], echo=re.compile(r"^monitor: |# Monitor: "))

    def report(self, summary, url: str) -> None:
        from streamer.sinks import open_sink
        from twitter_sentiment.bundle import read_metadata
        from twitter_sentiment.report import label_mix, write_report

        sink = open_sink(self.streamer_settings("(read back)", url))  # the results as stored
        try:
            items = sink.items()
        finally:
            sink.close()
        evaluation = read_metadata(self.store / self.version).get("evaluation")
        mix = label_mix(items)
        rate = summary.received / max(summary.seconds, 1e-9)
        facts = {
            "tweets received": summary.received, "stored": len(items), "rejected": summary.rejected,
            "label mix": ", ".join(f"{k} {v} ({v / max(len(items), 1):.0%})" for k, v in sorted(mix.items())),
            "throughput": f"{rate:,.0f} tweets/s end to end", "model version": self.version,
            "held-out accuracy": f"{evaluation['model']['accuracy']:.4f} (TF-IDF reference "
                                 f"{evaluation['reference_tfidf']['scores']['held_out']['accuracy']:.4f})"
                                 if evaluation else "n/a",
            "results": self.sqlite_path if self.settings.sink == "sqlite" else
            f"DynamoDB table {self.settings.dynamodb_table}, {self.dynamodb}",
        }
        page = write_report(self.results, items, evaluation, facts)
        self.last_tweet = max((item["date"] for item in items), default="")
        self.say("4/5 summary")
        for key, value in facts.items():
            print(f"    {key:18} {value}")
        print(f"    query them:        {self.query_line()}")
        print(f"    call the model:    curl -s {url}{predict_path()} "
              "-d '{\"instances\": [\"I love this!\", \"worst day ever\"]}'")
        self.say(f"5/5 report: {page} (and {self.results / 'report.png'})")
        if len(items) < summary.received:
            raise StepFailed("stream", self.logs / "stream.log",
                             f"{summary.received} tweets received but {len(items)} stored")

    def query_line(self) -> str:
        """The command that lists the stored results; shown to the user, not run."""
        if self.settings.sink == "sqlite":
            return f"sqlite3 {self.sqlite_path} \"SELECT sentiment, COUNT(*) FROM results GROUP BY sentiment\""
        endpoint = self.dynamodb_env.get("AWS_ENDPOINT_URL_DYNAMODB") or self.settings.aws_endpoint_url_dynamodb
        local = "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local " if self.dynamodb_env else ""
        line = (f"{local}aws dynamodb scan --table-name {self.settings.dynamodb_table} --select COUNT"
                + (f" --endpoint-url {endpoint}" if endpoint else "") + f" --region {self.region}")
        return line + ("   (while it runs: ARGS=--keep-serving)" if local else "")


def parser(settings: QuickstartSettings) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m quickstart", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset-uri", default=settings.dataset_uri)
    p.add_argument("--model-store", default="model-store")
    p.add_argument("--results", default="results", help="where logs, results and the report go")
    p.add_argument("--tweets", type=int, default=5000, help="tweets in the built replay")
    p.add_argument("--replay", help="a replay file to stream instead of building one")
    p.add_argument("--port", type=int, default=8080, help="the model server's port")
    p.add_argument("--keep-serving", action="store_true", help="leave the model server running until Ctrl-C")
    p.add_argument("train_args", nargs=argparse.REMAINDER,
                   help="after --, options for `python -m pipelines run-local` (e.g. -- --sample-rows 2000)")
    return p


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    try:
        settings = load(QuickstartSettings)
        args = parser(settings).parse_args(argv)
        args.train_args = [a for a in args.train_args if a != "--"]
        run = Run(args, settings)
        with ExitStack() as stack:
            run.check(stack)
            run.train()
            url = run.serve(stack)
            summary = run.stream(url)
            run.report(summary, url)
            run.monitor()
            if args.keep_serving:
                run.say(f"the model server stays up at {url}"
                        f"{' (and DynamoDB Local)' if run.dynamodb_env else ''}; Ctrl-C stops it")
                try:
                    signal.pause()
                except KeyboardInterrupt:
                    pass
    except ValueError as error:  # a setting: the core's ConfigError, or the streamer's
        print(f"[quickstart] error: {error}", file=sys.stderr, flush=True)
        return 1
    except StepFailed as error:
        print(f"[quickstart] error: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("[quickstart] interrupted: everything started was stopped", file=sys.stderr)
        return 130
    run.say(f"done in {time.monotonic() - started:.0f}s; everything started was stopped")
    return 0

if __name__ == "__main__":
    sys.exit(main())
