"""Tweet cleaning: one function for training, serving and the streamer (no train/serve skew)."""

from __future__ import annotations

import html
import re

import emoji

# Bump when clean_tweet changes: a bundle records the version it was trained with.
CLEANING_VERSION = "1"

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@\w+")
# "don't" -> "do not": the original recipe dropped "not" as a stopword, turning "not good" into "good".
_IRREGULAR_NEGATIONS = {"can't": "can not", "won't": "will not", "shan't": "shall not", "ain't": "is not"}
_NEGATION = re.compile(r"\b(can't|won't|shan't|ain't)\b|(\w)n't\b")
_REPEATS = re.compile(r"(\w)\1{2,}")  # "loooove" -> "loove"
_NON_WORD = re.compile(r"[^\w\s]+|_(?![a-z])")


def _emoji_token(_chars: str, data: dict) -> str:
    """😂 -> " emoji_face_with_tears_of_joy ": one token, so Word2vec learns what it means."""
    return " emoji_" + re.sub(r"\W+", "_", data["en"].lower()).strip("_") + " "


def _negation(match: re.Match) -> str:
    if match.group(1):
        return _IRREGULAR_NEGATIONS[match.group(1)]
    return f"{match.group(2)} not"


def clean_tweet(text: str) -> str:
    """Lower-cased words of a tweet, separated by single spaces.

    Removes URLs, @mentions, HTML entities and punctuation; keeps hashtag words and
    negations; turns each emoji into its name as one token (":)"-style emoticons are
    punctuation and go).
    """
    if not isinstance(text, str):
        raise TypeError(f"clean_tweet expects str, got {type(text).__name__}")
    text = html.unescape(text)
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    if not text.isascii():  # emoji are never ASCII; demojize is the slow step
        text = emoji.replace_emoji(text, replace=_emoji_token)
    text = text.lower().replace("’", "'")
    text = _NEGATION.sub(_negation, text)
    text = text.replace("'", "")
    text = _NON_WORD.sub(" ", text)
    text = _REPEATS.sub(r"\1\1", text)
    return " ".join(text.split())


def tokens(clean_text: str) -> list[str]:
    """Tokens of an already cleaned text."""
    return clean_text.split()
