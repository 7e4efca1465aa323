"""A sentiment lexicon as one more embedding column: words the training tweets never show still carry a valence.

The lexicon is VADER's (Hutto & Gilbert, 2014): about 7,500 words, emoticons and slang rated by people from
-4 to +4. Only its ratings are used; the classifier learns what negation and context do to them.
"""

from __future__ import annotations

from importlib import resources

SOURCE = "vaderSentiment==3.3.2/vader_lexicon.txt"


def valences() -> dict[str, float]:
    """Cleaned token -> valence in [-1, 1]; emoticon tokens take their canonical emoticon's rating."""
    from twitter_sentiment.text import EMOTICONS, clean_tweet

    rated = {}
    for line in resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text("utf-8").splitlines():
        entry, valence = line.split("\t")[:2]
        rated[entry] = float(valence) / 4
    out: dict[str, float] = {}
    for entry, valence in rated.items():
        token = clean_tweet(entry)
        if token and " " not in token:
            out.setdefault(token, valence)  # "good" before "GOOD!": the first spelling listed wins
    out.update({token: rated[canonical] for token, (_, canonical) in EMOTICONS.items()})
    return out
