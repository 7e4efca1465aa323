"""CLI for the training pipeline: compile, run-local, upload, schedule.

    python -m pipelines run-local                 # the whole pipeline on this machine, embedded sample
    python -m pipelines compile -o pipeline.yaml
    python -m pipelines upload --version v1.2.0
    python -m pipelines run --version v1.2.0 --dataset-uri s3://bucket/sentiment140.csv
    python -m pipelines schedule --version v1.2.0 --cron "0 0 2 * * *"

upload, run and schedule reach KFP at --host (KFP_HOST), or with no host through the Kubernetes API
server of --kube-context (KUBE_CONTEXT; the GitLab agent's context in CI): no public endpoint needed.
compile needs COMPONENT_IMAGE (the components image CI built) and MODEL_STORE_URI (the stack's
ModelStoreUri output): a pipeline compiled without them would run an image nobody pushed.
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

EXIT_FAILED, EXIT_USAGE, EXIT_GATE = 1, 2, 3


def _pipeline_defaults() -> dict:
    from pipelines.training import training_pipeline

    return {name: p.default for name, p in inspect.signature(training_pipeline.pipeline_func).parameters.items()}


def _parse_params(pairs: list[str]) -> dict:
    """`name=value` pairs, typed like the pipeline's own parameters."""
    defaults, params = _pipeline_defaults(), {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or name not in defaults:
            raise SystemExit(f"error: --param {pair!r}: expected NAME=VALUE with NAME one of {', '.join(defaults)}")
        kind = type(defaults[name])
        try:
            params[name] = (text.lower() in ("1", "true", "yes")) if kind is bool else kind(text)
        except ValueError:
            raise SystemExit(f"error: --param {pair!r}: {name} must be a {kind.__name__}") from None
    return params


def _preset_params(name: str) -> dict:
    from twitter_sentiment.classifier import preset

    defaults = _pipeline_defaults()
    return {k: v for k, v in dataclasses.asdict(preset(name)).items() if k in defaults and k != "seed"}


def _refuse_placeholders(args) -> None:
    """A compiled pipeline must name the image CI pushed and the bucket infra/ created, not a placeholder."""
    from components import image

    if image.COMPONENT_IMAGE == image.DEFAULT_IMAGE:
        raise SystemExit("error: COMPONENT_IMAGE is not set: set it to the components image CI pushed "
                         "($CI_REGISTRY_IMAGE/components@sha256:…, pull_image's output) before compiling.")
    if not args.model_store_uri:
        raise SystemExit("error: MODEL_STORE_URI is not set: pass --model-store-uri or set MODEL_STORE_URI to "
                         "the stack's ModelStoreUri output (s3://<model bucket>/models/twitter-sentiment).")


def cmd_compile(args) -> int:
    from kfp import compiler

    from pipelines.training import build

    _refuse_placeholders(args)
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
        client = kfp_server.connect(args.host, kube_context=args.kube_context)
        pipeline_id, version_id = kfp_server.upload(client, package, args.pipeline_name or PIPELINE_NAME, args.version)
    print(f"uploaded pipeline {pipeline_id} version {version_id}")
    return 0


def _dataset_uri(args, params: dict) -> str:
    return params.get("dataset_uri") or args.dataset_uri or _pipeline_defaults()["dataset_uri"]


def cmd_run(args) -> int:
    from pipelines import kfp_server
    from pipelines.training import PIPELINE_NAME

    params = _parse_params(args.param)
    dataset_uri = _dataset_uri(args, params)
    client = kfp_server.connect(args.host, kube_context=args.kube_context)
    run_id = kfp_server.start_run(client, args.pipeline_name or PIPELINE_NAME, args.experiment, dataset_uri,
                                  args.version, params)
    print(f"run {kfp_server.run_name(dataset_uri, args.version)} ({run_id}) in experiment {args.experiment}")
    return 0


def cmd_schedule(args) -> int:
    from pipelines import cron, kfp_server
    from pipelines.training import PIPELINE_NAME

    expression = cron.validate(args.cron)
    params = _parse_params(args.param)
    dataset_uri = _dataset_uri(args, params)
    # The runs it starts are listed under this name: which data, which code.
    job_name = f"{args.name}: {os.path.basename(dataset_uri.rstrip('/')) or dataset_uri} @ {args.version}"
    client = kfp_server.connect(args.host, kube_context=args.kube_context)
    run_id = kfp_server.schedule(client, args.pipeline_name or PIPELINE_NAME, args.experiment, job_name,
                                 expression, params, kfp_server.run_description(dataset_uri, args.version))
    print(f"recurring run {job_name} ({run_id}): {expression}")
    return 0


def parser() -> argparse.ArgumentParser:
    from pipelines.training import EXPERIMENT

    main = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = main.add_subparsers(dest="command", required=True)

    def pipeline_options(p):
        p.add_argument("--gpu", action="store_true", help="request one NVIDIA GPU for the classifier step")
        p.add_argument("--model-store-uri", default=os.environ.get("MODEL_STORE_URI"),
                       help="default model_store_uri baked into the pipeline (env MODEL_STORE_URI)")
        p.add_argument("--dataset-uri", default=os.environ.get("DATASET_URI"),
                       help="default dataset_uri baked into the pipeline (env DATASET_URI)")

    p = sub.add_parser("compile", help="write the pipeline as KFP YAML")
    p.add_argument("-o", "--output", default="pipeline.yaml")
    pipeline_options(p)
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("run-local", help="run the whole pipeline here with kfp.local")
    p.add_argument("--dataset-uri", default=os.environ.get("DATASET_URI", "sample"))
    p.add_argument("--model-store", default=os.environ.get("MODEL_STORE_URI", "model-store"),
                   help="local directory or s3:// URI to publish to (default ./model-store)")
    p.add_argument("--artifacts", default="artifacts", help="pipeline root for step artifacts (default ./artifacts)")
    p.add_argument("--sample-rows", type=int, default=0, help="train on a random slice of this many rows")
    p.add_argument("--preset", default="default", help="classifier preset: default or original (the notebook's)")
    p.add_argument("--min-accuracy", type=float, default=None)
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="any pipeline parameter")
    p.set_defaults(func=cmd_run_local)

    def server_options(p):
        p.add_argument("--host", default=os.environ.get("KFP_HOST"),
                       help="KFP's URL (env KFP_HOST); default: through the Kubernetes API server of --kube-context")
        p.add_argument("--kube-context", default=os.environ.get("KUBE_CONTEXT"),
                       help="kubeconfig context (env KUBE_CONTEXT; CI: the GitLab agent's); default: the current one")
        p.add_argument("--version", default=os.environ.get("CI_COMMIT_TAG") or time.strftime("%Y%m%d-%H%M%S"),
                       help="the code version: the pipeline version's name (default $CI_COMMIT_TAG)")

    p = sub.add_parser("upload", help="upload the pipeline as a new version to a KFP server")
    server_options(p)
    p.add_argument("--package", help="a compiled YAML (default: compile now)")
    p.add_argument("--pipeline-name")
    pipeline_options(p)
    p.set_defaults(func=cmd_upload)

    p = sub.add_parser("run", help="start one training run of the newest uploaded version, in the experiment")
    server_options(p)
    p.add_argument("--dataset-uri", default=os.environ.get("DATASET_URI"))
    p.add_argument("--experiment", default=EXPERIMENT)
    p.add_argument("--pipeline-name")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("schedule", help="create or replace the recurring training run")
    server_options(p)
    p.add_argument("--dataset-uri", default=os.environ.get("DATASET_URI"))
    p.add_argument("--cron", default="0 0 2 * * *", help="six fields, seconds first (default: 02:00 daily)")
    p.add_argument("--experiment", default=EXPERIMENT)
    p.add_argument("--name", default="twitter-sentiment-daily")
    p.add_argument("--pipeline-name")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.set_defaults(func=cmd_schedule)
    return main


def main(argv: list[str] | None = None) -> int:
    from pipelines.cron import CronError
    from pipelines.kfp_server import KfpError
    from twitter_sentiment import logs

    logs.setup()
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (CronError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KfpError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
