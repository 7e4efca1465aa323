"""The original notebook's text preprocessing, for an honest `--presets original` comparison.

The notebook (Word2vec + Keras LSTM on sentiment140) lower-cased each tweet, replaced mentions, links and
every run of characters outside [A-Za-z0-9] by a space, and dropped NLTK's English stopwords, "not" and
"don't" among them. Its classifier and training settings are `classifier.PRESETS["original"]`.
"""

from __future__ import annotations

import re

TEXT_CLEANING_RE = re.compile(r"@\S+|https?:\S+|http?:\S|[^A-Za-z0-9]+")  # the notebook's own pattern
# NLTK's English stopword list (nltk_data corpora/stopwords/english, 179 words), as the notebook loaded it with
# nltk.download("stopwords"); copied because NLTK's data is a download, not a package.
STOPWORDS = frozenset("""
i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him his
himself she she's her hers herself it it's its itself they them their theirs themselves what which who whom this
that that'll these those am is are was were be been being have has had having do does did doing a an the and but
if or because as until while of at by for with about against between into through during before after above below
to from up down in out on off over under again further then once here there when where why how all any both each
few more most other some such no nor not only own same so than too very s t can will just don don't should
should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't
haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't
weren weren't won won't wouldn wouldn't
""".split())


def clean(text: str) -> str:
    """The notebook's `preprocess(text, stem=False)`."""
    return " ".join(t for t in TEXT_CLEANING_RE.sub(" ", str(text).lower()).strip().split() if t not in STOPWORDS)
