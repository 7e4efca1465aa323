"""The monitor pipeline (recurring): the stream's last hours against the champion → report → [drift] → retrain."""

from kfp import dsl

from components import monitor_drift, start_training
from pipelines.training import PIPELINE_NAME as TRAINING_PIPELINE
from pipelines.training import _on_cluster
from twitter_sentiment.contract import RESULTS_TABLE
from twitter_sentiment.drift import Limits

PIPELINE_NAME = "twitter-sentiment-monitor"
LIMITS = Limits()  # the parameters' defaults


@dsl.pipeline(name=PIPELINE_NAME, description="Drift of the stored results against the champion's evaluation; "
                                              "optionally starts a training run.")
def monitor_pipeline(
    results_uri: str = f"dynamodb://{RESULTS_TABLE}",
    model_store_uri: str = "s3://twitter-sentiment-models/models/twitter-sentiment",
    hours: float = 24.0,
    window_end: str = "",
    psi_limit: float = LIMITS.psi,
    label_shift_limit: float = LIMITS.label_shift,
    oov_increase_limit: float = LIMITS.oov_increase,
    rejected_rate_limit: float = LIMITS.rejected_rate,
    unscored_rate_limit: float = LIMITS.unscored_rate,
    min_volume: int = LIMITS.min_volume,
    retrain_on_drift: bool = False,
    kfp_host: str = "",
    training_pipeline: str = TRAINING_PIPELINE,
    experiment: str = "twitter-sentiment",
    training_params: dict = {},  # noqa: B006 (a KFP parameter default, never mutated)
):
    monitored = monitor_drift(
        results_uri=results_uri, model_store_uri=model_store_uri, hours=hours, window_end=window_end,
        psi_limit=psi_limit, label_shift_limit=label_shift_limit, oov_increase_limit=oov_increase_limit,
        rejected_rate_limit=rejected_rate_limit, unscored_rate_limit=unscored_rate_limit, min_volume=min_volume,
        retrain_on_drift=retrain_on_drift)
    monitored.set_display_name("Drift vs the champion").set_caching_options(False)  # every run reads a new window
    _on_cluster(monitored, "monitor-drift", s3=True)
    with dsl.If(monitored.outputs["Output"] == True, name="retrain-on-drift"):  # noqa: E712 (a KFP condition)
        started = start_training(kfp_host=kfp_host, pipeline_name=training_pipeline, experiment=experiment,
                                 training_params=training_params)
        started.set_display_name("Start a training run").set_caching_options(False)
        _on_cluster(started, "start-training")
