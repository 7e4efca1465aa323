"""The CDK app: `cdk synth` / `cdk deploy` run this (see infra/cdk.json)."""

from __future__ import annotations

import os

from aws_cdk import App, Environment

from infra.config import InfraConfig
from infra.stack import TwitterSentimentStack

STACK_NAME = "TwitterSentiment"
FEATURE_FLAGS = {
    "@aws-cdk/core:validateAgainstDefaultRules": True,  # CDK's template checks fail synthesis, not warn
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,  # log delivery by bucket policy, not ACLs
}


def environment(app: App) -> Environment:
    """The target account and region: `-c account=… -c region=…`, else the CDK CLI's credentials."""
    account = app.node.try_get_context("account") or os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = app.node.try_get_context("region") or os.environ.get("CDK_DEFAULT_REGION")
    if not (account and region):
        # IAM trust conditions and bucket names are built from them; they cannot stay placeholders.
        raise SystemExit("No AWS account and region: run with credentials, or pass "
                         "-c account=123456789012 -c region=eu-west-1 to synthesise offline.")
    return Environment(account=str(account), region=str(region))


def build(context: dict | None = None) -> tuple[App, TwitterSentimentStack]:
    app = App(context={**FEATURE_FLAGS, **(context or {})})
    config = InfraConfig.load(app.node.try_get_context)
    stack = TwitterSentimentStack(app, STACK_NAME, config=config, env=environment(app))
    return app, stack


if __name__ == "__main__":
    build()[0].synth()
