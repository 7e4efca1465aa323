"""CLI for the training pipeline: compile, run-local, upload, schedule.

    python -m pipelines run-local                 # the whole pipeline on this machine, embedded sample
    python -m pipelines compile -o pipeline.yaml
    python -m pipelines upload --host $KFP_HOST --version v1.2.0
    python -m pipelines schedule --host $KFP_HOST --cron "0 0 2 * * *"
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import inspect
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from pydantic import Field, field_validator

from twitter_sentiment.contract import MODEL_NAME
from twitter_sentiment.settings import ConfigError, Settings, load
from twitter_sentiment.storage import StorageError, is_s3, split_s3

EXIT_FAILED, EXIT_USAGE, EXIT_GATE = 1, 2, 3


class PipelineSettings(Settings):
    """The environment this CLI reads (docs/configuration.md); flags override each."""

    dataset_uri: str | None = None
    model_store_uri: str | None = None
    kfp_host: str | None = Field(None, pattern=r"^https?://\S+$")
    ci_commit_tag: str | None = None

    @field_validator("dataset_uri", "model_store_uri")
    @classmethod
    def _s3_names_a_bucket(cls, uri: str | None) -> str | None:
        if uri and is_s3(uri):
            try:
                split_s3(uri)
            except StorageError as error:
                raise ValueError(str(error)) from None
        return uri


def _pipeline_parameters() -> dict[str, inspect.Parameter]:
    from pipelines.training import training_pipeline

    return dict(inspect.signature(training_pipeline.pipeline_func).parameters)


def _parse_params(pairs: list[str]) -> dict:
    """`name=value` pairs, each parsed strictly by its parameter's type (`ture` is no bool)."""
    from pydantic import TypeAdapter, ValidationError

    parameters, params = _pipeline_parameters(), {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or name not in parameters:
            raise ConfigError(f"--param {pair!r}: expected NAME=VALUE with NAME one of {', '.join(parameters)}")
        try:
            params[name] = TypeAdapter(parameters[name].annotation).validate_python(text)
        except ValidationError as error:
            why = error.errors(include_url=False)[0]["msg"]
            raise ConfigError(f"--param {name}={text!r}: {why}") from None
    return params


def _preset_params(name: str) -> dict:
    from twitter_sentiment.classifier import preset

    parameters = _pipeline_parameters()
    return {k: v for k, v in dataclasses.asdict(preset(name)).items() if k in parameters and k != "seed"}


def cmd_compile(args) -> int:
    from kfp import compiler

    from pipelines.training import build

    overrides = {k: v for k, v in (("model_store_uri", args.model_store_uri), ("dataset_uri", args.dataset_uri)) if v}
    compiler.Compiler().compile(build(gpu=args.gpu), args.output, pipeline_parameters=overrides or None)
    print(f"compiled {args.output}")
    return 0


def cmd_run_local(args) -> int:
    import warnings

    from kfp import local

    from pipelines.training import PIPELINE_NAME, training_pipeline

    # Resource requests and display names matter on a cluster; kfp.local says so once per step.
    warnings.filterwarnings("ignore", message=".*have no effect in the current local runner")
    # Locally the steps run in this venv, which has what the components image has: by design.
    warnings.filterwarnings("ignore", message=".*custom or non-Python base image")
    from twitter_sentiment.store import ModelStore

    artifacts = Path(args.artifacts).resolve()
    store_uri = args.model_store if args.model_store.startswith("s3://") else str(Path(args.model_store).resolve())
    params = {"dataset_uri": args.dataset_uri, "model_store_uri": store_uri, "sample_rows": args.sample_rows,
              **_preset_params(args.preset), **_parse_params(args.param)}
    if args.min_accuracy is not None:
        params["min_accuracy"] = args.min_accuracy
    store = ModelStore(store_uri)
    before = store.latest()
    print(f"run-local: artifacts under {artifacts}, model store {store_uri}", flush=True)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(artifacts))
    started = time.monotonic()
    try:
        training_pipeline(**params)
    except Exception as error:  # kfp.local raises when a task fails; its log is above
        print(f"error: the training pipeline failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    seconds = time.monotonic() - started
    return _summarise(artifacts, PIPELINE_NAME, store, before, seconds)


def _summarise(artifacts: Path, pipeline_name: str, store, before: str | None, seconds: float) -> int:
    runs = sorted(glob.glob(str(artifacts / f"{pipeline_name}-*")), key=os.path.getmtime)
    evaluation_files = glob.glob(os.path.join(runs[-1], "evaluate", "evaluation")) if runs else []
    result = json.loads(Path(evaluation_files[0]).read_text()) if evaluation_files else None
    print(f"\nrun-local finished in {seconds:.0f}s; artifacts: {runs[-1] if runs else artifacts}")
    if result:
        m, r = result["model"], result["reference_tfidf"]
        print(f"evaluation on {m['examples']} held-out tweets: accuracy {m['accuracy']:.4f} (TF-IDF reference "
              f"{r['accuracy']:.4f}), F1 {m['f1']:.4f}, ROC AUC {m['roc_auc']:.4f}, "
              f"NEUTRAL band {m['neutral_share']:.1%}")
        print(f"report: {os.path.join(runs[-1], 'evaluate', 'report')}")
    latest = store.latest()
    if latest and latest != before:
        print(f"published bundle: {store.version_uri(latest)} (LATEST -> {latest})")
        return 0
    gate = f" {result['model']['accuracy']:.4f} < min_accuracy {result['min_accuracy']}" if result else ""
    print(f"error: the model failed the accuracy gate{gate}: nothing was published", file=sys.stderr)
    return EXIT_GATE


def cmd_upload(args) -> int:
    from pipelines import kfp_server
    from pipelines.training import PIPELINE_NAME

    with tempfile.TemporaryDirectory() as tmp:
        package = args.package or os.path.join(tmp, "pipeline.yaml")
        if not args.package:
            cmd_compile(argparse.Namespace(output=package, gpu=args.gpu, model_store_uri=args.model_store_uri,
                                           dataset_uri=args.dataset_uri))
        client = kfp_server.connect(args.host)
        pipeline_id, version_id = kfp_server.upload(client, package, args.pipeline_name or PIPELINE_NAME, args.version)
    print(f"uploaded pipeline {pipeline_id} version {version_id}")
    return 0


def cmd_schedule(args) -> int:
    from pipelines import cron, kfp_server
    from pipelines.training import PIPELINE_NAME

    expression = cron.validate(args.cron)
    client = kfp_server.connect(args.host)
    run_id = kfp_server.schedule(client, args.pipeline_name or PIPELINE_NAME, args.experiment, args.name,
                                 expression, _parse_params(args.param))
    print(f"recurring run {args.name} ({run_id}): {expression}")
    return 0


def parser(env: PipelineSettings | None = None) -> argparse.ArgumentParser:
    env = env or PipelineSettings()
    main = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = main.add_subparsers(dest="command", required=True)

    def pipeline_options(p):
        p.add_argument("--gpu", action="store_true", help="request one NVIDIA GPU for the classifier step")
        p.add_argument("--model-store-uri", default=env.model_store_uri,
                       help="default model_store_uri baked into the pipeline (env MODEL_STORE_URI)")
        p.add_argument("--dataset-uri", default=env.dataset_uri,
                       help="default dataset_uri baked into the pipeline (env DATASET_URI)")

    p = sub.add_parser("compile", help="write the pipeline as KFP YAML")
    p.add_argument("-o", "--output", default="pipeline.yaml")
    pipeline_options(p)
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("run-local", help="run the whole pipeline here with kfp.local")
    p.add_argument("--dataset-uri", default=env.dataset_uri or "sample")
    p.add_argument("--model-store", default=env.model_store_uri or "model-store",
                   help="local directory or s3:// URI to publish to (default ./model-store)")
    p.add_argument("--artifacts", default="artifacts", help="pipeline root for step artifacts (default ./artifacts)")
    p.add_argument("--sample-rows", type=int, default=0, help="train on a random slice of this many rows")
    p.add_argument("--preset", default="default", help="classifier preset: default or original (the notebook's)")
    p.add_argument("--min-accuracy", type=float, default=None)
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="any pipeline parameter")
    p.set_defaults(func=cmd_run_local)

    p = sub.add_parser("upload", help="upload the pipeline as a new version to a KFP server")
    p.add_argument("--host", default=env.kfp_host, help="Kubeflow Pipelines API endpoint (env KFP_HOST)")
    p.add_argument("--version", default=env.ci_commit_tag or time.strftime("%Y%m%d-%H%M%S"))
    p.add_argument("--package", help="a compiled YAML (default: compile now)")
    p.add_argument("--pipeline-name")
    pipeline_options(p)
    p.set_defaults(func=cmd_upload)

    p = sub.add_parser("schedule", help="create or replace the recurring training run")
    p.add_argument("--host", default=env.kfp_host, help="Kubeflow Pipelines API endpoint (env KFP_HOST)")
    p.add_argument("--cron", default="0 0 2 * * *", help="six fields, seconds first (default: 02:00 daily)")
    p.add_argument("--experiment", default=MODEL_NAME)
    p.add_argument("--name", default=f"{MODEL_NAME}-daily")
    p.add_argument("--pipeline-name")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.set_defaults(func=cmd_schedule)
    return main


def main(argv: list[str] | None = None) -> int:
    from pipelines.cron import CronError
    from pipelines.kfp_server import KfpError
    from twitter_sentiment import logs

    logs.setup()
    try:
        args = parser(load(PipelineSettings)).parse_args(argv)
        if hasattr(args, "host") and not args.host:
            raise ConfigError("KFP_HOST is not set (or pass --host): the Kubeflow Pipelines API endpoint")
        return args.func(args)
    except (ConfigError, StorageError, KfpError) as error:  # one sentence, no traceback
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (CronError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE

if __name__ == "__main__":
    sys.exit(main())
