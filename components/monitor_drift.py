from kfp import dsl
from kfp.dsl import HTML, Artifact, Markdown, Metrics, Output

from components.image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def monitor_drift(results_uri: str, model_store_uri: str, hours: float, window_end: str, psi_limit: float,
                  label_shift_limit: float, oov_increase_limit: float, rejected_rate_limit: float,
                  unscored_rate_limit: float, min_volume: int, retrain_on_drift: bool,
                  metrics: Output[Metrics], report: Output[Markdown], picture: Output[HTML],
                  drift: Output[Artifact]) -> bool:
    """Compare the last `hours` of stored results with the champion's evaluation profile: score PSI, label
    mix, out-of-vocabulary share, volume, REJECTED and UNSCORED rates. Returns whether to start a training
    run: drift was found and `retrain_on_drift` is set.

    Args:
        results_uri: `dynamodb://TABLE` or `sqlite:///PATH`.
        window_end: ISO 8601 end of the window; empty is now.
    """
    import json
    import tempfile

    from twitter_sentiment import drift as drifts
    from twitter_sentiment import logs

    logs.setup()
    limits = drifts.Limits(psi_limit, label_shift_limit, oov_increase_limit, rejected_rate_limit,
                           unscored_rate_limit, min_volume)
    with tempfile.TemporaryDirectory() as directory:
        result = drifts.monitor(results_uri, model_store_uri, hours, window_end, limits, directory)
    for name, value in drifts.metrics(result).items():
        metrics.log_metric(name, value)
    text = drifts.markdown(result, result["champion"])
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(text)
    with open(picture.path, "w", encoding="utf-8") as handle:
        handle.write(drifts.html_page(result, result["champion"]))
    with open(drift.path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(text)
    return bool(result["drifted"] and retrain_on_drift)
