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
    batch_size: int = 512
    epochs: int = 20
    learning_rate: float = 0.002
    patience: int = 2  # early stopping on validation loss
    seed: int = 42

    def as_dict(self) -> dict:
        return asdict(self)


# The original notebook's recipe, kept so the comparison can be rerun.
PRESETS: dict[str, ClassifierParams] = {
    "default": ClassifierParams(),
    "original": ClassifierParams(sequence_length=300, units=100, recurrent_dropout=0.2, dropout=0.5,
                                 trainable_embedding=False, batch_size=1024, epochs=8, patience=8),
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
        keras.Input(shape=(params.sequence_length,), dtype="int32"),
        # weights=[...] rather than a Constant initializer: the matrix stays out of the config (PLATFORM.md).
        layers.Embedding(matrix.shape[0], matrix.shape[1], weights=[matrix], trainable=params.trainable_embedding),
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


def train(model, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
          params: ClassifierParams) -> dict:
    """Fit with early stopping on validation loss (best weights kept); one log line per epoch."""
    import keras

    started = time.monotonic()
    history = model.fit(
        x_train, y_train, validation_data=(x_val, y_val), batch_size=params.batch_size, epochs=params.epochs,
        class_weight=class_weights(y_train) if params.balanced else None,
        callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=params.patience,
                                                 restore_best_weights=True)],
        verbose=2,
    )
    seconds = time.monotonic() - started
    epochs = len(history.history["loss"])
    log.info("classifier trained: %d epochs in %.1fs", epochs, seconds)
    return {"epochs_run": epochs, "train_seconds": round(seconds, 2),
            "best_val_loss": float(min(history.history["val_loss"]))}
