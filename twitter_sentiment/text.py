"""Tweet cleaning: one function for training, serving and the streamer (no train/serve skew)."""

from __future__ import annotations

import html
import re
import unicodedata

import emoji
import ftfy
from ftfy.badness import BADNESS_RE, MOJIBAKE_CATEGORIES

# Bump when clean_tweet changes: a bundle records the version it was trained with.
# 2: mojibake repaired (ftfy), emoticons kept as tokens, contractions expanded, tokens without an ASCII
# letter or digit dropped.
CLEANING_VERSION = "2"

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# An "@" not preceded by a word character or another "@": the lookbehind follows the literal so the regex
# engine can skip to each "@" (6x faster than the same rule written lookbehind first).
_MENTION = re.compile(r"@(?<![\w@]@)\w+")
# "don't" -> "do not": the original recipe dropped "not" as a stopword, turning "not good" into "good".
_IRREGULAR_NEGATIONS = {"can't": "can not", "won't": "will not", "shan't": "shall not", "ain't": "is not"}
_NEGATION = re.compile(r"\b(can't|won't|shan't|ain't)\b|(\w)n't\b")
# "i'll" -> "i will", not "ill": dropping the apostrophe would make another word of it ("'s" stays ambiguous).
_CONTRACTIONS = {"ll": " will", "re": " are", "ve": " have", "m": " am", "d": " would"}
_CONTRACTION = re.compile(r"(?<=[a-z])'(ll|re|ve|m|d)\b")
_REPEATS = re.compile(r"(\w)\1\1+")  # "loooove" -> "loove": the matches of (\w)\1{2,}, found faster
_ASCII_REPEATS = re.compile(_REPEATS.pattern, re.ASCII)  # the same on ASCII text, a quarter faster
_PUNCTUATION = r"[^\w\s]"
_LONE_UNDERSCORE = re.compile(r"_(?![a-z])")  # "emoji_red_heart" keeps its underscores, "__init" does not
_NON_WORD = re.compile(f"{_PUNCTUATION}+|{_LONE_UNDERSCORE.pattern}")
# _PUNCTUATION as a byte table: on ASCII text, bytes.translate does _NON_WORD's first half 10x faster.
_ASCII_PUNCTUATION = bytes(32 if c < 128 and re.fullmatch(_PUNCTUATION, chr(c)) else c for c in range(256))
# Western emoticons, each class one token: sentiment140's hand-labelled tweets carry them six times as
# often as the sample (12.5% of tweets vs 1.9%), and they say the sentiment outright.
EMOTICONS = {  # token: (pattern, its canonical form, the one a sentiment lexicon lists)
    "emoticon_happy": (r"[:=][-']?[)\]}D]+", ":)"),
    "emoticon_wink": (r";[-']?[)\]D]+", ";)"),
    "emoticon_sad": (r"[:=][-']?[(\[{]+|:'\(", ":("),
    "emoticon_tongue": (r"[:;=][-']?[pP]", ":p"),
    "emoticon_heart": (r"<3+", "<3"),
    "emoticon_broken_heart": (r"</3+", "</3"),
}
_EMOTICON = re.compile("|".join(f"(?P<{token}>{pattern})" for token, (pattern, _) in EMOTICONS.items())
                       .join((r"(?<![^\s\w])(?:", r")(?![^\s.,!?])")))
# Every emoticon above holds one of these: texts without any (98.6% of the sample) skip _EMOTICON.
_EMOTICON_HINT = re.compile(r"[:;=<][-'/]?[)\]}D(\[{pP3]")
_ASCII_WORD = re.compile(r"[a-z0-9]")
# Every non-ASCII character any emoji is made of: a text without one has no emoji, and skips the slow walk.
_EMOJI_CHARS = frozenset(char for sequence in emoji.EMOJI_DATA for char in sequence if not char.isascii())
# Emoji sequences hold no ASCII character but a keycap's first ("#", "*", 0-9): emoji's own walk over a whole
# text (~0.5 µs a character) gives the same tokens over its non-ASCII runs, each with the character before it.
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_KEYCAP_STARTS = frozenset("#*0123456789")


