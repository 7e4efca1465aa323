import pytest

from twitter_sentiment.text import clean_tweet


@pytest.mark.parametrize("raw, clean", [
    ("@bob I do NOT like this!!! http://t.co/abc", "i do not like this"),
    ("I don't like it", "i do not like it"),  # negations survive: the original turned "not good" into "good"
    ("I can't and won't", "i can not and will not"),
    ("Tom &amp; Jerry &lt;3", "tom jerry emoticon_heart"),
    ("so #happy today", "so happy today"),
    ("sooooo goooood", "soo good"),
    ("lol 😂😂", "lol emoji_face_with_tears_of_joy emoji_face_with_tears_of_joy"),
    ("👍🏽 ok", "emoji_thumbs_up_medium_skin_tone ok"),
    ("visit www.example.com now", "visit now"),
    ("email a@b.com", "email a b com"),
    ("a:b:c :) ;-)", "a b c emoticon_happy emoticon_wink"),
    # Emoticons are tokens (cleaning 2): sentiment140's hand-labelled tweets carry them in one tweet of eight.
    ("sad :-( and :'( ok:D", "sad emoticon_sad and emoticon_sad ok emoticon_happy"),
    ("time 10:30, ratio 3:2 at x<30 :P", "time 10 30 ratio 3 2 at x 30 emoticon_tongue"),
    # Mojibake is repaired before the negation rule reads it (ftfy): UTF-8 read as cp1252, and curly quotes.
    ("I donâ€™t like it", "i do not like it"),
    ("I don’t like it", "i do not like it"),
    # Contractions are expanded: "i'll" was "ill", another word.
    ("I'll go, we're in, I've seen, I'm ok, she'd come, it's rock'n'roll", "i will go we are in i have seen i am ok "
     "she would come its rocknroll"),
    # What mojibake leaves unrepairable, and words of scripts an English model never learnt, are dropped.
    ("great Ù÷â day", "great day"),
    ("Привет great", "great"),
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


@pytest.mark.parametrize("text, reason", [
    ("", "no_text"), ("   \n\t", "no_text"), (None, "no_text"), (42, "no_text"),
    ("x" * 101, "too_long"), ("https://t.co/abc @someone !!!", "empty_after_cleaning"),
])
def test_one_rule_refuses_texts_that_have_nothing_to_score(text, reason):
    from twitter_sentiment.text import TextRejected, scorable_text

    with pytest.raises(TextRejected) as error:
        scorable_text(text, max_length=100)
    assert error.value.reason == reason


def test_a_scorable_text_comes_back_cleaned():
    from twitter_sentiment.text import scorable_text

    assert scorable_text("I don't like it", max_length=100) == "i do not like it"



def test_emoji_are_looked_for_only_where_one_can_be_and_the_cleaning_is_the_same(monkeypatch):
    """clean_tweet skips emoji.replace_emoji for texts with no character of any emoji: the same output as
    always calling it, on random text around emoji, skin tones, ZWJ sequences, variation selectors, keycaps."""
    import random

    from twitter_sentiment import text

    rng = random.Random(14)
    pieces = ["a", "É", "’", "ñ", "中", "‰Û_", " ", "#", "1", "\u200d", "\ufe0f", "\u20e3", "😂", "👍🏽", "🏳️‍🌈",
              "❤", "©", "™", "↔", "Ω", "\U0001f3fd", "@x", "http://t.co/a", "&amp;", "don't", "Café"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))) for _ in range(5000)]
    with_shortcut = [text.clean_tweet(t) for t in texts]

    class Everything:
        def isdisjoint(self, other) -> bool:
            return False

    monkeypatch.setattr(text, "_EMOJI_CHARS", Everything())  # replace_emoji on every non-ASCII text
    assert with_shortcut == [text.clean_tweet(t) for t in texts]
    assert sum("emoji_" in clean for clean in with_shortcut) > 1000  # emoji were there to find


