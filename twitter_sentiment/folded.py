"""The classifier's forward pass with its embedding folded into the LSTM's input projection, in NumPy.

An LSTM multiplies each step's input by its input kernel: for an embedded word that is the word's row
times the kernel, the same product every time the word appears. Computed once per word at load
(`embedding @ kernel + bias`, a vocabulary x 4·units table), a step only looks its row up and adds the
recurrent product: three quarters of the multiply-adds of a 300-wide embedding and 100 units go.

The steps run in NumPy, not in a compiled TensorFlow loop: at these sizes a step is a handful of small
array operations, and TensorFlow's per-op dispatch cost more than the arithmetic (a TF while loop took
about 2.3x as long at 128 tweets, and 6x for one tweet; README's performance section). NumPy needs no
Keras backend, so the fold serves under TensorFlow, JAX and PyTorch alike. The scores are the Keras
model's, up to float rounding (tests/training/test_folded.py).
"""

from __future__ import annotations

import numpy as np


class FoldedLSTM:
    """Embedding -> LSTM -> Dense(1, sigmoid) as int ids [batch, steps] -> float32 scores [batch, 1]."""

    def __init__(self, inputs: np.ndarray, recurrent_kernel: np.ndarray, dense_kernel: np.ndarray,
                 dense_bias: np.ndarray):
        units = recurrent_kernel.shape[0]
        # Gates reordered from Keras' i, f, c, o to i, f, o, c, so one tanh covers all four:
        # sigmoid(x) = (1 + tanh(x / 2)) / 2, and the / 2 is folded into the three sigmoid gates' weights.
        order = np.r_[0:2 * units, 3 * units:4 * units, 2 * units:3 * units]
        scale = np.r_[np.full(3 * units, 0.5), np.ones(units)]
        # C order matters: a row gather from a column-major table was 6x slower per step.
        self.inputs = np.ascontiguousarray(inputs[:, order] * scale, dtype=np.float32)
        self.recurrent_kernel = np.ascontiguousarray(recurrent_kernel[:, order] * scale, dtype=np.float32)
        self.dense_kernel = np.asarray(dense_kernel, dtype=np.float32)
        self.dense_bias = np.asarray(dense_bias, dtype=np.float32)
        self.units = units

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        batch, steps = ids.shape
        u = self.units
        by_step = np.ascontiguousarray(ids.T)  # one contiguous row of ids a step
        h = np.zeros((batch, u), dtype=np.float32)
        c = np.zeros((batch, u), dtype=np.float32)
        gates = np.empty((batch, 4 * u), dtype=np.float32)
        projected = np.empty((batch, 4 * u), dtype=np.float32)
        sigmoids, forget = gates[:, :3 * u], gates[:, u:2 * u]
        for t in range(steps):
            np.matmul(h, self.recurrent_kernel, out=gates)
            np.take(self.inputs, by_step[t], axis=0, out=projected)
            gates += projected
            np.tanh(gates, out=gates)
            sigmoids *= 0.5
            sigmoids += 0.5
            c *= forget
            c += gates[:, :u] * gates[:, 3 * u:]
            h = gates[:, 2 * u:3 * u] * np.tanh(c)
        logits = h @ self.dense_kernel + self.dense_bias
        return 0.5 + 0.5 * np.tanh(0.5 * logits)  # the sigmoid, without exp's overflow warning at |logit| > 88


def folded_forward(model) -> FoldedLSTM | None:
    """The folded forward pass of `model`, or None when it is not Embedding -> (Dropout) -> LSTM ->
    Dense(1, sigmoid) with Keras' default activations."""
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.Dropout)]
    if len(layers) != 3:
        return None
    embedding, lstm, dense = layers
    if not (isinstance(embedding, keras.layers.Embedding) and type(lstm) is keras.layers.LSTM
            and isinstance(dense, keras.layers.Dense)):
        return None
    if (lstm.activation is not keras.activations.tanh or lstm.recurrent_activation is not keras.activations.sigmoid
            or not lstm.use_bias or lstm.go_backwards or lstm.return_sequences or lstm.stateful
            or dense.units != 1 or dense.activation is not keras.activations.sigmoid or not dense.use_bias):
        return None
    kernel, recurrent_kernel, bias = (np.asarray(w, dtype=np.float64) for w in lstm.get_weights())
    units = recurrent_kernel.shape[0]
    inputs = np.asarray(embedding.get_weights()[0], dtype=np.float64) @ kernel + bias  # Keras' gates: i, f, c, o
    if embedding.mask_zero:
        # Padding always precedes a tweet's words (vocabulary.pad), and the state starts at zero: a
        # padded step whose candidate is 0 leaves c = f·0 + i·tanh(0) = 0 and h = o·tanh(0) = 0, which is
        # what Keras' mask does there. No per-step mask is needed.
        inputs[0, 2 * units:3 * units] = 0.0
    return FoldedLSTM(inputs, recurrent_kernel, *dense.get_weights())
