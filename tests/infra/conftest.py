"""Synthesise the CDK app once per session: two stacks, the defaults and every option switched on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# jsii prints a banner on every import while Node 20 is past its end of support; the tests don't need it.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "111111111111", "us-east-1"  # a made-up account: nothing is deployed
# The AMIs `cdk synth` would have looked up once and pinned in cdk.context.json (made-up ids).
PINNED_AMIS = {"AL2023": "ami-0123456789abcdef0", "AL2023_NVIDIA": "ami-0fedcba9876543210"}

OPTIONS = {  # the optional features, and names given at deploy time instead of the defaults
    "gpu_worker": True,
    "results_ttl_attribute": "expires_at",
    "dataset_bucket": "my-tweets-{region}",
    "worker_count": 1,
}



@pytest.fixture(scope="session")
def synthesized():
    """{"default": (config, Template), "options": (config, Template)}, from one App."""
    aws_cdk = pytest.importorskip("aws_cdk", reason="aws-cdk-lib is missing (the project's infra extra)")
    from aws_cdk.assertions import Template

    from infra import cluster
    from infra.app import FEATURE_FLAGS
    from infra.config import InfraConfig
    from infra.stack import TwitterSentimentStack

    app = aws_cdk.App(context={
        **FEATURE_FLAGS,
        # What `cdk deploy` would have looked up and saved in cdk.context.json.
        f"availability-zones:account={ACCOUNT}:region={REGION}": [f"{REGION}a", f"{REGION}b"],
        **{f"ssm:account={ACCOUNT}:parameterName={getattr(cluster, name)}:region={REGION}": ami
           for name, ami in PINNED_AMIS.items()},
    })
    env = aws_cdk.Environment(account=ACCOUNT, region=REGION)
    configs = {"default": InfraConfig(), "options": InfraConfig().replace(**OPTIONS)}
    stacks = {name: TwitterSentimentStack(app, f"TwitterSentiment-{name}", config=config, env=env)
              for name, config in configs.items()}
    return {name: (configs[name], Template.from_stack(stack)) for name, stack in stacks.items()}


@pytest.fixture(scope="session")
def template(synthesized) -> dict:
    return synthesized["default"][1].to_json()


@pytest.fixture(scope="session")
def options_template(synthesized) -> dict:
    return synthesized["options"][1].to_json()


@pytest.fixture(scope="session")
def template_file(template, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cdk") / "TwitterSentiment.template.json"
    path.write_text(json.dumps(template, indent=1))
    return path
