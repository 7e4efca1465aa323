"""CLI for the training and monitor pipelines and the model store's versions.

    python -m pipelines run-local                 # the whole pipeline on this machine, embedded sample
    python -m pipelines compile -o pipeline.yaml
    python -m pipelines upload --version v1.2.0
    python -m pipelines schedule --version v1.2.0 --cron "0 0 2 * * *"
    python -m pipelines monitor-local --results sqlite:///results/results.sqlite
    python -m pipelines compile --pipeline monitor -o monitor.yaml   # and upload/schedule --pipeline monitor
    python -m pipelines versions list|show V|compare A B|promote V|rollback|latest [--store URI]
    python -m pipelines run --version v1.2.0 --dataset-uri s3://bucket/sentiment140.csv

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

from pydantic import Field, field_validator

from twitter_sentiment.contract import EXPERIMENT, MODEL_NAME
from twitter_sentiment.settings import ConfigError, Settings, load
from twitter_sentiment.storage import StorageError, is_s3, split_s3

EXIT_FAILED, EXIT_USAGE, EXIT_GATE = 1, 2, 3


class PipelineSettings(Settings):
    """The environment this CLI reads (docs/configuration.md); flags override each."""

    dataset_uri: str | None = None
    model_store_uri: str | None = None
    public_test_uri: str | None = None
    kfp_host: str | None = Field(None, pattern=r"^https?://\S+$")
    kube_context: str | None = None
    ci_commit_tag: str | None = None
    results_uri: str = "sqlite:///results/results.sqlite"

    @field_validator("dataset_uri", "model_store_uri", "public_test_uri")
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


def _parse_params(pairs: list[str], parameters: dict[str, inspect.Parameter] | None = None) -> dict:
    """`name=value` pairs, each parsed strictly by its parameter's type (`ture` is no bool); the
    training pipeline's parameters unless others are given."""
    from pydantic import TypeAdapter, ValidationError

    parameters, params = parameters or _pipeline_parameters(), {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or name not in parameters:
            raise ConfigError(f"--param {pair!r}: expected NAME=VALUE with NAME one of {', '.join(parameters)}")
        try:
            adapter = TypeAdapter(parameters[name].annotation)
            params[name] = (adapter.validate_json(text) if parameters[name].annotation in (dict, "dict")
                            else adapter.validate_python(text))
        except ValidationError as error:
            why = error.errors(include_url=False)[0]["msg"]
            raise ConfigError(f"--param {name}={text!r}: {why}") from None
    return params


def _preset_params(name: str) -> dict:
    from twitter_sentiment.classifier import preset

    parameters = _pipeline_parameters()
    return {k: v for k, v in dataclasses.asdict(preset(name)).items() if k in parameters and k != "seed"}


def _pipeline(args):
    """(pipeline function, name) that --pipeline names."""
    if getattr(args, "pipeline", "training") == "monitor":
        from pipelines.monitor import PIPELINE_NAME, monitor_pipeline

        return monitor_pipeline, PIPELINE_NAME
    from pipelines.training import PIPELINE_NAME, build

    return build(gpu=args.gpu), PIPELINE_NAME


def _refuse_placeholders(args) -> None:
    """A compiled pipeline must name the image CI pushed and the bucket infra/ created, not a placeholder."""
    from components import image

    if image.COMPONENT_IMAGE == image.DEFAULT_IMAGE:
        raise SystemExit("error: COMPONENT_IMAGE is not set: set it to the components image CI pushed "
                         "($CI_REGISTRY_IMAGE/components@sha256:…, pull_image's output) before compiling.")
    if getattr(args, "gpu", False) and image.COMPONENT_GPU_IMAGE == image.DEFAULT_GPU_IMAGE:
        raise SystemExit("error: COMPONENT_GPU_IMAGE is not set: set it to the components-gpu image CI pushed "
                         "before compiling with --gpu.")
    if not args.model_store_uri:
        raise SystemExit("error: MODEL_STORE_URI is not set: pass --model-store-uri or set MODEL_STORE_URI to "
                         "the stack's ModelStoreUri output (s3://<model bucket>/models/twitter-sentiment).")


def cmd_compile(args) -> int:
    from kfp import compiler

    _refuse_placeholders(args)
    overrides = {k: v for k, v in (("model_store_uri", args.model_store_uri), ("dataset_uri", args.dataset_uri),
                                   ("public_test_uri", args.public_test_uri)) if v}
    if getattr(args, "pipeline", "training") == "monitor":
        overrides.pop("dataset_uri", None)  # the monitor reads results, not a dataset
        overrides.pop("public_test_uri", None)
    compiler.Compiler().compile(_pipeline(args)[0], args.output, pipeline_parameters=overrides or None)
    print(f"compiled {args.output}")
    return 0


def _local(args) -> tuple[Path, str]:
    """kfp.local, set to run the steps in this venv under --artifacts; returns that folder and --model-store's URI."""
    import warnings

    from kfp import local

    # Resource requests and display names matter on a cluster; kfp.local says so once per step.
    warnings.filterwarnings("ignore", message=".*have no effect in the current local runner")
    # Locally the steps run in this venv, which has what the components image has: by design.
    warnings.filterwarnings("ignore", message=".*custom or non-Python base image")
    artifacts = Path(args.artifacts).resolve()
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(artifacts))
    store = args.model_store
    return artifacts, store if store.startswith("s3://") else str(Path(store).resolve())


