"""Reading datasets and publishing bundles through a real S3 HTTP endpoint (a moto server process)."""

import gzip
import io
import subprocess
import sys
import zipfile

import boto3
import pytest

from tests.helpers import free_port, running
from twitter_sentiment import training
from twitter_sentiment.bundle import BundleError, SentimentModel
from twitter_sentiment.storage import StorageError, s3_client
from twitter_sentiment.store import LATEST, ModelStore, VersionExists

ROWS = '"0","1","d","q","alice","I hate rain"\n"4","2","d","q","bob","I love sun"\n'


@pytest.fixture
def bucket(aws_env):
    name = f"bucket-{free_port()}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def put(bucket, key, body):
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def zipped(text):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("training.1600000.processed.noemoticon.csv", text)
    return buffer.getvalue()


@pytest.mark.parametrize("key, body", [
    ("plain.csv", ROWS.encode("latin-1")),
    ("data.csv.gz", gzip.compress(ROWS.encode("latin-1"))),
    ("data.zip", zipped(ROWS)),
])
def test_fetch_from_s3(bucket, tmp_path, key, body):
    uri = put(bucket, key, body)
    report = training.fetch(uri, str(tmp_path / "out.csv"))
    assert report.rows == 2 and report.format == "sentiment140"
    assert "I love sun" in (tmp_path / "out.csv").read_text()


def test_fetch_sentiment140_testdata_from_s3(bucket, tmp_path, sentiment140_testdata):
    uri = put(bucket, "sentiment140/test.csv", sentiment140_testdata.read_bytes())
    report = training.fetch(uri, str(tmp_path / "out.csv"))
    assert report.rows == 498 and report.skipped == 0


def test_missing_key_names_the_uri(bucket, tmp_path):
    with pytest.raises(StorageError, match=f"s3://{bucket}/absent.csv does not exist"):
        training.fetch(f"s3://{bucket}/absent.csv", str(tmp_path / "out.csv"))


def test_missing_bucket_is_said(aws_env, tmp_path):
    with pytest.raises(StorageError, match="bucket of s3://no-such-bucket-x/k.csv does not exist"):
        training.fetch("s3://no-such-bucket-x/k.csv", str(tmp_path / "out.csv"))


def test_bad_credentials_are_said(tmp_path, monkeypatch):
    """A moto server that checks credentials (INITIAL_NO_AUTH_ACTION_COUNT=0) refuses unknown keys."""
    port = free_port()
    with running([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                 f"http://127.0.0.1:{port}/moto-api/", env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"}):
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDNOTAREALKEY00000")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        s3_client.cache_clear()
        with pytest.raises(StorageError, match=r"access to s3://data/train.csv denied \(InvalidAccessKeyId\)"):
            training.fetch("s3://data/train.csv", str(tmp_path / "out.csv"))
    s3_client.cache_clear()


def test_fetch_component_fails_with_a_sentence(bucket, tmp_path):
    """The component's process exits non-zero and its log names the URI."""
    code = ("from kfp.dsl import Dataset; from components import fetch_dataset; "
            f"fetch_dataset.python_func(dataset_uri='s3://{bucket}/gone.csv', sample_rows=0, seed=1, "
            f"dataset=Dataset(uri='{tmp_path}/d.csv'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"s3://{bucket}/gone.csv does not exist" in result.stderr


def test_publish_to_s3_and_load_back(bucket, tiny_bundle, tmp_path):
    store = ModelStore(f"s3://{bucket}/models/twitter-sentiment")
    assert store.latest() is None
    uri = store.publish(tiny_bundle, "v1")
    assert uri == f"s3://{bucket}/models/twitter-sentiment/v1/"
    assert store.latest() == "v1" and store.versions() == ["v1"]
    with pytest.raises(VersionExists, match="never overwritten"):
        store.publish(tiny_bundle, "v1")
    model = SentimentModel.load(store.fetch(tmp_path / "fetched"))
    assert model.predict(["good"])[0].label in ("NEGATIVE", "NEUTRAL", "POSITIVE")


def test_s3_publish_interrupted_leaves_latest_alone(bucket, tiny_bundle, monkeypatch):
    store = ModelStore(f"s3://{bucket}/models")
    store.publish(tiny_bundle, "v1")
    client = s3_client()
    real_upload = client.upload_file

    def failing_upload(Filename, Bucket, Key, **kw):
        if Key.endswith("metadata.json"):
            raise ConnectionError("network cut")
        return real_upload(Filename, Bucket, Key, **kw)

    monkeypatch.setattr(client, "upload_file", failing_upload)
    with pytest.raises(StorageError, match="network cut"):
        store.publish(tiny_bundle, "v2")
    assert store.latest() == "v1"  # readers still get the whole old model


def test_latest_naming_a_missing_version(bucket, tmp_path):
    put(bucket, f"models/{LATEST}", b"v9")
    with pytest.raises(BundleError, match="names version 'v9', which does not exist"):
        ModelStore(f"s3://{bucket}/models").fetch(tmp_path / "x")
