"""The model server client against the real model server (`python -m serving`, the tiny bundle)."""

from __future__ import annotations

from streamer.health import Metrics
from streamer.replay import line, messages
from streamer.scorer import ModelClient
from streamer.sources import TweetListener
from twitter_sentiment.contract import MODEL_NAME


def test_tweets_sent_with_their_cleaning_score_as_the_server_cleaning_them(model_server_url):
    tweets = []
    listener = TweetListener("replay", tweets.append, Metrics(), 1000)
    for message in messages(300, seed=11):
        if message is not None:
            listener.on_data(line(message).rstrip(b"\r\n"))
    texts, cleaned = [t.text for t in tweets if t.scorable], [t.clean for t in tweets if t.scorable]
    client = ModelClient(model_server_url, MODEL_NAME)
    try:
        assert len(texts) >= 250
        assert client.predict_once(texts, cleaned) == client.predict_once(texts)
    finally:
        client.close()
