"""Deploy-time settings of the AWS side: CDK context first (`cdk deploy -c workerCount=3`), then the
environment (`WORKER_COUNT=3 cdk deploy`), then the defaults below, which deploy as they are.

The project's one settings mechanism (`twitter_sentiment.settings`): typed fields, and an error
that names the variable (or the context key's variable)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import Field

from twitter_sentiment.contract import RESULTS_TABLE
from twitter_sentiment.settings import Settings, load

SERVICE_ACCOUNT = r"^[a-z0-9-]+:[a-z0-9-]+$"  # namespace:serviceaccount
_ENV_NAMES = {"results_table": "DYNAMODB_TABLE"}  # the name the streamer already reads


class InfraConfig(Settings):
    # Bucket names are global: {account} and {region} keep the defaults unique per deployment.
    dataset_bucket: str = "twitter-sentiment-datasets-{account}-{region}"
    model_bucket: str = "twitter-sentiment-models-{account}-{region}"
    oidc_bucket: str = "twitter-sentiment-oidc-{account}-{region}"  # the cluster's token issuer
    results_table: str = RESULTS_TABLE  # DYNAMODB_TABLE in docs/configuration.md
    results_ttl_attribute: str = ""  # empty: result items never expire
    control_plane_instance_type: str = "t3.medium"
    worker_instance_type: str = "t3.large"
    worker_count: int = Field(2, ge=1)
    gpu_worker: bool = False  # one extra node for training, billed only while it exists
    gpu_instance_type: str = "g4dn.xlarge"
    k3s_version: str = "v1.33.6+k3s1"  # the pinned Kubernetes distribution
    # namespace:serviceaccount of each application's pods (the IAM roles trust exactly these).
    training_service_account: str = Field("kubeflow:pipeline-runner", pattern=SERVICE_ACCOUNT)
    predictor_service_account: str = Field("twitter-sentiment:twitter-sentiment-predictor", pattern=SERVICE_ACCOUNT)
    streamer_service_account: str = Field("twitter-sentiment:twitter-sentiment-streamer", pattern=SERVICE_ACCOUNT)
    # The KFP UI's server reads run artifacts from S3.
    ui_service_account: str = Field("kubeflow:ml-pipeline-ui", pattern=SERVICE_ACCOUNT)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **sources):
        return (init_settings,)  # `InfraConfig()` is the defaults; `load` alone reads context and environment

    def replace(self, **changes: Any) -> InfraConfig:
        return type(self).model_validate({**self.model_dump(), **changes})

    @classmethod
    def load(cls, context: Callable[[str], Any] = lambda key: None,
             environ: Mapping[str, str] = os.environ) -> InfraConfig:
        """Each field from context key `camelCase`, else env var `UPPER_SNAKE`, else the default."""
        env = {name.upper(): environ[_ENV_NAMES[name]] for name in _ENV_NAMES if _ENV_NAMES[name] in environ}
        env.update({k: v for k, v in environ.items() if k.upper() in {n.upper() for n in cls.model_fields}})
        contexts = {name: context(_camel(name)) for name in cls.model_fields}
        return load(cls, env, **{name: value for name, value in contexts.items() if value is not None})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def service_account(value: str) -> tuple[str, str]:
    namespace, name = value.split(":")
    return namespace, name
