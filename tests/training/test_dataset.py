import gzip
import io
import zipfile

import pytest

from twitter_sentiment import dataset
from twitter_sentiment.dataset import DatasetError
from twitter_sentiment.text import clean_tweet

S140_ROWS = (
    '"0","1","Mon May 11 03:17:40 UTC 2009","q","alice","I hate Mondays"\n'
    '"4","2","Mon May 11 03:18:03 UTC 2009","q","bob","I love sunny days"\n'
    '"2","3","Mon May 11 03:18:04 UTC 2009","q","carol","It is a day"\n'
)


def test_embedded_sample_is_read_whole():
    frame, report = dataset.read_dataset("sample")
    assert report.format == "crowdflower-sample"
    assert frame["sentiment"].value_counts().to_dict() == {"negative": 16186, "neutral": 15018, "positive": 6954}
    assert report.skipped == 0 and len(report.fingerprint) == 64
    assert not frame["text"].str.contains("\r").any()


def test_sentiment140_format(sentiment140_testdata):
    frame, report = dataset.read_dataset(str(sentiment140_testdata))
    assert report.format == "sentiment140" and report.rows == 498
    assert frame["sentiment"].value_counts().to_dict() == {"positive": 182, "negative": 177, "neutral": 139}
    assert frame.loc[0, "id"] == "3" and "Kindle2" in frame.loc[0, "text"]


@pytest.mark.parametrize("packing", ["plain", "gzip", "zip"])
def test_compressed_files(tmp_path, packing):
    raw = S140_ROWS.encode("latin-1")
    path = tmp_path / "data"
    if packing == "gzip":
        raw = gzip.compress(raw)
    elif packing == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("training.csv", S140_ROWS)
        raw = buffer.getvalue()
    path.write_bytes(raw)
    frame, report = dataset.read_dataset(str(path))
    assert list(frame["sentiment"]) == ["negative", "positive", "neutral"]
    assert list(frame["id"]) == ["1", "2", "3"]


def test_bad_rows_are_counted_not_fatal(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes((S140_ROWS + '"7","9","d","q","u","bad target"\n"0","only three","cols"\n').encode("latin-1"))
    frame, report = dataset.read_dataset(str(path))
    assert report.rows == 3 and report.skipped == 2


def test_latin1_text(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes('"4","1","d","q","u","café olé"\n'.encode("latin-1"))
    frame, _ = dataset.read_dataset(str(path))
    assert frame.loc[0, "text"] == "café olé"


def test_no_usable_rows_names_the_uri(tmp_path):
    path = tmp_path / "junk.csv"
    path.write_text("a,b\nc,d\n")
    with pytest.raises(DatasetError, match=f"{path} has no usable rows"):
        dataset.read_dataset(str(path))


def test_missing_local_file_names_it(tmp_path):
    with pytest.raises(Exception, match="nope.csv does not exist"):
        dataset.read_dataset(str(tmp_path / "nope.csv"))


def test_prepare_drops_neutral_empty_and_duplicates():
    import pandas as pd

    frame = pd.DataFrame({"id": ["1", "2", "3", "4", "5"],
                          "text": ["Good day", "good day!!", "@x http://t.co", "meh", "Bad day"],
                          "sentiment": ["positive", "positive", "negative", "neutral", "negative"]})
    prepared, dropped = dataset.prepare(frame)
    assert list(prepared["clean"]) == ["good day", "bad day"]
    assert list(prepared["label"]) == [1, 0]
    assert dropped == {"neutral": 1, "empty_after_cleaning": 1, "duplicate_text": 1}


def test_split_is_stratified_and_seeded():
    frame, _ = dataset.read_dataset("sample")
    prepared, _ = dataset.prepare(dataset.subsample(frame, 3000, seed=1))
    train, val, test = dataset.split(prepared, 0.1, 0.1, seed=5)
    assert len(train) + len(val) + len(test) == len(prepared)
    assert not set(train["clean"]) & set(test["clean"])
    share = prepared["label"].mean()
    for part in (train, val, test):
        assert abs(part["label"].mean() - share) < 0.02
    again = dataset.split(prepared, 0.1, 0.1, seed=5)[2]
    assert list(again["clean"]) == list(test["clean"])


def test_split_refuses_one_class():
    import pandas as pd

    frame = pd.DataFrame({"clean": [f"t{i}" for i in range(10)], "label": [1] * 10})
    with pytest.raises(DatasetError, match="at least 3 positive and 3 negative"):
        dataset.split(frame, 0.1, 0.1, 0)


def test_the_samples_layered_mojibake_is_repaired_before_cleaning(tmp_path):
    """The CrowdFlower file's "’" reads "‰Ûª" or "äó»" (one or two layers of cp1252 read as mac_roman around
    UTF-8 read as cp1252): "don’t" must reach the negation rule, and real accents must survive."""
    broken = ("sentiment,confidence,text\rnegative,1,I don\u2030\u00db\u00aat like it\r"
              "negative,1,we haven\u00e4\u00f3\u00bbt slept\rpositive,1,Caf\u00e9 au lait what a day\r"
              "positive,1,I\u2030\u00db\u00aall be there\r")
    path = tmp_path / "sample-format.csv"
    path.write_bytes(broken.encode("mac_roman"))
    frame, _ = dataset.read_dataset(str(path))
    assert [clean_tweet(t) for t in frame["text"]] == ["i do not like it", "we have not slept",
                                                        "café au lait what a day", "i will be there"]


def test_no_tweet_of_the_sample_keeps_a_broken_apostrophe():
    frame, _ = dataset.read_dataset("sample")
    cleaned = frame["text"].map(clean_tweet)
    assert not cleaned.str.contains("‰Û|äó»|ûª", regex=True).any()
    assert cleaned.str.contains(r"\bdo not\b", regex=True).sum() > 300
