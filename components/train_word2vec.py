from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from components.image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def train_word2vec(train: Input[Dataset], vector_size: int, window: int, min_count: int, epochs: int,
                   workers: int, seed: int, vectors: Output[Model]):
    """Train gensim Word2vec on the training split; saves vectors in word2vec's binary format (no pickle).

    Args:
        train: The training split (cleaned tweets).
        vector_size: Dimensions of each word vector.
        window: Context window, in words on each side.
        min_count: Words seen fewer times than this get no vector.
        epochs: Passes over the training tweets.
        workers: Training threads.
        seed: Seed of the training.

    Returns:
        vectors: The word vectors, in word2vec's binary format.
    """
    from twitter_sentiment import logs, training
    from twitter_sentiment.embeddings import Word2VecParams

    logs.setup()
    params = Word2VecParams(vector_size=vector_size, window=window, min_count=min_count, epochs=epochs,
                            workers=workers, seed=seed)
    words = training.word2vec(train.path, vectors.path, params)
    vectors.metadata.update({"words": words, **params.as_dict()})
