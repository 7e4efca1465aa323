"""Starting a training run through the Kubeflow Pipelines API, when the monitor finds drift.

`client` is a `kfp.Client` (the component makes it; the core imports no kfp).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

log = logging.getLogger(__name__)


class RetrainError(RuntimeError):
    """The training pipeline could not be started; the message says why."""


def latest_version_id(client, pipeline_id: str) -> str:
    versions = client.list_pipeline_versions(pipeline_id=pipeline_id, page_size=1, sort_by="created_at desc")
    if not versions.pipeline_versions:
        raise RetrainError(f"pipeline {pipeline_id} has no version: upload one first")
    return versions.pipeline_versions[0].pipeline_version_id


def start_training_run(client, pipeline_name: str, experiment: str, reason: str, params: dict) -> str:
    """Run the newest version of the uploaded `pipeline_name` in `experiment`; returns the run id."""
    pipeline_id = client.get_pipeline_id(pipeline_name)
    if pipeline_id is None:
        raise RetrainError(f"no pipeline named {pipeline_name} on the KFP server: upload it first")
    version_id = latest_version_id(client, pipeline_id)
    experiment_id = client.create_experiment(experiment).experiment_id  # returns the existing one
    job_name = f"{reason}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    run = client.run_pipeline(experiment_id=experiment_id, job_name=job_name, pipeline_id=pipeline_id,
                              version_id=version_id, params=params)
    log.info("started training run %s (%s) of %s", job_name, run.run_id, pipeline_name)
    return run.run_id
