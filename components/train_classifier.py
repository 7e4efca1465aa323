from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components.image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def train_classifier(train: Input[Dataset], validation: Input[Dataset], vectors: Input[Model],
                     dataset_uri: str, dataset_fingerprint: str,
                     sequence_length: int, units: int, recurrent_dropout: float, dropout: float,
                     trainable_embedding: bool, bidirectional: bool, balanced: bool, batch_size: int, epochs: int,
                     learning_rate: float, patience: int, monitor: str, reduce_lr_patience: int,
                     length_aware: bool, lexicon_weight: float, max_words: int,
                     negative_max: float, positive_min: float, seed: int,
                     bundle: Output[Model], training_metrics: Output[Metrics]):
    """Train the Keras classifier from the Word2vec vectors (early stopping on validation loss) and
    write an unpublished model bundle.

    Args:
        train: The training split.
        validation: The validation split, for early stopping.
        vectors: train_word2vec's vectors, the embedding's initial weights.
        dataset_uri: Where the data came from, recorded in the bundle's metadata.
        dataset_fingerprint: The data's SHA-256, recorded in the bundle's metadata.
        sequence_length: Words per tweet the classifier reads; longer tweets are cut, shorter padded.
        units: Units of the LSTM layer.
        recurrent_dropout: LSTM recurrent dropout; above 0 it disables the fast cuDNN kernel.
        dropout: Dropout before the output layer.
        trainable_embedding: Fine-tune the word vectors while training.
        bidirectional: Use a bidirectional LSTM.
        balanced: Weight the classes so that each counts equally in the loss.
        batch_size: Tweets per training step.
        epochs: Most passes over the training split; early stopping may end sooner.
        learning_rate: Adam's learning rate.
        patience: Epochs early stopping waits for a better `monitor`.
        monitor: val_loss or val_accuracy, for early stopping.
        reduce_lr_patience: Epochs without a better validation loss before the learning rate drops tenfold (0: never).
        length_aware: Mask the padding and batch tweets of similar length.
        lexicon_weight: The sentiment lexicon column's weight in the embedding; 0 leaves it out.
        max_words: Vocabulary size kept, most frequent first; 0 keeps every word.
        negative_max: A score at or below this is NEGATIVE (stored in the bundle).
        positive_min: A score at or above this is POSITIVE; between is NEUTRAL.
        seed: Seed of Keras and the shuffling.

    Returns:
        bundle: The unpublished model bundle: model, vocabulary, metadata.
        training_metrics: Epochs run, final losses and accuracies.
    """
    from twitter_sentiment import logs, training
    from twitter_sentiment.bundle import Thresholds
    from twitter_sentiment.classifier import ClassifierParams

    logs.setup()
    params = ClassifierParams(sequence_length=sequence_length, units=units, recurrent_dropout=recurrent_dropout,
                              dropout=dropout, trainable_embedding=trainable_embedding,
                              bidirectional=bidirectional, balanced=balanced, batch_size=batch_size,
                              epochs=epochs, learning_rate=learning_rate, patience=patience, monitor=monitor,
                              reduce_lr_patience=reduce_lr_patience, length_aware=length_aware,
                              lexicon_weight=lexicon_weight, seed=seed)
    summary = training.classifier(
        train.path, validation.path, vectors.path, bundle.path, params, max_words,
        Thresholds(negative_max, positive_min),
        metadata={"dataset": {"uri": dataset_uri, "fingerprint": dataset_fingerprint,
                              "sample_rows": train.metadata.get("sample_rows", 0)},
                  "split": train.metadata.get("split"), "word2vec": dict(vectors.metadata),
                  "seeds": {"sample": train.metadata.get("sample_seed"),
                            "split": (train.metadata.get("split") or {}).get("seed"),
                            "word2vec": vectors.metadata.get("seed"), "keras": seed}})
    for name, value in summary.items():
        training_metrics.log_metric(name, value)
    bundle.metadata.update({"framework": "keras", **params.as_dict()})