def _run_locally(pipeline, name: str, params: dict, artifacts: Path) -> Path | None:
    """The run's folder under `artifacts`, or None when a step failed."""
    try:
        pipeline(**params)
    except Exception as error:  # kfp.local raises when a task fails; its log is above
        print(f"error: the {name} pipeline failed: {error}", file=sys.stderr)
        return None
    return Path(max(glob.glob(str(artifacts / f"{pipeline.name}-*")), key=os.path.getmtime))


def cmd_run_local(args) -> int:
    from pipelines.training import training_pipeline
    from twitter_sentiment.store import ModelStore

    artifacts, store_uri = _local(args)
    params = {"dataset_uri": args.dataset_uri, "model_store_uri": store_uri, "sample_rows": args.sample_rows,
              **_preset_params(args.preset), **_parse_params(args.param)}
    if args.min_accuracy is not None:
        params["min_accuracy"] = args.min_accuracy
    store = ModelStore(store_uri)
    before = store.latest()
    print(f"run-local: artifacts under {artifacts}, model store {store_uri}", flush=True)
    started = time.monotonic()
    run = _run_locally(training_pipeline, "training", params, artifacts)
    return EXIT_FAILED if run is None else _summarise(run, store, before, time.monotonic() - started)


def _summarise(run: Path, store, before: str | None, seconds: float) -> int:
    evaluation = run / "evaluate" / "evaluation"
    result = json.loads(evaluation.read_text()) if evaluation.exists() else None
    print(f"\nrun-local finished in {seconds:.0f}s; artifacts: {run}")
    if result:
        m, r = result["model"], result["reference_tfidf"]["scores"]["held_out"]
        print(f"evaluation on {m['examples']} held-out tweets: accuracy {m['accuracy']:.4f} (TF-IDF reference "
              f"{r['accuracy']:.4f}), F1 {m['f1']:.4f}, ROC AUC {m['roc_auc']:.4f}, "
              f"NEUTRAL band {m['neutral_share']:.1%}")
        print(f"report: {run / 'evaluate' / 'report'}")
    decision = (result or {}).get("decision") or {}
    if decision:
        print(f"champion/challenger: {decision['reason']}")
    latest = store.latest()
    if latest and latest != before:
        print(f"published bundle: {store.version_uri(latest)} (LATEST -> {latest})")
        return 0
    if decision.get("verdict") == "champion_kept":  # a refused challenger is a successful run
        print(f"nothing was published: {latest} stays the champion")
        return 0
    if decision.get("verdict") == "floor_failed":
        print(f"error: the model failed the accuracy gate ({decision['reason']}): nothing was published",
              file=sys.stderr)
    else:
        print(f"error: nothing was published: {decision.get('reason', 'the evaluation was not found')}",
              file=sys.stderr)
    return EXIT_GATE


def cmd_upload(args) -> int:
    from pipelines import kfp_server

    with tempfile.TemporaryDirectory() as tmp:
        package = args.package or os.path.join(tmp, "pipeline.yaml")
        if not args.package:
            cmd_compile(argparse.Namespace(output=package, gpu=args.gpu, model_store_uri=args.model_store_uri,
                                           dataset_uri=args.dataset_uri, public_test_uri=args.public_test_uri,
                                           pipeline=args.pipeline))
        client = kfp_server.connect(args.host, kube_context=args.kube_context)
        name = args.pipeline_name or _pipeline_name(args.pipeline)
        pipeline_id, version_id = kfp_server.upload(client, package, name, args.version)
    print(f"uploaded pipeline {pipeline_id} version {version_id}")
    return 0


