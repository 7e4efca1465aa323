"""Cheap guards of the core's promises: no framework imports, cleaning rules versioned, bundles matched."""

import hashlib
import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT
from twitter_sentiment.bundle import BUNDLE_FORMAT, MODEL_FILE, VOCABULARY_FILE, BundleError, verify_bundle
from twitter_sentiment.text import CLEANING_VERSION, clean_tweet

# What clean_tweet gives for every text of the embedded sample, per cleaning-rules version. A change to
# the cleaning that keeps CLEANING_VERSION fails here: bump it (bundles trained with the old rules are
# then refused) and record the new digest.
CLEANED_SAMPLE_SHA256 = {
    "1": "1b8cafad8b44610c78523eec28a509c806a2346c4bb904ea47bdad1557dbfaca",  # pragma: allowlist secret
    "2": "436ebb02e09570d28e4afea188a082ad56200894397067a4c79546a00f4f23f3",  # pragma: allowlist secret
}


def test_the_core_imports_no_kfp_kserve_or_tweepy():
    """Every module of the core, imported in a fresh interpreter, pulls in none of the adapters' frameworks."""
    script = (
        "import importlib, pkgutil, sys, twitter_sentiment\n"
        "for m in pkgutil.walk_packages(twitter_sentiment.__path__, 'twitter_sentiment.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted({n.split('.')[0] for n in sys.modules} & {'kfp', 'kserve', 'tweepy'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_contract_and_settings_are_light():
    """Every part imports these, the streamer's image included: no numpy or TensorFlow behind them."""
    script = ("import sys, twitter_sentiment.contract, twitter_sentiment.settings\n"
              "print(sorted({n.split('.')[0] for n in sys.modules} & {'numpy', 'tensorflow', 'keras', 'pandas'}))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


def test_cleaning_rules_do_not_change_without_a_version_bump():
    from twitter_sentiment.dataset import read_dataset

    frame, _ = read_dataset("sample")
    digest = hashlib.sha256("\n".join(clean_tweet(text) for text in frame["text"]).encode()).hexdigest()
    assert CLEANING_VERSION in CLEANED_SAMPLE_SHA256, (
        f"CLEANING_VERSION {CLEANING_VERSION} has no recorded digest: add {digest!r} to CLEANED_SAMPLE_SHA256")
    assert digest == CLEANED_SAMPLE_SHA256[CLEANING_VERSION], (
        f"clean_tweet changed but CLEANING_VERSION is still {CLEANING_VERSION}: bump it "
        f"(bundles trained with the old rules must be refused) and record {digest!r}")


def _bundle(directory, cleaning_version: str):
    """A bundle's files and metadata; the payload is opaque here (verify_bundle checks hashes, not Keras)."""
    directory.mkdir()
    files = {MODEL_FILE: b"model bytes", VOCABULARY_FILE: b'{"words": []}'}
    for name, content in files.items():
        (directory / name).write_bytes(content)
    (directory / "metadata.json").write_text(json.dumps({
        "bundle_format": BUNDLE_FORMAT, "cleaning_version": cleaning_version,
        "files": {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}}))
    return directory


def test_a_bundle_with_this_cleaning_version_is_accepted(tmp_path):
    assert verify_bundle(_bundle(tmp_path / "same", CLEANING_VERSION))["cleaning_version"] == CLEANING_VERSION


@pytest.mark.parametrize("other", ["0", f"{CLEANING_VERSION}.1", None])
def test_a_bundle_with_another_cleaning_version_is_refused(tmp_path, other):
    with pytest.raises(BundleError, match=f"trained with cleaning rules v{other}, this code cleans with "
                                          f"v{CLEANING_VERSION}"):
        verify_bundle(_bundle(tmp_path / "other", other))
