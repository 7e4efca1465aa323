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


def vocabulary_and_matrix(vectors, max_words: int = 0, lexicon: dict[str, float] | None = None,
                          lexicon_weight: float = 0.0) -> tuple[Vocabulary, np.ndarray]:
    """Word2vec's words (most frequent first), then, with a lexicon, its words Word2vec lacks.

    Rows are the Word2vec vectors (zeros for PAD, OOV and lexicon-only words); with a lexicon, one more
    column holds `lexicon_weight` x each word's valence, so a word the training tweets never show still
    has a sentiment the classifier learnt to read.
    """
    words = list(vectors.index_to_key)
    if max_words > 0:
        words = words[:max_words]
    known = len(words)
    with_lexicon = bool(lexicon) and lexicon_weight > 0
    if with_lexicon:
        seen = set(words)
        words += [word for word in lexicon if word not in seen]
    vocabulary = Vocabulary(words)
    matrix = np.zeros((len(vocabulary), vectors.vector_size + with_lexicon), dtype=np.float32)
    matrix[2:2 + known, :vectors.vector_size] = vectors.vectors[:known]
    if with_lexicon:
        matrix[2:, -1] = [lexicon_weight * lexicon.get(word, 0.0) for word in words]
    return vocabulary, matrix
