"""The store's versions: list, show, compare, promote, roll back; one resolver of LATEST. Local and S3 (moto)."""

import json
import shutil
import subprocess
import sys

import pytest

from pipelines.__main__ import main
from tests.helpers import ROOT
from twitter_sentiment.bundle import BundleError, update_metadata
from twitter_sentiment.store import HISTORY, LATEST, ModelStore, locate


def bundle_with(tiny_bundle, tmp_path, name: str, accuracy: float, fingerprint: str):
    """The tiny bundle with the provenance export would add (what `versions` shows)."""
    bundle = shutil.copytree(tiny_bundle, tmp_path / name)
    update_metadata(bundle, {"created": f"2026-12-0{len(name)}T02:00:00+00:00", "code_version": f"0.1.0+{name}",
                             "dataset": {"uri": "sample", "fingerprint": fingerprint},
                             "evaluation": {"model": {"accuracy": accuracy, "f1": accuracy - 0.1, "roc_auc": 0.8,
                                                      "log_loss": 0.5},
                                            "public": {"accuracy": accuracy - 0.05},
                                            "decision": {"reason": f"why {name}"}}})
    return bundle


@pytest.fixture(params=["local", "s3"])
def store(request, tiny_bundle, tmp_path):
    """A store holding v1 then v2 (v2 is LATEST), on a local directory or S3 through the moto server."""
    if request.param == "s3":
        import boto3

        endpoint = request.getfixturevalue("aws_env")
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=f"versions-{tmp_path.name[-12:].lower()}")
        uri = f"s3://versions-{tmp_path.name[-12:].lower()}/models/twitter-sentiment"
    else:
        uri = str(tmp_path / "store")
    store = ModelStore(uri)
    store.publish(bundle_with(tiny_bundle, tmp_path, "v1", 0.78, "a" * 64), "v1")
    store.publish(bundle_with(tiny_bundle, tmp_path, "v2", 0.74, "b" * 64), "v2")
    return store


def cli(capsys, store, *args) -> tuple[int, str, str]:
    code = main(["versions", "--store", store.uri, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_shows_metrics_fingerprint_code_version_and_date(store, capsys):
    code, out, _ = cli(capsys, store, "--json", "list")
    assert code == 0
    rows = {row["version"]: row for row in json.loads(out)}
    assert rows["v1"]["accuracy"] == 0.78 and rows["v1"]["public_accuracy"] == pytest.approx(0.73)
    assert rows["v1"]["dataset_fingerprint"] == "a" * 64 and rows["v1"]["code_version"] == "0.1.0+v1"
    assert rows["v1"]["created"].startswith("2026-12-02") and rows["v1"]["decision"] == "why v1"
    assert rows["v2"]["champion"] is True and rows["v1"]["champion"] is False
    code, out, _ = cli(capsys, store, "list")  # the table a person reads
    header, first, second = out.splitlines()
    assert header.split()[:3] == ["version", "champion", "created"]
    assert first.split()[:2] == ["v1", "2026-12-02T02:00:00+00:00"] and "0.7800" in first
    assert second.split()[:2] == ["v2", "*"]


def test_show_and_compare(store, capsys):
    code, out, _ = cli(capsys, store, "show", "v1")
    assert code == 0 and "dataset_fingerprint" in out and "a" * 64 in out
    code, out, _ = cli(capsys, store, "--json", "compare", "v1", "v2")
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["accuracy"]["v1"] == 0.78 and rows["accuracy"]["difference"] == pytest.approx(-0.04)
    assert rows["dataset_fingerprint"]["difference"] == "differs"
    assert rows["cleaning_version"]["difference"] == "same"


def test_promote_then_rollback_then_rollback_again(store, capsys):
    code, out, _ = cli(capsys, store, "promote", "v1")
    assert code == 0 and "now names v1 (was v2)" in out and store.latest() == "v1"
    assert cli(capsys, store, "rollback")[0] == 0 and store.latest() == "v2"
    assert cli(capsys, store, "rollback")[0] == 0 and store.latest() == "v1"  # like `cd -`
    assert cli(capsys, store, "promote", "v1")[0] == 0  # already the champion: no change, none recorded
    assert [(e["action"], e["version"], e["previous"]) for e in store.history()] == [
        ("publish", "v1", None), ("publish", "v2", "v1"), ("promote", "v1", "v2"), ("rollback", "v2", "v1"),
        ("rollback", "v1", "v2")]


def test_latest_prints_what_the_deploy_serves(store, capsys):
    assert cli(capsys, store, "latest")[1] == "v2\n"
    assert cli(capsys, store, "latest", "--uri")[1] == f"{store.uri}/v2/\n"


def test_promoting_a_missing_version_is_one_sentence(store, capsys):
    code, _, err = cli(capsys, store, "promote", "v9")
    assert code == 1 and err.startswith("error: ") and "'v9' is not a published version" in err
    assert store.latest() == "v2"


def test_promoting_a_corrupt_version_is_refused(tiny_bundle, tmp_path, capsys):
    store = ModelStore(str(tmp_path / "store"))
    store.publish(tiny_bundle, "v1")
    store.publish(tiny_bundle, "v2")
    (tmp_path / "store" / "v1" / "model.keras").write_bytes(b"broken")
    code, _, err = cli(capsys, store, "promote", "v1")
    assert code == 1 and "does not match its sha256" in err and store.latest() == "v2"


def test_rollback_without_history_says_so(tiny_bundle, tmp_path, capsys):
    store = ModelStore(str(tmp_path / "store"))
    store.publish(tiny_bundle, "v1")
    code, _, err = cli(capsys, store, "rollback")
    assert code == 1 and "records no champion before 'v1'" in err and store.latest() == "v1"
    (tmp_path / "store" / HISTORY).unlink()  # a store published before HISTORY existed
    assert cli(capsys, store, "rollback")[0] == 1


def test_latest_of_an_empty_store_exits_1(tmp_path, capsys):
    code, _, err = cli(capsys, ModelStore(str(tmp_path / "none")), "latest")
    assert code == 1 and "has no LATEST" in err


def test_latest_holding_garbage_is_refused(store):
    store._write_root(LATEST, "../../etc\n")
    with pytest.raises(BundleError, match="not a version name"):
        store.latest()


def test_locate_is_the_one_resolver(store):
    located, version = locate(store.uri)
    assert located.uri == store.uri and version == "v2"
    located, version = locate(store.version_uri("v1"))
    assert located.uri == store.uri and version == "v1"


def test_versions_command_runs_as_the_deploy_job_calls_it(tiny_bundle, tmp_path):
    """`python -m pipelines versions --store URI latest --uri`, as ci/deploy.sh runs it."""
    store = ModelStore(str(tmp_path / "store"))
    store.publish(tiny_bundle, "v1")
    result = subprocess.run([sys.executable, "-m", "pipelines", "versions", "--store", store.uri, "latest", "--uri"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0 and result.stdout == f"{store.uri}/v1/\n"