def _dataset_uri(args, params: dict) -> str:
    return params.get("dataset_uri") or args.dataset_uri or _pipeline_parameters()["dataset_uri"].default


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

    expression = cron.validate(args.cron)
    monitor = args.pipeline == "monitor"
    params = _parse_monitor_params(args.param) if monitor else _parse_params(args.param)
    name = args.name or (f"{MODEL_NAME}-monitor" if monitor else f"{MODEL_NAME}-daily")
    description = None
    if not monitor:  # the runs it starts are listed under this name: which data, which code
        dataset_uri = _dataset_uri(args, params)
        name = f"{name}: {os.path.basename(dataset_uri.rstrip('/')) or dataset_uri} @ {args.version}"
        description = kfp_server.run_description(dataset_uri, args.version)
    client = kfp_server.connect(args.host, kube_context=args.kube_context)
    run_id = kfp_server.schedule(client, args.pipeline_name or _pipeline_name(args.pipeline), args.experiment,
                                 name, expression, params, description)
    print(f"recurring run {name} ({run_id}): {expression}")
    return 0


def _pipeline_name(pipeline: str) -> str:
    from pipelines.monitor import PIPELINE_NAME as MONITOR
    from pipelines.training import PIPELINE_NAME as TRAINING

    return MONITOR if pipeline == "monitor" else TRAINING


def _parse_monitor_params(pairs: list[str]) -> dict:
    from pipelines.monitor import monitor_pipeline

    return _parse_params(pairs, dict(inspect.signature(monitor_pipeline.pipeline_func).parameters))


def cmd_monitor_local(args) -> int:
    """The monitor pipeline under kfp.local: its report, and whether it would start a training run."""
    from pipelines.monitor import monitor_pipeline

    artifacts, store_uri = _local(args)
    params = {"results_uri": args.results, "model_store_uri": store_uri, "hours": args.hours,
              "window_end": args.window_end, **_parse_monitor_params(args.param)}
    run = _run_locally(monitor_pipeline, "monitor", params, artifacts)
    if run is None:
        return EXIT_FAILED
    result = json.loads((run / "monitor-drift" / "drift").read_text())
    print(f"monitor: {result['status']} ({result['volume']} results, champion {result['champion']}); "
          f"report {run / 'monitor-drift' / 'report'}, picture {run / 'monitor-drift' / 'picture'}")
    return 0


def cmd_versions(args) -> int:
    """The model store's versions: the logic is `twitter_sentiment.store`; this prints it."""
    from twitter_sentiment.store import ModelStore

    store = ModelStore(args.store)
    if args.action == "latest":
        version = store.latest()
        if version is None:
            print(f"error: {args.store} has no LATEST: nothing was published there", file=sys.stderr)
            return EXIT_FAILED
        print(store.version_uri(version) if args.uri else version)
        return 0
    if args.action == "list":
        latest = store.latest()
        rows = [store.summary(version, latest) for version in store.versions()]
        _print(rows, args.json, ["version", "champion", "created", "accuracy", "public_accuracy", "roc_auc",
                                 "dataset_fingerprint", "code_version"])
    elif args.action == "show":
        _print(store.summary(args.version), args.json)
    elif args.action == "compare":
        _print(store.compare(args.version, args.other), args.json, ["name", args.version, args.other, "difference"])
    elif args.action == "history":
        _print(store.history(), args.json, ["time", "action", "version", "previous"])
    else:
        before = store.latest()
        version = store.promote(args.version) if args.action == "promote" else store.rollback()
        print(f"{args.action}: LATEST of {args.store} now names {version} (was {before}); "
              "retry the deploy job to serve it")
    return 0


