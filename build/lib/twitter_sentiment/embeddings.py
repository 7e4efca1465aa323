"""Word2vec on the training tweets (gensim), and the embedding matrix the classifier starts from."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import numpy as np

from twitter_sentiment.vocabulary import Vocabulary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Word2VecParams:
    """The original recipe's values."""

    vector_size: int = 300
    window: int = 7
    min_count: int = 10
    epochs: int = 32
    workers: int = 2
    seed: int = 42

    def as_dict(self) -> dict:
        return asdict(self)


def train_word2vec(token_lists: list[list[str]], params: Word2VecParams):
    """Train and return gensim KeyedVectors, logging each epoch."""
    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    class EpochLog(CallbackAny2Vec):
        def __init__(self):
            self.epoch, self.started = 0, time.monotonic()

        def on_epoch_end(self, model):
            self.epoch += 1
            log.info("word2vec epoch %d/%d (%.1fs)", self.epoch, params.epochs, time.monotonic() - self.started)

    model = Word2Vec(vector_size=params.vector_size, window=params.window, min_count=params.min_count,
                     workers=params.workers, seed=params.seed)
    model.build_vocab(token_lists)
    if not model.wv.index_to_key:
        raise ValueError(f"no word occurs min_count={params.min_count} times: lower min_count or add data")
    log.info("word2vec vocabulary: %d words (min_count=%d)", len(model.wv.index_to_key), params.min_count)
    model.train(token_lists, total_examples=model.corpus_count, epochs=params.epochs, callbacks=[EpochLog()])
    return model.wv


def save_vectors(vectors, path: str) -> None:
    # word2vec's own binary format: portable, and loading it runs no pickle.
    vectors.save_word2vec_format(path, binary=True)


def load_vectors(path: str):
    from gensim.models import KeyedVectors

    return KeyedVectors.load_word2vec_format(path, binary=True)


def vocabulary_and_matrix(vectors, max_words: int = 0) -> tuple[Vocabulary, np.ndarray]:
    """The vocabulary is Word2vec's own (most frequent first), so every word has a vector;
    PAD and OOV rows are zeros."""
    words = list(vectors.index_to_key)
    if max_words > 0:
        words = words[:max_words]
    vocabulary = Vocabulary(words)
    matrix = np.zeros((len(vocabulary), vectors.vector_size), dtype=np.float32)
    matrix[2:] = vectors.vectors[: len(words)]
    return vocabulary, matrix
