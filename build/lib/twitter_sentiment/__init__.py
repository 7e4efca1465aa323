"""twitter-sentiment core: the logic shared by training, serving and the streamer.

Nothing here imports kfp, kserve or tweepy; TensorFlow/Keras is imported only where a model is
built or loaded, so the streamer can use `clean_tweet` without it.
"""

__version__ = "0.1.0"
