from kfp import dsl
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, Input, Markdown, Metrics, Model, Output

from components.image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def evaluate(bundle: Input[Model], train: Input[Dataset], validation: Input[Dataset], test: Input[Dataset],
             min_accuracy: float,
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
        bundle: The unpublished model bundle train_classifier wrote (the challenger).
        train: The training split, for the TF-IDF reference model.
        validation: The validation split, on which the reference's regularisation C is chosen.
        test: The held-out test split both models are scored on.
        min_accuracy: The floor for a first model, when there is no comparable champion.
        model_store_uri: The store whose LATEST is the champion (empty: no champion).
        public_test_uri: sentiment140's hand-labelled test CSV (S3 or local); empty skips it, with a warning.
        tolerance: How much lower than the champion's the challenger's accuracy may be, on each set.
        force: Publish whatever the comparison says; the report records it.

    Returns:
        metrics: The challenger's accuracy, F1, ROC AUC and NEUTRAL share, and the reference's (reference_*).
        classification: The challenger's confusion matrix and ROC curve, drawn by the Kubeflow UI.
        champion_metrics: The same figures for the champion, when there is one.
        champion_classification: The champion's confusion matrix and ROC curve.
        report: The comparison as a Markdown report (the run's Visualizations tab).
        evaluation: The whole evaluation as JSON, which export_model stores in the bundle's metadata.
        Output: Whether to publish the challenger; the pipeline's dsl.If reads it.
    """
    import json

    from twitter_sentiment import logs, training
    from twitter_sentiment.contract import BINARY_LABELS

    logs.setup()
    result = training.evaluate(bundle.path, train.path, validation.path, test.path, min_accuracy, model_store_uri,
                               public_test_uri, tolerance, force)
    champion = result["champion"]
    for output, scores in ((metrics, result["scores"]), (champion_metrics, champion["scores"])):
        for set_name, values in scores.items():
            for name, value in values.items():
                output.log_metric(name if set_name == "held_out" else f"{set_name}_{name}", value)
    for set_name, values in result["reference_tfidf"]["scores"].items():
        for name, value in values.items():
            metrics.log_metric(f"reference_{name}" if set_name == "held_out" else f"reference_{set_name}_{name}",
                               value)
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
