from kfp import dsl
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, Input, Markdown, Metrics, Model, Output

from components.image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def evaluate(bundle: Input[Model], train: Input[Dataset], test: Input[Dataset], min_accuracy: float,
             metrics: Output[Metrics], classification: Output[ClassificationMetrics], report: Output[Markdown],
             evaluation: Output[Artifact]) -> bool:
    """Score the model and a TF-IDF reference on the test split; the Kubeflow UI draws the confusion
    matrix and ROC curve. Returns whether the model passes the gate (accuracy >= min_accuracy).

    A single return value (output `Output`), because kfp.local resolves only that form in a dsl.If.

    Args:
        bundle: The unpublished model bundle train_classifier wrote.
        train: The training split, for the TF-IDF reference model.
        test: The held-out test split both models are scored on.
        min_accuracy: The gate: the model passes if its test accuracy reaches this.

    Returns:
        metrics: Accuracy, F1, ROC AUC and the NEUTRAL band's share, the model's and the reference's.
        classification: Confusion matrix and ROC curve, drawn by the Kubeflow UI.
        report: The evaluation as a Markdown report (the run's Visualizations tab).
        evaluation: The whole evaluation as JSON, which export_model stores in the bundle's metadata.
        Output: Whether the model passed the gate (accuracy >= min_accuracy); the pipeline's dsl.If reads it.
    """
    import json

    from twitter_sentiment import logs, training

    logs.setup()
    result = training.evaluate(bundle.path, train.path, test.path, min_accuracy)
    for name, value in result["model"].items():
        metrics.log_metric(name, value)
    for name, value in result["reference_tfidf"].items():
        metrics.log_metric(f"tfidf_{name}", value)
    classification.log_confusion_matrix(["NEGATIVE", "POSITIVE"], result["confusion_matrix"])
    classification.log_roc_curve(result["roc"]["fpr"], result["roc"]["tpr"], result["roc"]["thresholds"])
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(result["report_markdown"])
    with open(evaluation.path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(result["report_markdown"])
    return result["passed"]
