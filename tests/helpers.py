"""Test helpers shared by every part's tests: a tiny real bundle, tool lookup, the shared test set."""

from __future__ import annotations

import os
import time
from pathlib import Path

# The processes tests start have one home, shared with the quickstart and the benchmarks.
from twitter_sentiment.processes import ROOT, free_port, model_server, moto_server, running, stop, wait_for_http  # noqa: F401

# sentiment140's public test set: ../shared/data beside the checkout, or where SENTIMENT140_TESTDATA points.
SHARED_TESTDATA = Path(os.environ.get("SENTIMENT140_TESTDATA") or
                       ROOT.parent / "shared" / "data" / "sentiment140_testdata.manual.2009.06.14.csv")


def train_bundle(directory: Path, rows: int, word2vec, classifier, version: str) -> Path:
    """A real bundle from the embedded sample (`rows` of it; 0 = all), through the training steps."""
    from twitter_sentiment import training
    from twitter_sentiment.bundle import update_metadata

    work = directory.parent / f"{directory.name}-work"
    work.mkdir(parents=True, exist_ok=True)
    f = lambda name: str(work / name)
    report = training.fetch("sample", f("raw.csv"), sample_rows=rows, seed=7)
    training.preprocess(f("raw.csv"), f("train.csv"), f("val.csv"), f("test.csv"))
    training.word2vec(f("train.csv"), f("w2v.bin"), word2vec)
    training.classifier(f("train.csv"), f("val.csv"), f("w2v.bin"), str(directory), classifier,
                        metadata={"dataset": {"uri": "sample", "fingerprint": report.fingerprint}})
    update_metadata(directory, {"version": version})
    return directory


def train_tiny_bundle(directory: Path) -> Path:
    """Small enough to train in seconds: for tests."""
    from twitter_sentiment.classifier import preset
    from twitter_sentiment.embeddings import Word2VecParams

    return train_bundle(directory, 1500, Word2VecParams(vector_size=16, min_count=2, epochs=3, workers=1),
                        preset("default", sequence_length=20, units=8, epochs=2, batch_size=128), "test-tiny")


def bench_bundle(given: str | None, work: Path, *, length_aware: bool = True) -> Path:
    """The benchmarks' `--bundle`, or one of the default architecture at full size (300-d vectors, LSTM 100)
    trained now for one quick epoch: layer sizes set the cost. `length_aware=False`: the fixed-length kind."""
    from twitter_sentiment.classifier import preset
    from twitter_sentiment.embeddings import Word2VecParams

    if given:
        return Path(given)
    started = time.monotonic()
    bundle = train_bundle(work / "bundle", 0, Word2VecParams(vector_size=300, min_count=1, epochs=1),
                          preset("default", epochs=1, batch_size=512, length_aware=length_aware), "bench")
    print(f"trained a default-architecture bundle in {time.monotonic() - started:.0f} s: {bundle}")
    return bundle


def require_tool(name: str) -> str:
    """Path of a CLI: the project's tools venv first, then PATH. Missing: fail where CI is set, else skip."""
    import shutil

    import pytest

    candidate = ROOT / ".venv-tools" / "bin" / name
    found = str(candidate) if candidate.is_file() else shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed (requirements/tools.txt, or the system package)"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {message}")
    pytest.skip(message)
