from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components.image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def train_classifier(train: Input[Dataset], validation: Input[Dataset], vectors: Input[Model],
                     dataset_uri: str, dataset_fingerprint: str,
                     sequence_length: int, units: int, recurrent_dropout: float, dropout: float,
                     trainable_embedding: bool, bidirectional: bool, balanced: bool, batch_size: int, epochs: int,
                     learning_rate: float,
                     patience: int, max_words: int, negative_max: float, positive_min: float, seed: int,
                     bundle: Output[Model], training_metrics: Output[Metrics]):
    """Train the Keras classifier from the Word2vec vectors (early stopping on validation loss) and
    write an unpublished model bundle."""
    from twitter_sentiment import logs, training
    from twitter_sentiment.bundle import Thresholds
    from twitter_sentiment.classifier import ClassifierParams

    logs.setup()
    params = ClassifierParams(sequence_length=sequence_length, units=units, recurrent_dropout=recurrent_dropout,
                              dropout=dropout, trainable_embedding=trainable_embedding,
                              bidirectional=bidirectional, balanced=balanced, batch_size=batch_size,
                              epochs=epochs, learning_rate=learning_rate, patience=patience, seed=seed)
    summary = training.classifier(
        train.path, validation.path, vectors.path, bundle.path, params, max_words,
        Thresholds(negative_max, positive_min),
        metadata={"dataset": {"uri": dataset_uri, "fingerprint": dataset_fingerprint},
                  "word2vec": dict(vectors.metadata)})
    for name, value in summary.items():
        training_metrics.log_metric(name, value)
    bundle.metadata.update({"framework": "keras", **params.as_dict()})