def test_the_shortcuts_clean_as_the_plain_rules(monkeypatch):
    """clean_tweet's shortcuts (ASCII words by a byte table, mentions found "@" first, the emoticon rule only
    where a hint of one shows) give what the plain rules give, on random text around their edge cases."""
    import random
    import re

    from twitter_sentiment import text

    rng = random.Random(15)
    pieces = ["@", "@x", "a@b", "@@y", "a", "B", "_", "__", "_z", "1", " ", "\t", "\x1c", "\x00", "\x7f", ":", ";",
              "=", "<", "3", "/", "-", "'", ")", "(", "D", "p", "[", "]", "{", "}", "!", ".", ",", "?", "ooo", "AAAA",
              "n't", "don't", "I'll", "http://t.co/a", "&amp;", "#tag", "é", "😂", "‰Û_"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 14))) for _ in range(20000)]
    with_shortcuts = [text.clean_tweet(t) for t in texts]

    class AlwaysAHint:
        def search(self, _text) -> bool:
            return True

    monkeypatch.setattr(text, "_EMOTICON_HINT", AlwaysAHint())
    monkeypatch.setattr(text, "_MENTION", re.compile(r"(?<![\w@])@\w+"))  # the rule as cleaning 2 wrote it
    monkeypatch.setattr(text, "_ascii_words", text._words)
    assert with_shortcuts == [text.clean_tweet(t) for t in texts]
    assert sum("emoticon_" in clean for clean in with_shortcuts) > 100  # emoticons were there to find
    assert sum(t.isascii() for t in texts) > 5000 and sum("aa " in f"{c} " for c in with_shortcuts) > 500


def test_ftfy_and_the_emoji_walk_run_only_where_they_can_change_something(monkeypatch):
    """Texts of only ftfy-inert characters skip ftfy, and emoji's walk runs over non-ASCII runs only: the same
    output as ftfy on every non-ASCII text and the walk over the whole text, on random text around emoji
    sequences (keycaps, ZWJ, skin tones, flags), mojibake, HTML entities and the characters ftfy changes."""
    import random

    import emoji

    from twitter_sentiment import text

    rng = random.Random(16)
    sequences = sorted(emoji.EMOJI_DATA)
    characters = sorted(text._EMOJI_CHARS)
    pieces = ["a", "B", "1", "#", "*", " ", "\t", "\n", "\r\n", "\r", "\x1b[31m", "\x00", "\x0b", "\x7f", "&amp;amp;",
              "&", "&lt;3", "<", ":)", "@x", "don't", "I’ll", "donâ€™t", "‰Û_", "é", "Café", "ﬁ", "Ａ", "“", "\x85",
              "\u2028", "\u200d", "\ufe0f", "\u20e3", "\U0001f3fd", "中"]
    texts = []
    for _ in range(20000):
        parts = []
        for _ in range(rng.randint(1, 8)):
            draw = rng.random()
            parts.append(rng.choice(sequences) if draw < 0.3 else rng.choice(characters) if draw < 0.45
                         else rng.choice(pieces))
        texts.append("".join(parts))
    with_shortcuts = [text.clean_tweet(t) for t in texts]
    skipped = sum(not t.isascii() and text._FTFY_INERT.issuperset(t) for t in texts)

    monkeypatch.setattr(text, "_FTFY_INERT", frozenset())  # ftfy on every non-ASCII text
    monkeypatch.setattr(text, "_replace_emoji", lambda t: emoji.replace_emoji(t, replace=text._emoji_token))
    assert with_shortcuts == [text.clean_tweet(t) for t in texts]
    assert skipped > 3000 and sum("emoji_" in clean for clean in with_shortcuts) > 10000  # both were exercised


def test_ftfy_leaves_each_inert_character_alone():
    import unicodedata

    import ftfy

    from twitter_sentiment.text import _FTFY_INERT

    assert len(_FTFY_INERT) > 1400 and "&" not in _FTFY_INERT and "\r" not in _FTFY_INERT
    for char in _FTFY_INERT:
        for sample in (f"a{char}b", char * 3, f"é{char}"):
            assert ftfy.fix_text(sample) == sample, repr(char)
            assert unicodedata.normalize("NFC", sample) == sample, repr(char)
