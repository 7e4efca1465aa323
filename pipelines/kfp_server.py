"""Talking to a Kubeflow Pipelines server: upload a pipeline version, start a run, create or replace a schedule.

CI reaches KFP without a public endpoint: with no host, the client talks to the `ml-pipeline` Service through
the Kubernetes API server's service proxy, with the kubeconfig context's token (the GitLab agent's in CI).
kfp.Client(kube_context=...) means to do that, but in the pinned set (kfp 2.17, kubernetes 30.1) the
kubeconfig loader's refresh hook resets the host to the bare API server before every request, so the
calls miss the proxy path: `connect` builds the proxied host and passes the token itself.
"""

from __future__ import annotations

import logging
import os
import time

from twitter_sentiment.retrain import latest_version_id

log = logging.getLogger(__name__)


class KfpError(RuntimeError):
    """The KFP server could not be reached or refused the request; the message says which."""


# The Service's HTTP port through the API server's proxy: kfp 2.17 kfp/client/client.py Client._KUBE_PROXY_PATH.
KUBE_PROXY_PATH = "api/v1/namespaces/{namespace}/services/ml-pipeline:http/proxy"


def proxied_endpoint(kube_context: str | None, namespace: str = "kubeflow") -> tuple[str, str | None, str | None]:
    """(host, bearer token, CA file) of KFP behind `kube_context`'s API server, from the kubeconfig."""
    from kubernetes import client as kube_client
    from kubernetes import config as kube_config

    settings = kube_client.Configuration()
    # KUBECONFIG as it is now (the client library reads it once, at import).
    kube_config.load_kube_config(config_file=os.environ.get("KUBECONFIG"), client_configuration=settings,
                                 context=kube_context)
    scheme, _, token = settings.api_key.get("authorization", "").partition(" ")
    token = token.strip() if scheme == "Bearer" else None  # client certificates and basic auth: no token
    host = f"{settings.host.rstrip('/')}/{KUBE_PROXY_PATH.format(namespace=namespace)}"
    return host, token or None, settings.ssl_ca_cert


def _client(host: str | None, kube_context: str | None):
    import kfp

    if host:
        return kfp.Client(host=host)
    proxied, token, ca_file = proxied_endpoint(kube_context)
    if token is None:
        raise KfpError(f"kube context {kube_context or '(current)'} has no bearer token (a client certificate?): "
                       "forward the ml-pipeline Service and pass --host instead")
    return kfp.Client(host=proxied, existing_token=token, ssl_ca_cert=ca_file)


def connect(host: str | None, client_factory=None, kube_context: str | None = None):
    """A client of `host`, or with no host, of the ml-pipeline Service through `kube_context`'s API server."""
    factory = client_factory or (lambda h: _client(h, kube_context))
    where = host or f"the ml-pipeline Service through kube context {kube_context or '(current)'}"
    try:
        client = factory(host)
        client.list_experiments(page_size=1)  # fail here, with the host named, not deep inside a later call
    except KfpError:
        raise
    except Exception as error:
        raise KfpError(f"cannot reach Kubeflow Pipelines at {where}: {_reason(error)}") from error
    return client


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def upload(client, package_path: str, pipeline_name: str, version_name: str) -> tuple[str, str]:
    """Upload `package_path` as a new version of `pipeline_name` (creating the pipeline the first time).

    Returns (pipeline_id, version_id).
    """
    try:
        pipeline_id = client.get_pipeline_id(pipeline_name)
        if pipeline_id is None:
            pipeline = client.upload_pipeline(package_path, pipeline_name=pipeline_name)
            pipeline_id = pipeline.pipeline_id
            log.info("created pipeline %s (%s)", pipeline_name, pipeline_id)
        version = client.upload_pipeline_version(package_path, pipeline_version_name=version_name,
                                                 pipeline_id=pipeline_id)
    except Exception as error:
        raise KfpError(f"uploading {pipeline_name} version {version_name} failed: {_reason(error)}") from error
    log.info("uploaded %s version %s (%s)", pipeline_name, version_name, version.pipeline_version_id)
    return pipeline_id, version.pipeline_version_id


def run_name(dataset_uri: str, code_version: str) -> str:
    """What a run is called in the Kubeflow UI: which data, which code, and when."""
    dataset = os.path.basename(dataset_uri.rstrip("/")) or dataset_uri
    return f"{dataset} @ {code_version} {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}"


def run_description(dataset_uri: str, code_version: str) -> str:
    """The run's metadata, shown on its details page and kept by the KFP API."""
    return f"dataset_uri: {dataset_uri}\ncode_version: {code_version}"


def _newest_version(client, pipeline_name: str, experiment: str) -> tuple[str, str, str]:
    """The pipeline's id, its newest version's id and the experiment's id (the experiment is made if new)."""
    pipeline_id = client.get_pipeline_id(pipeline_name)
    if pipeline_id is None:
        raise KfpError(f"no pipeline named {pipeline_name}: run `upload` first")
    return pipeline_id, latest_version_id(client, pipeline_id), client.create_experiment(experiment).experiment_id


def start_run(client, pipeline_name: str, experiment: str, dataset_uri: str, code_version: str,
              params: dict) -> str:
    """Start one run of the newest version of `pipeline_name` in `experiment`, named and described."""
    import kfp_server_api

    try:
        pipeline_id, version_id, experiment_id = _newest_version(client, pipeline_name, experiment)
        # kfp.Client.run_pipeline takes no description (kfp 2.17): build the v2beta1 Run it would, with one.
        run = kfp_server_api.V2beta1Run(
            experiment_id=experiment_id, display_name=run_name(dataset_uri, code_version),
            description=run_description(dataset_uri, code_version),
            pipeline_version_reference=kfp_server_api.V2beta1PipelineVersionReference(
                pipeline_id=pipeline_id, pipeline_version_id=version_id),
            runtime_config=kfp_server_api.V2beta1RuntimeConfig(parameters={"dataset_uri": dataset_uri, **params}))
        created = client._run_api.run_service_create_run(run=run)
    except KfpError:
        raise
    except Exception as error:
        raise KfpError(f"starting a run of {pipeline_name} failed: {_reason(error)}") from error
    return created.run_id


def schedule(client, pipeline_name: str, experiment: str, job_name: str, cron: str, params: dict,
             description: str | None = None) -> str:
    """Create the recurring run `job_name`, replacing one of that name: running this twice leaves one schedule."""
    try:
        pipeline_id, version_id, experiment_id = _newest_version(client, pipeline_name, experiment)
        existing = client.list_recurring_runs(experiment_id=experiment_id, page_size=100).recurring_runs or []
        for run in existing:  # "daily: data @ v1" replaces "daily: data @ v0": the part before ":" is the key
            if run.display_name.split(":")[0] == job_name.split(":")[0]:
                client.delete_recurring_run(run.recurring_run_id)
                log.info("replaced recurring run %s (%s)", job_name, run.recurring_run_id)
        created = client.create_recurring_run(
            experiment_id=experiment_id, job_name=job_name, cron_expression=cron, pipeline_id=pipeline_id,
            version_id=version_id, params=params, max_concurrency=1, no_catchup=True, description=description)
    except KfpError:
        raise
    except Exception as error:
        raise KfpError(f"scheduling {job_name} failed: {_reason(error)}") from error
    return created.recurring_run_id
