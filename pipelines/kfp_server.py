"""Talking to a Kubeflow Pipelines server: upload a pipeline version, create or replace a schedule."""

from __future__ import annotations

import logging

from twitter_sentiment.retrain import latest_version_id

log = logging.getLogger(__name__)


class KfpError(RuntimeError):
    """The KFP server could not be reached or refused the request; the message says which."""


def connect(host: str, client_factory=None):
    import kfp

    factory = client_factory or (lambda h: kfp.Client(host=h))
    try:
        client = factory(host)
        client.list_experiments(page_size=1)  # fail here, with the host named, not deep inside a later call
    except Exception as error:
        raise KfpError(f"cannot reach Kubeflow Pipelines at {host}: {_reason(error)}") from error
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


def schedule(client, pipeline_name: str, experiment: str, job_name: str, cron: str, params: dict) -> str:
    """Create the recurring run `job_name`, replacing one of that name: running this twice leaves one schedule."""
    try:
        pipeline_id = client.get_pipeline_id(pipeline_name)
        if pipeline_id is None:
            raise KfpError(f"no pipeline named {pipeline_name}: run `upload` first")
        version_id = latest_version_id(client, pipeline_id)
        experiment_id = client.create_experiment(experiment).experiment_id  # returns the existing one
        existing = client.list_recurring_runs(experiment_id=experiment_id, page_size=100).recurring_runs or []
        for run in existing:
            if run.display_name == job_name:
                client.delete_recurring_run(run.recurring_run_id)
                log.info("replaced recurring run %s (%s)", job_name, run.recurring_run_id)
        created = client.create_recurring_run(
            experiment_id=experiment_id, job_name=job_name, cron_expression=cron, pipeline_id=pipeline_id,
            version_id=version_id, params=params, max_concurrency=1, no_catchup=True)
    except KfpError:
        raise
    except Exception as error:
        raise KfpError(f"scheduling {job_name} failed: {_reason(error)}") from error
    return created.recurring_run_id
