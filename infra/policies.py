"""The three least-privilege IAM policy documents, one per application: the ONE source.

The CDK stack attaches them to the pods' IAM roles, and ``manifests/iam/*.json`` is generated
from here, never edited by hand:

    python -m infra.policies --write manifests/iam

How names are filled: every name comes from `infra.config.InfraConfig` (the same defaults the
stack uses). A bucket name's ``{account}`` and ``{region}`` fields, and the table ARN's region and
account, are written as ``${AWS_ACCOUNT_ID}`` and ``${AWS_REGION}``, so one deployment renders its
own copy with ``envsubst`` (or pass ``--account``/``--region``, and ``--dataset-bucket`` and the like
for names set at deploy time). Inside CDK they are the stack's own account and region.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from infra.config import InfraConfig

MODEL_PREFIX = "models/twitter-sentiment"  # MODEL_STORE_URI = s3://<model bucket>/models/twitter-sentiment
PIPELINE_ROOT_PREFIX = "kfp-artifacts"  # KFP's pipeline root: intermediate artifacts of training runs
APPLICATIONS = ("training", "predictor", "streamer", "ui")


@dataclass(frozen=True)
class Resources:
    """Where the applications' data lives: plain names, CDK tokens or ${PLACEHOLDERS}."""

    dataset_bucket: str
    model_bucket: str
    results_table: str
    region: str
    account: str
    partition: str = "aws"

    def bucket_arn(self, bucket: str, key: str | None = None) -> str:
        arn = f"arn:{self.partition}:s3:::{bucket}"
        return arn if key is None else f"{arn}/{key}"

    @property
    def results_table_arn(self) -> str:
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{self.results_table}"


def _statement(sid: str, actions: list[str], resources: list[str], condition: dict | None = None) -> dict:
    statement = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def _list_prefixes(res: Resources, sid: str, prefixes: list[str]) -> dict:
    # ListBucket is a bucket-level action: the prefix condition keeps it to the application's own keys.
    patterns = [p for prefix in prefixes for p in (prefix, f"{prefix}/*")]
    return _statement(sid, ["s3:ListBucket"], [res.bucket_arn(res.model_bucket)],
                      {"StringLike": {"s3:prefix": patterns}})


def _document(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def training_policy(res: Resources) -> dict:
    """Read the dataset bucket; publish model bundles; read and write the pipeline's artifacts; read the
    stored results (the monitor pipeline)."""
    return _document(
        _statement("ReadDataset", ["s3:GetObject"], [res.bucket_arn(res.dataset_bucket, "*")]),
        _statement("ListDataset", ["s3:ListBucket"], [res.bucket_arn(res.dataset_bucket)]),
        # Get too: export_model reads LATEST and checks that a version is not published twice.
        _statement("PublishModels", ["s3:GetObject", "s3:PutObject"],
                   [res.bucket_arn(res.model_bucket, f"{MODEL_PREFIX}/*")]),
        _statement("PipelineArtifacts", ["s3:GetObject", "s3:PutObject"],
                   [res.bucket_arn(res.model_bucket, f"{PIPELINE_ROOT_PREFIX}/*")]),
        _list_prefixes(res, "ListModelsAndArtifacts", [MODEL_PREFIX, PIPELINE_ROOT_PREFIX]),
        # The monitor pipeline runs under the same role (KFP's pipeline-runner) and scans the stored results.
        _statement("ReadResults", ["dynamodb:Scan"], [res.results_table_arn]),
    )


def predictor_policy(res: Resources) -> dict:
    """Read published model bundles, nothing else."""
    return _document(
        _statement("ReadModels", ["s3:GetObject"], [res.bucket_arn(res.model_bucket, f"{MODEL_PREFIX}/*")]),
        _list_prefixes(res, "ListModels", [MODEL_PREFIX]),
    )


def streamer_policy(res: Resources) -> dict:
    """Write result items (PutItem, BatchWriteItem) and describe the table for the health check."""
    return _document(
        _statement("WriteResults", ["dynamodb:BatchWriteItem", "dynamodb:PutItem"], [res.results_table_arn]),
        _statement("HealthCheck", ["dynamodb:DescribeTable"], [res.results_table_arn]),
    )


def ui_policy(res: Resources) -> dict:
    """The Kubeflow Pipelines UI reads run artifacts (the evaluation's Markdown report, metrics), nothing else."""
    return _document(
        _statement("ReadPipelineArtifacts", ["s3:GetObject"],
                   [res.bucket_arn(res.model_bucket, f"{PIPELINE_ROOT_PREFIX}/*")]),
        _list_prefixes(res, "ListPipelineArtifacts", [PIPELINE_ROOT_PREFIX]),
    )


POLICIES = {"training": training_policy, "predictor": predictor_policy, "streamer": streamer_policy,
            "ui": ui_policy}


def placeholder_resources(config: InfraConfig | None = None, *, account: str = "${AWS_ACCOUNT_ID}",
                          region: str = "${AWS_REGION}") -> Resources:
    """The configuration's names, with the deployment's account and region left as placeholders."""
    config = config or InfraConfig()
    return Resources(
        dataset_bucket=config.dataset_bucket.format(account=account, region=region),
        model_bucket=config.model_bucket.format(account=account, region=region),
        results_table=config.results_table,
        region=region,
        account=account,
    )


def render(res: Resources) -> dict[str, str]:
    """File name -> JSON text, the exact bytes committed under manifests/iam."""
    return {f"{app}.json": json.dumps(POLICIES[app](res), indent=2) + "\n" for app in APPLICATIONS}


def write(directory: Path, res: Resources) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render(res).items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.policies", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", type=Path, metavar="DIR",
                        help="write training.json, predictor.json, streamer.json there")
    parser.add_argument("--account", default="${AWS_ACCOUNT_ID}")
    parser.add_argument("--region", default="${AWS_REGION}")
    parser.add_argument("--dataset-bucket", help="default: the configuration's name pattern")
    parser.add_argument("--model-bucket", help="default: the configuration's name pattern")
    parser.add_argument("--results-table", help="default: the configuration's table name")
    args = parser.parse_args(argv)
    config = InfraConfig()
    overrides = {"dataset_bucket": args.dataset_bucket, "model_bucket": args.model_bucket,
                 "results_table": args.results_table}
    config = config.replace(**{k: v for k, v in overrides.items() if v})
    res = placeholder_resources(config, account=args.account, region=args.region)
    if args.write:
        for path in write(args.write, res):
            print(path)
    else:
        json.dump({app: POLICIES[app](res) for app in APPLICATIONS}, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
