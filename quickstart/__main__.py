"""`python -m quickstart`: the whole system on this machine, on the embedded defaults.

1. trains through the pipeline (kfp.local) and publishes the bundle to ./model-store
2. starts the KServe model server on localhost with that bundle
3. streams a recorded X API v2 stream (built from the sample's tweets) through the streamer
4. stores one result per tweet in SQLite (or DynamoDB: set SINK=dynamodb and its variables)
5. prints a summary and writes results/report.html and results/report.png
Each step logs to results/logs/<step>.log. Exit 0 when every step worked; otherwise 1 and a
sentence naming the step and its log.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

MODEL_NAME = "twitter-sentiment"
# Training-log lines worth seeing on the console while the full log goes to results/logs/train.log.
PROGRESS = re.compile(r"Task '[\w-]+' finished with status|word2vec (vocabulary|epoch (8|16|24|32)/)|"
                      r"^\s*\d+/\d+ - .*val_loss|classifier trained|\*\*Gate:\*\*")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class StepFailed(RuntimeError):
    def __init__(self, step: str, log: Path, why: str):
        super().__init__(f"step '{step}' failed: {why}; its log is {log}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Run:
    def __init__(self, args):
        self.args = args
        self.results = Path(args.results).resolve()
        self.logs = self.results / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.store = Path(args.model_store).resolve()

    def say(self, text: str) -> None:
        print(f"[quickstart] {text}", flush=True)

    def _run(self, step: str, command: list[str], env: dict | None = None, echo: re.Pattern | None = None) -> None:
        """Run a step to completion, its output in results/logs/<step>.log; echo the lines `echo` matches."""
        log = self.logs / f"{step}.log"
        with open(log, "w", encoding="utf-8") as handle:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                       errors="replace", env={**os.environ, **(env or {})})
            for line in process.stdout:
                handle.write(line)
                if echo and echo.search(ANSI.sub("", line)):
                    print("    " + ANSI.sub("", line).strip()[:150], flush=True)
            returncode = process.wait()
        if returncode != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise StepFailed(step, log, f"exit status {returncode}: {tail[0][:300]}")

    def train(self) -> None:
        self.say(f"1/5 training through the pipeline (kfp.local) on {self.args.dataset_uri}; "
                 f"progress in {self.logs / 'train.log'}")
        started = time.monotonic()
        self._run("train", [sys.executable, "-m", "pipelines", "run-local", "--dataset-uri", self.args.dataset_uri,
                            "--artifacts", str(self.results / "artifacts"), "--model-store", str(self.store),
                            *self.args.train_args], echo=PROGRESS)
        from twitter_sentiment.store import ModelStore

        self.version = ModelStore(str(self.store)).latest()
        self.say(f"    published bundle {self.store / self.version} in {time.monotonic() - started:.0f}s")

    def serve(self, stack: ExitStack) -> str:
        port = self.args.port
        if _port_taken(port):
            raise StepFailed("serve", self.logs / "serve.log", f"port {port} is already in use (try --port)")
        log = self.logs / "serve.log"
        self.say(f"2/5 starting the model server on http://127.0.0.1:{port} (log {log})")
        handle = stack.enter_context(open(log, "wb"))
        server = subprocess.Popen([sys.executable, "-m", "serving", "--http_port", str(port)], stdout=handle,
                                  stderr=subprocess.STDOUT,
                                  env={**os.environ, "STORAGE_URI": str(self.store), "MODEL_NAME": MODEL_NAME})
        stack.callback(self._stop, server)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise StepFailed("serve", log, f"the model server exited with status {server.returncode}")
            try:
                if httpx.get(f"{url}/v2/models/{MODEL_NAME}/ready", timeout=1).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise StepFailed("serve", log, "the model server was not ready after 180 s")

    @staticmethod
    def _stop(process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stream(self, url: str) -> dict:
        replay = Path(self.args.replay) if self.args.replay else self.results / f"replay-{self.args.tweets}.jsonl"
        if not replay.exists():
            self._run("replay", [sys.executable, "-m", "streamer.replay", "--count", str(self.args.tweets),
                                 "--out", str(replay)])
        self.settings_env = {"SOURCE": "replay", "REPLAY_FILE": str(replay), "MODEL_SERVER_URL": url,
                             "MODEL_NAME": MODEL_NAME, "HEALTH_PORT": str(_free_port()),
                             "SINK": os.environ.get("SINK", "sqlite"),
                             "SQLITE_PATH": os.environ.get("SQLITE_PATH", str(self.results / "results.sqlite"))}
        if self.settings_env["SINK"] == "sqlite" and "SQLITE_PATH" not in os.environ:
            for leftover in self.results.glob("results.sqlite*"):  # this run's results only (and -wal, -shm)
                leftover.unlink()
        if self.settings_env["SINK"] == "dynamodb":
            self._run("create-table", [sys.executable, "-m", "streamer", "create-table"], self.settings_env)
        self.say(f"3/5 streaming {replay.name} through the streamer into {self.settings_env['SINK']} "
                 f"(log {self.logs / 'stream.log'})")
        self._run("stream", [sys.executable, "-m", "streamer", "run"], self.settings_env)
        lines = (self.logs / "stream.log").read_text(errors="replace").splitlines()
        summaries = [json.loads(line) for line in lines if line.startswith('{"event": "stopped"')]
        if not summaries:
            raise StepFailed("stream", self.logs / "stream.log", "the streamer printed no summary")
        return summaries[-1]

    def report(self, summary: dict, url: str) -> None:
        from streamer.config import Settings
        from streamer.sinks import open_sink
        from twitter_sentiment.bundle import read_metadata
        from twitter_sentiment.report import label_mix, write_report

        sink = open_sink(Settings.from_env({**os.environ, **self.settings_env}))
        try:
            items = sink.items()
        finally:
            sink.close()
        evaluation = read_metadata(self.store / self.version).get("evaluation")
        mix = label_mix(items)
        rate = summary["received"] / max(summary.get("seconds") or 0, 1e-9)
        facts = {
            "tweets received": summary["received"], "stored": len(items), "rejected": summary.get("rejected", 0),
            "label mix": ", ".join(f"{k} {v} ({v / max(len(items), 1):.0%})" for k, v in sorted(mix.items())),
            "throughput": f"{rate:,.0f} tweets/s end to end", "model version": self.version,
            "held-out accuracy": f"{evaluation['model']['accuracy']:.4f} (TF-IDF reference "
                                 f"{evaluation['reference_tfidf']['accuracy']:.4f})" if evaluation else "n/a",
            "results": self.settings_env["SQLITE_PATH"] if self.settings_env["SINK"] == "sqlite" else
            f"DynamoDB table {os.environ.get('DYNAMODB_TABLE', 'twitter-sentiment-results')}",
        }
        page = write_report(self.results, items, evaluation, facts)
        self.say("4/5 summary")
        for key, value in facts.items():
            print(f"    {key:18} {value}")
        if self.settings_env["SINK"] == "sqlite":
            query = "SELECT sentiment, COUNT(*) FROM results GROUP BY sentiment"  # shown to the user, not run
            print(f"    query them:        sqlite3 {self.settings_env['SQLITE_PATH']} \"{query}\"")
        print(f"    call the model:    curl -s {url}/v1/models/{MODEL_NAME}:predict "
              "-d '{\"instances\": [\"I love this!\", \"worst day ever\"]}'")
        self.say(f"5/5 report: {page} (and {self.results / 'report.png'})")
        if len(items) < summary["received"]:
            raise StepFailed("stream", self.logs / "stream.log",
                             f"{summary['received']} tweets received but {len(items)} stored")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m quickstart", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset-uri", default=os.environ.get("DATASET_URI", "sample"))
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
    args = parser().parse_args(argv)
    args.train_args = [a for a in args.train_args if a != "--"]
    run = Run(args)
    started = time.monotonic()
    try:
        with ExitStack() as stack:
            run.train()
            url = run.serve(stack)
            summary = run.stream(url)
            run.report(summary, url)
            if args.keep_serving:
                run.say(f"the model server stays up at {url}; Ctrl-C stops it")
                try:
                    signal.pause()
                except KeyboardInterrupt:
                    pass
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
