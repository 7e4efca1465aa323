import pytest

from twitter_sentiment.text import clean_tweet


@pytest.mark.parametrize("raw, clean", [
    ("@bob I do NOT like this!!! http://t.co/abc", "i do not like this"),
    ("I don't like it", "i do not like it"),  # negations survive: the original turned "not good" into "good"
    ("I can't and won't", "i can not and will not"),
    ("Tom &amp; Jerry &lt;3", "tom jerry 3"),
    ("so #happy today", "so happy today"),
    ("sooooo goooood", "soo good"),
    ("lol 😂😂", "lol emoji_face_with_tears_of_joy emoji_face_with_tears_of_joy"),
    ("👍🏽 ok", "emoji_thumbs_up_medium_skin_tone ok"),
    ("visit www.example.com now", "visit now"),
    ("email a@b.com", "email a b com"),
    ("a:b:c :) ;-)", "a b c"),
    ("Café naïve", "café naïve"),
    ("   ", ""),
    ("@only @mentions http://x.y", ""),
    ("line\r\nbreak", "line break"),
])
def test_clean_tweet(raw, clean):
    assert clean_tweet(raw) == clean


def test_clean_tweet_is_idempotent():
    once = clean_tweet("@x I can't believe it's sooo good 😂 http://t.co/1 #wow")
    assert clean_tweet(once) == once


def test_clean_tweet_rejects_non_text():
    with pytest.raises(TypeError, match="expects str"):
        clean_tweet(None)
