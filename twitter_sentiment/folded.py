"""The classifier's forward pass with its embedding folded into the LSTM's input projection.

An LSTM multiplies each step's input by its input kernel: for an embedded word that is the word's row
times the kernel, the same product every time the word appears. Computed once per word at load
(`embedding @ kernel + bias`, a vocabulary x 4·units table), a step only looks its row up and adds the
recurrent product: three quarters of the multiply-adds of a 300-wide embedding and 100 units go. The
scores are the Keras model's, up to float rounding (tests/training/test_folded.py). TensorFlow only:
the serving image's backend; any other architecture, or backend, keeps Keras' own forward pass.
"""

from __future__ import annotations

import numpy as np


def folded_forward(model):
    """A compiled function int32 ids [batch, steps] -> float32 scores [batch, 1], or None when `model`
    is not Embedding -> (Dropout) -> LSTM -> Dense(1, sigmoid) with Keras' default activations."""
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.Dropout)]
    if keras.backend.backend() != "tensorflow" or len(layers) != 3:
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
    return _compile(inputs.astype(np.float32), recurrent_kernel.astype(np.float32), *dense.get_weights())


def _compile(inputs: np.ndarray, recurrent_kernel: np.ndarray, dense_kernel: np.ndarray, dense_bias: np.ndarray):
    import tensorflow as tf

    inputs, recurrent_kernel = tf.constant(inputs), tf.constant(recurrent_kernel)
    dense_kernel, dense_bias = tf.constant(dense_kernel), tf.constant(dense_bias)
    units = recurrent_kernel.shape[0]

    def step(state, projected):
        h, c = state
        i, f, candidate, o = tf.split(projected + tf.matmul(h, recurrent_kernel), 4, axis=1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(candidate)
        return tf.sigmoid(o) * tf.tanh(c), c

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)], autograph=False)
    def forward(ids):
        steps = tf.transpose(tf.gather(inputs, ids), [1, 0, 2])  # time-major, as foldl walks it
        zeros = tf.zeros([tf.shape(ids)[0], units])
        h, _ = tf.foldl(step, steps, initializer=(zeros, zeros))
        return tf.sigmoid(tf.matmul(h, dense_kernel) + dense_bias)

    return forward
