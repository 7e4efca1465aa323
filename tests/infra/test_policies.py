"""manifests/iam is what infra/policies.py generates, and each document is least privilege."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from infra import policies
from infra.config import InfraConfig
from tests.infra.conftest import ROOT

COMMITTED = ROOT / "manifests" / "iam"


def test_committed_policy_files_equal_the_generated_ones():
    rendered = policies.render(policies.placeholder_resources())
    for name, text in rendered.items():
        assert (COMMITTED / name).read_text(encoding="utf-8") == text, (
            f"manifests/iam/{name} is stale: run `python -m infra.policies --write manifests/iam`")
    assert sorted(p.name for p in COMMITTED.glob("*.json")) == sorted(rendered)


def test_the_cli_writes_the_same_files(tmp_path):
    assert policies.main(["--write", str(tmp_path)]) == 0
    for name in policies.render(policies.placeholder_resources()):
        assert (tmp_path / name).read_bytes() == (COMMITTED / name).read_bytes()


def test_rendered_for_a_deployment_with_envsubst():
    env = {**os.environ, "AWS_ACCOUNT_ID": "123456789012", "AWS_REGION": "eu-west-1"}
    try:
        out = subprocess.run(["envsubst"], input=(COMMITTED / "streamer.json").read_text(), env=env,
                             capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        pytest.skip("envsubst (gettext) is not installed")
    document = json.loads(out)
    assert document["Statement"][0]["Resource"] == [
        "arn:aws:dynamodb:eu-west-1:123456789012:table/twitter-sentiment-results"]


RES = policies.placeholder_resources(InfraConfig(), account="123456789012", region="eu-west-1")
DATASETS = "arn:aws:s3:::twitter-sentiment-datasets-123456789012-eu-west-1"
MODELS = "arn:aws:s3:::twitter-sentiment-models-123456789012-eu-west-1"


def grants(document: dict) -> set[tuple[str, str]]:
    return {(a, r) for s in document["Statement"] for a in s["Action"] for r in s["Resource"]}


def test_training_reads_the_dataset_and_writes_only_under_its_prefixes():
    got = grants(policies.training_policy(RES))
    assert ("s3:GetObject", f"{DATASETS}/*") in got
    writes = {r for a, r in got if a == "s3:PutObject"}
    assert writes == {f"{MODELS}/models/twitter-sentiment/*", f"{MODELS}/kfp-artifacts/*"}
    assert not any(r.startswith(DATASETS) for a, r in got if a == "s3:PutObject")


def test_predictor_only_reads_models():
    got = grants(policies.predictor_policy(RES))
    assert {a for a, _ in got} == {"s3:GetObject", "s3:ListBucket"}
    assert ("s3:GetObject", f"{MODELS}/models/twitter-sentiment/*") in got
    [listing] = [s for s in policies.predictor_policy(RES)["Statement"] if s["Action"] == ["s3:ListBucket"]]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["models/twitter-sentiment",
                                                                 "models/twitter-sentiment/*"]}}


def test_streamer_writes_results_and_describes_the_table_only():
    table = "arn:aws:dynamodb:eu-west-1:123456789012:table/twitter-sentiment-results"
    assert grants(policies.streamer_policy(RES)) == {
        ("dynamodb:BatchWriteItem", table), ("dynamodb:PutItem", table), ("dynamodb:DescribeTable", table)}


@pytest.mark.parametrize("app", policies.APPLICATIONS)
def test_no_wildcard_action_and_no_delete(app):
    for action, resource in grants(policies.POLICIES[app](RES)):
        assert "*" not in action and "Delete" not in action
        assert resource != "*"


def test_the_pipelines_ui_reads_only_run_artifacts():
    """KFP 2.17's UI server fetches an artifact itself (frontend/server/minio-helper.ts): with no keys and an
    AWS S3 endpoint it takes credentials from the AWS provider chain, which includes IRSA's web identity.
    It needs to read the pipeline root, and nothing else."""
    got = grants(policies.ui_policy(RES))
    assert got == {("s3:GetObject", f"{MODELS}/kfp-artifacts/*"), ("s3:ListBucket", MODELS)}
    [listing] = [s for s in policies.ui_policy(RES)["Statement"] if s["Action"] == ["s3:ListBucket"]]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["kfp-artifacts", "kfp-artifacts/*"]}}