def _ftfy_inert() -> frozenset[str]:
    """Characters ftfy.fix_text leaves alone wherever they stand: printable ASCII but "&" (HTML entities),
    tab, newline and form feed, and the emoji characters its mojibake heuristic (ftfy.badness) never names
    and that NFC cannot touch (no decomposition, no combining class). A text of only these skips ftfy: it
    would cost ~50 µs and change nothing (tests/training/test_text.py checks each character and mixtures)."""
    named = BADNESS_RE.pattern + "".join(MOJIBAKE_CATEGORIES.values())
    mojibake = {char for char in named if not char.isascii()}
    for first, last in re.findall(r"([^\x00-\x7f])-([^\x00-\x7f])", named):  # its ranges, as "Ò-Ö"
        mojibake.update(map(chr, range(ord(first), ord(last) + 1)))
    emoji_chars = {char for char in _EMOJI_CHARS if char not in mojibake and ord(char) > 0xFF
                   and not unicodedata.combining(char) and not unicodedata.decomposition(char)}
    return frozenset(chr(code) for code in range(0x20, 0x7F) if chr(code) != "&") | {"\t", "\n", "\f"} | emoji_chars


_FTFY_INERT = _ftfy_inert()


def _emoji_token(_chars: str, data: dict) -> str:
    """😂 -> " emoji_face_with_tears_of_joy ": one token, so Word2vec learns what it means."""
    return " emoji_" + re.sub(r"\W+", "_", data["en"].lower()).strip("_") + " "


def _replace_emoji(text: str) -> str:
    """emoji.replace_emoji(text, _emoji_token), run only where an emoji can be."""
    out, done = [], 0
    for run in _NON_ASCII_RUN.finditer(text):
        start = run.start() - (run.start() > 0 and text[run.start() - 1] in _KEYCAP_STARTS)
        out += (text[done:start], emoji.replace_emoji(text[start:run.end()], replace=_emoji_token))
        done = run.end()
    return "".join(out) + text[done:]


def _negation(match: re.Match) -> str:
    if match.group(1):
        return _IRREGULAR_NEGATIONS[match.group(1)]
    return f"{match.group(2)} not"


def clean_tweet(text: str) -> str:
    """Lower-cased words of a tweet, separated by single spaces.

    Removes URLs, @mentions, HTML entities and punctuation; repairs mojibake; keeps hashtag
    words and negations; turns each emoji into its name as one token, and each emoticon
    into its class (":-)" -> "emoticon_happy").
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
    if _EMOTICON_HINT.search(text):
        text = _EMOTICON.sub(_emoticon_token, text)
    ascii_only = text.isascii()
    if not ascii_only:  # mojibake and emoji are never ASCII; these are the slow steps
        if not _FTFY_INERT.issuperset(text):
            text = ftfy.fix_text(text)  # "donâ€™t" -> "don't": curly quotes straightened too
        if not _EMOJI_CHARS.isdisjoint(text):
            text = _replace_emoji(text)
    text = text.lower()
    if "n't" in text:
        text = _NEGATION.sub(_negation, text)
    if "'" in text:
        text = _CONTRACTION.sub(_contraction, text).replace("'", "")
    return _ascii_words(text) if ascii_only else _words(text)


def _words(text: str) -> str:
    """The words of a lower-cased text: punctuation out, long repeats shortened, single spaces."""
    text = _NON_WORD.sub(" ", text)
    text = _REPEATS.sub(_twice, text)  # a function: re's template expansion costs more per match
    # What is left of unrepairable mojibake ("â", "ùë"), and scripts an English model never learned.
    return " ".join(word for word in text.split() if _ASCII_WORD.search(word))


def _ascii_words(text: str) -> str:
    """_words of an ASCII text, twice as fast: punctuation out by a byte table, repeats shortened last, on
    the shorter joined text (a space is never part of one); every ASCII word keeps a letter or digit."""
    text = text.encode("ascii").translate(_ASCII_PUNCTUATION).decode("ascii")
    if "_" in text:
        text = _LONE_UNDERSCORE.sub(" ", text)
    return _ASCII_REPEATS.sub(_twice, " ".join(text.split()))


def _twice(match: re.Match) -> str:
    return match.group(1) * 2


def _contraction(match: re.Match) -> str:
    return _CONTRACTIONS[match.group(1)]


def _emoticon_token(match: re.Match) -> str:
    return f" {match.lastgroup} "


def normalise_links(text: str) -> str:
    """URLs and @mentions as one token each ("url", "@user"): for models that read the raw text."""
    return _MENTION.sub(" @user ", _URL.sub(" url ", text))


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
