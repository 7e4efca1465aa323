"""Deploy-time settings of the AWS side: CDK context first (`cdk deploy -c workerCount=3`), then the
environment (`WORKER_COUNT=3 cdk deploy`), then the defaults below, which deploy as they are."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InfraConfig:
    # Bucket names are global: {account} and {region} keep the defaults unique per deployment.
    dataset_bucket: str = "twitter-sentiment-datasets-{account}-{region}"
    model_bucket: str = "twitter-sentiment-models-{account}-{region}"
    oidc_bucket: str = "twitter-sentiment-oidc-{account}-{region}"  # the cluster's token issuer
    results_table: str = "twitter-sentiment-results"  # DYNAMODB_TABLE in docs/configuration.md
    results_ttl_attribute: str = ""  # empty: result items never expire
    control_plane_instance_type: str = "t3.medium"
    worker_instance_type: str = "t3.large"
    worker_count: int = 2
    gpu_worker: bool = False  # one extra node for training, billed only while it exists
    gpu_instance_type: str = "g4dn.xlarge"
    k3s_version: str = "v1.33.6+k3s1"  # the pinned Kubernetes distribution
    # namespace:serviceaccount of each application's pods (the IAM roles trust exactly these).
    training_service_account: str = "kubeflow:pipeline-runner"
    predictor_service_account: str = "twitter-sentiment:twitter-sentiment-predictor"
    streamer_service_account: str = "twitter-sentiment:twitter-sentiment-streamer"
    ui_service_account: str = "kubeflow:ml-pipeline-ui"  # the KFP UI's server reads run artifacts from S3

    def replace(self, **changes: Any) -> InfraConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def load(cls, context: Callable[[str], Any] = lambda key: None,
             environ: Mapping[str, str] = os.environ) -> InfraConfig:
        """Each field from context key `camelCase`, else env var `UPPER_SNAKE`, else the default."""
        values = {}
        for field in dataclasses.fields(cls):
            raw = context(_camel(field.name))
            if raw is None:
                raw = environ.get(_env_name(field.name))
            if raw is not None:
                values[field.name] = _coerce(raw, field.type, field.name)
        return cls(**values)


_ENV_NAMES = {"results_table": "DYNAMODB_TABLE"}  # the name the streamer already reads


def _env_name(name: str) -> str:
    return _ENV_NAMES.get(name, name.upper())


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def _coerce(raw: Any, kind: str, name: str) -> Any:
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("1", "true", "yes", "on"):
            return True
        if str(raw).lower() in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{name}: expected true or false, got {raw!r}")
    if kind == "int":
        return int(raw)
    value = str(raw)
    if name.endswith("_service_account") and not re.fullmatch(r"[a-z0-9-]+:[a-z0-9-]+", value):
        raise ValueError(f"{name}: expected namespace:serviceaccount, got {value!r}")
    return value


def service_account(value: str) -> tuple[str, str]:
    namespace, name = value.split(":")
    return namespace, name
