"""The Keras classifier: a frozen Word2vec embedding, a recurrent layer, a sigmoid score.

Keras 3 only (no TensorFlow-only ops), so it also trains on the JAX or PyTorch backend.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassifierParams:
    sequence_length: int = 50  # 99.9% of cleaned tweets are shorter; 300 only pads
    units: int = 100
    recurrent_dropout: float = 0.0  # > 0 forbids the fused LSTM kernel: ~9x slower per step
    dropout: float = 0.5
    trainable_embedding: bool = True  # fine-tuned from the Word2vec start: better on both test sets (README)
    bidirectional: bool = False
    balanced: bool = False  # weight classes inversely to their frequency
    batch_size: int = 128  # smaller batches at a lower rate: +0.5-1 point on both test sets (README)
    epochs: int = 20
    learning_rate: float = 0.001
    patience: int = 3  # epochs without a better `monitor` before training stops
    monitor: str = "val_accuracy"  # early stopping's quantity: val_loss or val_accuracy
    reduce_lr_patience: int = 0  # > 0: divide the learning rate by 10 after this many epochs without a better val_loss
    seed: int = 42
    # Mask the padding and batch tweets of similar length: a score no longer depends on the padding
    # around a tweet, and a batch costs its longest tweet's steps, not sequence_length's.
    length_aware: bool = True
    # Weight of the sentiment lexicon's column in the embedding (twitter_sentiment.lexicon); 0 leaves it out.
    lexicon_weight: float = 16.0

    def __post_init__(self):
        if self.monitor not in ("val_loss", "val_accuracy"):
            raise ValueError(f"monitor must be val_loss or val_accuracy, not {self.monitor!r}")

    def as_dict(self) -> dict:
        return asdict(self)


# The original notebook's recipe, kept so the comparison can be rerun.
PRESETS: dict[str, ClassifierParams] = {
    "default": ClassifierParams(),
    "original": ClassifierParams(sequence_length=300, units=100, recurrent_dropout=0.2, dropout=0.5,
                                 trainable_embedding=False, batch_size=1024, epochs=8, learning_rate=0.001,
                                 patience=5, monitor="val_accuracy", reduce_lr_patience=5, length_aware=False,
                                 lexicon_weight=0.0),
}


def preset(name: str, **overrides) -> ClassifierParams:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return replace(PRESETS[name], **overrides)


def build(matrix: np.ndarray, params: ClassifierParams):
    import keras
    from keras import layers

    keras.utils.set_random_seed(params.seed)
    model = keras.Sequential([
        # A length-aware model takes any number of steps; its padding (id 0) is masked out.
        keras.Input(shape=(None if params.length_aware else params.sequence_length,), dtype="int32"),
        # weights=[...] rather than a Constant initializer: the matrix stays out of the config (PLATFORM.md).
        layers.Embedding(matrix.shape[0], matrix.shape[1], weights=[matrix], trainable=params.trainable_embedding,
                         mask_zero=params.length_aware),
        layers.Dropout(params.dropout),
        _recurrent(params),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(params.learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def _recurrent(params: ClassifierParams):
    from keras import layers

    lstm = layers.LSTM(params.units, dropout=0.2 if params.recurrent_dropout else 0.0,
                       recurrent_dropout=params.recurrent_dropout)
    return layers.Bidirectional(lstm) if params.bidirectional else lstm


def class_weights(y: np.ndarray) -> dict[int, float]:
    """n / (2 * count) per class, so both classes weigh the same in the loss."""
    counts = np.bincount(np.asarray(y).astype(int), minlength=2)
    return {label: float(len(y) / (2 * max(count, 1))) for label, count in enumerate(counts)}


def is_length_aware(model) -> bool:
    """Whether `model` masks its padding (then any padding gives the same scores)."""
    return any(getattr(layer, "mask_zero", False) for layer in model.layers)


def length_batches(rows: list[list[int]], labels: np.ndarray, params: ClassifierParams, shuffle: bool):
    """Batches of tweets of similar length, each padded only to its own longest tweet.

    For training, tweets are shuffled, then sorted by length within pools of 32 batches, and the
    batches' order is shuffled again each epoch: batches stay random, but few steps are padding.
    """
    import keras

    from twitter_sentiment.vocabulary import pad, padded_length

    lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
    labels = np.asarray(labels, dtype=np.float32)
    pool = params.batch_size * 32

    class LengthBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = 0
            self.batches = self._plan()

        def _plan(self) -> list[np.ndarray]:
            if not shuffle:
                order = np.argsort(lengths, kind="stable")
            else:
                rng = np.random.default_rng([params.seed, self.epoch])
                order = rng.permutation(len(rows))
                order = np.concatenate([part[np.argsort(lengths[part], kind="stable")]
                                        for part in np.array_split(order, max(1, -(-len(order) // pool)))])
            batches = [order[i:i + params.batch_size] for i in range(0, len(order), params.batch_size)]
            if shuffle:
                rng.shuffle(batches)
            # Keras on TensorFlow takes the data's shape from the first two batches (keras/src/trainers/
            # data_adapters/py_dataset_adapter.py, NUM_BATCHES_FOR_TENSOR_SPEC): let them differ in length.
            steps = [self._steps(batch) for batch in batches]
            other = next((i for i in range(1, len(batches)) if steps[i] != steps[0]), None)
            if other is not None:
                batches[1], batches[other] = batches[other], batches[1]
            return batches

        def _steps(self, batch: np.ndarray) -> int:
            return padded_length(int(lengths[batch].max(initial=0)), params.sequence_length)

        def __len__(self) -> int:
            return len(self.batches)

        def __getitem__(self, index: int):
            batch = self.batches[index]
            return pad([rows[i] for i in batch], self._steps(batch)), labels[batch]

        def on_epoch_end(self) -> None:
            self.epoch += 1
            if shuffle:
                self.batches = self._plan()

    return LengthBatches()


def _callbacks(params: ClassifierParams) -> list:
    import keras

    callbacks = [keras.callbacks.EarlyStopping(monitor=params.monitor, patience=params.patience,
                                               min_delta=1e-4 if params.monitor == "val_accuracy" else 0.0,
                                               restore_best_weights=True)]
    if params.reduce_lr_patience:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=params.reduce_lr_patience))
    return callbacks


def train(model, train_rows: list[list[int]], y_train: np.ndarray, val_rows: list[list[int]], y_val: np.ndarray,
          params: ClassifierParams) -> dict:
    """Fit with early stopping on `params.monitor` (best weights kept); one log line per epoch."""

    from twitter_sentiment.vocabulary import pad

    if params.length_aware:
        fit_args = {"x": length_batches(train_rows, y_train, params, shuffle=True),
                    "validation_data": length_batches(val_rows, y_val, params, shuffle=False)}
    else:
        fit_args = {"x": pad(train_rows, params.sequence_length), "y": y_train, "batch_size": params.batch_size,
                    "validation_data": (pad(val_rows, params.sequence_length), y_val)}
    started = time.monotonic()
    history = model.fit(
        **fit_args, epochs=params.epochs,
        class_weight=class_weights(y_train) if params.balanced else None,
        callbacks=_callbacks(params),
        verbose=2,
    )
    seconds = time.monotonic() - started
    epochs = len(history.history["loss"])
    log.info("classifier trained: %d epochs in %.1fs", epochs, seconds)
    return {"epochs_run": epochs, "train_seconds": round(seconds, 2), "epoch_seconds": round(seconds / epochs, 2),
            "best_val_loss": float(min(history.history["val_loss"]))}
