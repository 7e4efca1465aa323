from kfp import dsl
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, Input, Markdown, Metrics, Model, Output

from components.image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def evaluate(bundle: Input[Model], train: Input[Dataset], test: Input[Dataset], min_accuracy: float,
             metrics: Output[Metrics], classification: Output[ClassificationMetrics], report: Output[Markdown],
             evaluation: Output[Artifact]) -> bool:
    """Score the model and a TF-IDF reference on the test split; the Kubeflow UI draws the confusion
    matrix and ROC curve. Returns whether the model passes the gate (accuracy >= min_accuracy).

    A single return value (output `Output`), because kfp.local resolves only that form in a dsl.If."""
    import json

    from twitter_sentiment import logs, training
    from twitter_sentiment.contract import BINARY_LABELS

    logs.setup()
    result = training.evaluate(bundle.path, train.path, test.path, min_accuracy)
    for name, value in result["model"].items():
        metrics.log_metric(name, value)
    for name, value in result["reference_tfidf"].items():
        metrics.log_metric(f"tfidf_{name}", value)
    classification.log_confusion_matrix(list(BINARY_LABELS), result["confusion_matrix"])
    classification.log_roc_curve(result["roc"]["fpr"], result["roc"]["tpr"], result["roc"]["thresholds"])
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(result["report_markdown"])
    with open(evaluation.path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(result["report_markdown"])
    return result["passed"]