def _print(data, as_json: bool, columns: list[str] | None = None) -> None:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    if isinstance(data, dict):
        for key, value in data.items():
            print(f"{key:22} {_text(value)}")
        return
    table = [[_text(row.get(column)) for column in columns] for row in data]
    widths = [max([len(column), *(len(row[i]) for row in table)]) for i, column in enumerate(columns)]
    for row in [columns, *table]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if value is True:
        return "*"
    return "" if value in (None, False) else str(value)


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
        p.add_argument("--public-test-uri", default=env.public_test_uri,
                       help="default public_test_uri baked into the pipeline (env PUBLIC_TEST_URI): every run, "
                            "scheduled ones too, also compares challenger and champion on this fixed set")

    def which_pipeline(p):
        p.add_argument("--pipeline", choices=("training", "monitor"), default="training")

    p = sub.add_parser("compile", help="write the pipeline as KFP YAML")
    p.add_argument("-o", "--output", default="pipeline.yaml")
    pipeline_options(p)
    which_pipeline(p)
    p.set_defaults(func=cmd_compile)

    def local_options(p):
        p.add_argument("--model-store", default=env.model_store_uri or "model-store",
                       help="local directory or s3:// URI (env MODEL_STORE_URI; default ./model-store)")
        p.add_argument("--artifacts", default="artifacts", help="the steps' artifacts (default ./artifacts)")
        p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="any pipeline parameter")

    p = sub.add_parser("run-local", help="run the whole pipeline here with kfp.local")
    local_options(p)
    p.add_argument("--dataset-uri", default=env.dataset_uri or "sample")
    p.add_argument("--sample-rows", type=int, default=0, help="train on a random slice of this many rows")
    p.add_argument("--preset", default="default",
                   help="classifier preset: default, or original (the notebook's classifier and training settings; "
                        "its cleaning and stopwords are bench.training's)")
    p.add_argument("--min-accuracy", type=float, default=None)
    p.set_defaults(func=cmd_run_local)

    def server_options(p):
        p.add_argument("--host", default=env.kfp_host,
                       help="KFP's URL (env KFP_HOST); default: through the Kubernetes API server of --kube-context")
        p.add_argument("--kube-context", default=env.kube_context,
                       help="kubeconfig context (env KUBE_CONTEXT; CI: the GitLab agent's); default: the current one")
        p.add_argument("--version", default=env.ci_commit_tag or time.strftime("%Y%m%d-%H%M%S"),
                       help="the code version: the pipeline version's name (default $CI_COMMIT_TAG)")
        p.add_argument("--pipeline-name", help="the pipeline's name on the server (default: the one it compiles to)")

    p = sub.add_parser("upload", help="upload the pipeline as a new version to a KFP server")
    server_options(p)
    p.add_argument("--package", help="a compiled YAML (default: compile now)")
    pipeline_options(p)
    which_pipeline(p)
    p.set_defaults(func=cmd_upload)

    p = sub.add_parser("run", help="start one training run of the newest uploaded version, in the experiment")
    server_options(p)
    p.add_argument("--dataset-uri", default=env.dataset_uri)
    p.add_argument("--experiment", default=EXPERIMENT)
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("schedule", help="create or replace the recurring training run")
    server_options(p)
    p.add_argument("--dataset-uri", default=env.dataset_uri)
    p.add_argument("--cron", default="0 0 2 * * *", help="six fields, seconds first (default: 02:00 daily)")
    p.add_argument("--experiment", default=EXPERIMENT)
    p.add_argument("--name", default=None, help=f"default {MODEL_NAME}-daily (monitor: {MODEL_NAME}-monitor)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    which_pipeline(p)
    p.set_defaults(func=cmd_schedule)

    p = sub.add_parser("monitor-local", help="run the monitor pipeline here with kfp.local")
    local_options(p)
    p.add_argument("--results", default=env.results_uri, help="dynamodb://TABLE or sqlite:///PATH (env RESULTS_URI)")
    p.add_argument("--hours", type=float, default=24.0, help="the window: this many hours before its end")
    p.add_argument("--window-end", default="", help="ISO 8601 end of the window (default: now)")
    p.set_defaults(func=cmd_monitor_local)

    p = sub.add_parser("versions", help="list, show, compare, promote and roll back the store's model versions")
    p.add_argument("--store", default=env.model_store_uri or "model-store",
                   help="the model store: a local directory or s3:// URI (env MODEL_STORE_URI)")
    p.add_argument("--json", action="store_true", help="print JSON")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every version: metrics, dataset fingerprint, code version, date")
    actions.add_parser("show", help="one version").add_argument("version")
    compare = actions.add_parser("compare", help="two versions side by side")
    compare.add_argument("version")
    compare.add_argument("other")
    actions.add_parser("promote", help="make a version the champion (writes LATEST)").add_argument("version")
    actions.add_parser("rollback", help="make the previous champion the champion again")
    actions.add_parser("history", help="every change of LATEST")
    latest = actions.add_parser("latest", help="the champion's version (what the deploy serves)")
    latest.add_argument("--uri", action="store_true", help="print its URI, <store>/<version>/")
    p.set_defaults(func=cmd_versions)
    return main


def main(argv: list[str] | None = None) -> int:
    from pipelines.cron import CronError
    from pipelines.kfp_server import KfpError
    from twitter_sentiment import logs
    from twitter_sentiment.bundle import BundleError
    from twitter_sentiment.storage import StorageError

    logs.setup()
    try:
        args = parser(load(PipelineSettings)).parse_args(argv)
        return args.func(args)
    except (ConfigError, StorageError, KfpError, BundleError) as error:  # one sentence, no traceback
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (CronError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE

if __name__ == "__main__":
    sys.exit(main())
