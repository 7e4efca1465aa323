import json
import shutil
from datetime import UTC

import pytest

from twitter_sentiment import store as store_module
from twitter_sentiment.bundle import BUNDLE_FORMAT, BundleError, SentimentModel, Thresholds, verify_bundle
from twitter_sentiment.store import LATEST, ModelStore, VersionExists, new_version


def copy(bundle, tmp_path, name="copy"):
    return shutil.copytree(bundle, tmp_path / name)


def test_publish_writes_version_then_latest(tiny_bundle, tmp_path):
    store = ModelStore(str(tmp_path / "store"))
    assert store.latest() is None
    store.publish(tiny_bundle, "v1")
    assert store.latest() == "v1"
    assert sorted(p.name for p in (tmp_path / "store" / "v1").iterdir()) == [
        "metadata.json", "model.keras", "vocabulary.json"]
    store.publish(tiny_bundle, "v2")
    assert store.latest() == "v2" and store.versions() == ["v1", "v2"]


def test_a_version_is_never_overwritten(tiny_bundle, tmp_path):
    store = ModelStore(str(tmp_path / "store"))
    store.publish(tiny_bundle, "v1")
    before = (tmp_path / "store" / "v1" / "metadata.json").read_bytes()
    with pytest.raises(VersionExists):
        store.publish(tiny_bundle, "v1")
    assert (tmp_path / "store" / "v1" / "metadata.json").read_bytes() == before


def test_never_half_a_model(tiny_bundle, tmp_path, monkeypatch):
    store = ModelStore(str(tmp_path / "store"))
    store.publish(tiny_bundle, "v1")
    real_copy = shutil.copyfile

    def copy_that_dies(src, dst, *a, **k):
        if str(dst).endswith("vocabulary.json"):
            raise OSError("disk full")
        return real_copy(src, dst, *a, **k)

    monkeypatch.setattr(store_module.shutil, "copyfile", copy_that_dies)
    with pytest.raises(OSError, match="disk full"):
        store.publish(tiny_bundle, "v2")
    assert store.latest() == "v1"
    assert store.versions() == ["v1"]  # no partial v2 directory, no staging leftovers visible
    assert not (tmp_path / "store" / "v2").exists()


def test_publish_refuses_an_incomplete_bundle(tiny_bundle, tmp_path):
    bundle = copy(tiny_bundle, tmp_path)
    (bundle / "vocabulary.json").unlink()
    with pytest.raises(BundleError, match="vocabulary.json is missing"):
        ModelStore(str(tmp_path / "store")).publish(bundle, "v1")
    assert not (tmp_path / "store").exists() or ModelStore(str(tmp_path / "store")).latest() is None


def test_corrupt_model_file_is_refused(tiny_bundle, tmp_path):
    bundle = copy(tiny_bundle, tmp_path)
    with open(bundle / "model.keras", "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    with pytest.raises(BundleError, match="does not match its sha256"):
        SentimentModel.load(bundle)


def test_incompatible_format_is_refused(tiny_bundle, tmp_path):
    bundle = copy(tiny_bundle, tmp_path)
    metadata = json.loads((bundle / "metadata.json").read_text())
    metadata["bundle_format"] = BUNDLE_FORMAT + 1
    (bundle / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(BundleError, match="bundle format 2"):
        verify_bundle(bundle)


def test_latest_naming_missing_version(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / LATEST).write_text("ghost\n")
    with pytest.raises(BundleError, match="names version 'ghost', which does not exist"):
        ModelStore(str(tmp_path / "store")).fetch(tmp_path / "out")


def test_fetch_round_trip_predicts_the_same(tiny_bundle, tmp_path):
    store = ModelStore(str(tmp_path / "store"))
    store.publish(tiny_bundle, "v1")
    texts = ["I love it", "I hate it", "not good at all"]
    original = SentimentModel.load(tiny_bundle).predict(texts)
    fetched = SentimentModel.load(store.fetch(tmp_path / "fetched"))
    assert fetched.predict(texts) == original


def test_predictions_are_ordered_labelled_and_batch_invariant(tiny_bundle):
    model = SentimentModel.load(tiny_bundle)
    texts = ["I love this so much", "worst day ever", "ok", "", "😂😂😂", "the end"]
    batch = model.predict(texts)
    assert [p.score for p in batch] == pytest.approx([model.predict([t])[0].score for t in texts], abs=1e-5)
    for prediction in batch:
        assert 0.0 <= prediction.score <= 1.0
        assert prediction.label == model.thresholds.label(prediction.score)


def test_thresholds():
    t = Thresholds(0.4, 0.7)
    assert [t.label(s) for s in (0.0, 0.4, 0.41, 0.69, 0.7, 1.0)] == [
        "NEGATIVE", "NEGATIVE", "NEUTRAL", "NEUTRAL", "POSITIVE", "POSITIVE"]


def test_version_names_sort_by_time():
    from datetime import datetime

    a = new_version("abcdef123", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    b = new_version("000000", datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC))
    assert a == "20260102T030405Z-abcdef" and a < b
