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
# The non-ASCII characters of every emoji (each has one; keycaps start with "#" or a digit): a text with
# none of them has no emoji to name.
_EMOJI_CHARACTERS = frozenset(character for sequence in emoji.EMOJI_DATA for character in sequence
                              if not character.isascii())


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
    # Each step runs only where its pattern can match: cleaning runs once per tweet on the serving path.
    if "&" in text:
        text = html.unescape(text)
    if "://" in text or "www." in text.lower():
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _MENTION.sub(" ", text)
    if not text.isascii():  # emoji are never ASCII; demojize is the slow step
        if not _EMOJI_CHARACTERS.isdisjoint(text):  # accents, curly quotes, CJK alone have no emoji to name
            text = emoji.replace_emoji(text, replace=_emoji_token)
        text = text.replace("’", "'")
    text = text.lower()
    if "n't" in text:
        text = _NEGATION.sub(_negation, text)
    if "'" in text:
        text = text.replace("'", "")
    text = _NON_WORD.sub(" ", text)
    text = _REPEATS.sub(r"\1\1", text)
    return " ".join(text.split())


def tokens(clean_text: str) -> list[str]:
    """Tokens of an already cleaned text."""
    return clean_text.split()


# Why a text is not scored: the streamer stores these as a REJECTED item's reason, the server as a 4xx.
NO_TEXT, TOO_LONG, EMPTY_AFTER_CLEANING = "no_text", "too_long", "empty_after_cleaning"


class TextRejected(ValueError):
    """A text the model must not score; `reason` is one of the names above, the message says why."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def scorable_text(text: object, max_length: int, clean: str | None = None) -> str:
    """The cleaned text to score, or TextRejected: one rule for the model server and the streamer.

    A label for an empty text would be the model's bias, not an opinion: such texts are refused.
    `clean`: the text's cleaning by these rules (CLEANING_VERSION), when the caller has it already.
    """
    if not isinstance(text, str) or not text.strip():
        raise TextRejected(NO_TEXT, "text is empty")
    if len(text) > max_length:
        raise TextRejected(TOO_LONG, f"text is {len(text)} characters; the limit is {max_length}")
    clean = clean_tweet(text) if clean is None else clean
    if not clean:
        raise TextRejected(EMPTY_AFTER_CLEANING, "text has no words left after cleaning (only links, "
                                                 "mentions or punctuation)")
    return clean
