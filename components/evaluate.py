from kfp import dsl
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, Input, Markdown, Metrics, Model, Output

from components.image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def evaluate(bundle: Input[Model], train: Input[Dataset], test: Input[Dataset], min_accuracy: float,
             model_store_uri: str, public_test_uri: str, tolerance: float, force: bool,
             metrics: Output[Metrics], classification: Output[ClassificationMetrics],
             champion_metrics: Output[Metrics], champion_classification: Output[ClassificationMetrics],
             report: Output[Markdown], evaluation: Output[Artifact]) -> bool:
    """Score the new model (the challenger), the store's LATEST model (the champion) and a TF-IDF reference
    on the held-out split and the public set; the Kubeflow UI shows both models side by side. Returns
    whether to publish: the challenger is not worse than the champion by more than `tolerance` on each
    set, or, with no comparable champion, reaches `min_accuracy`; `force` publishes regardless.

    A single return value (output `Output`), because kfp.local resolves only that form in a dsl.If.

    Args:
        model_store_uri: the store whose LATEST is the champion (empty: no champion).
        public_test_uri: sentiment140's hand-labelled test CSV (S3 or local); empty skips it, with a warning.
    """
    import json

    from twitter_sentiment import logs, training
    from twitter_sentiment.contract import BINARY_LABELS

    logs.setup()
    result = training.evaluate(bundle.path, train.path, test.path, min_accuracy, model_store_uri, public_test_uri,
                               tolerance, force)
    champion = result["champion"]
    for output, scores in ((metrics, result["scores"]), (champion_metrics, champion["scores"])):
        for set_name, values in scores.items():
            for name, value in values.items():
                output.log_metric(name if set_name == "held_out" else f"{set_name}_{name}", value)
    for name, value in result["reference_tfidf"].items():
        metrics.log_metric(f"tfidf_{name}", value)
    metrics.log_metric("published", float(result["passed"]))
    champion_metrics.log_metric("compared", float(bool(champion["scores"])))
    for output, matrix, roc in ((classification, result["confusion_matrix"], result["roc"]),
                                (champion_classification, champion["confusion_matrix"], champion["roc"])):
        if matrix:
            output.log_confusion_matrix(list(BINARY_LABELS), matrix)
            output.log_roc_curve(roc["fpr"], roc["tpr"], roc["thresholds"])
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(result["report_markdown"])
    with open(evaluation.path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(result["report_markdown"])
    return result["passed"]
