"""A bundle that cannot be served stops `python -m serving` at start: exit status 1, one log line."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys

import pytest

from serving.__main__ import main
from tests.helpers import ROOT
from twitter_sentiment.bundle import update_metadata


def broken(tiny_bundle, tmp_path, how: str):
    bundle = shutil.copytree(tiny_bundle, tmp_path / "bundle")
    if how == "missing file":
        (bundle / "model.keras").unlink()
    elif how == "corrupt":
        (bundle / "model.keras").write_bytes(b"PK\x03\x04 not a keras archive")
    elif how == "incompatible":
        update_metadata(bundle, {"bundle_format": 2})
    elif how == "latest names a missing version":
        shutil.rmtree(bundle)
        bundle.mkdir()
        (bundle / "LATEST").write_text("20260101T000000Z\n")
    elif how == "no bundle":
        shutil.rmtree(bundle)
    return bundle


CASES = [
    ("missing file", {}, "model.keras is missing"),
    ("corrupt", {}, "model.keras does not match its sha256"),
    ("incompatible", {}, "bundle format 2, this code reads format 1"),
    ("latest names a missing version", {}, "LATEST names version '20260101T000000Z', which does not exist"),
    ("no bundle", {}, "no such directory"),
]


@pytest.mark.parametrize("how, env, message", CASES, ids=[c[0] for c in CASES])
def test_a_bundle_that_cannot_be_served_stops_the_start(tiny_bundle, tmp_path, monkeypatch, caplog, how, env,
                                                        message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bundle = broken(tiny_bundle, tmp_path, how)
    with caplog.at_level(logging.INFO):
        status = main(["--storage_uri", str(bundle), "--configure_logging", "false"])
    assert status == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and message in errors[0].getMessage(), [r.getMessage() for r in errors]
    assert errors[0].getMessage().startswith(f"cannot serve STORAGE_URI={bundle}: ")


@pytest.mark.slow
def test_the_process_exits_non_zero_with_one_line(tiny_bundle, tmp_path):
    """The real entry point, two broken bundles side by side: status 1, and one line of output each."""
    runs = {}
    for how in ("corrupt", "latest names a missing version"):
        bundle = broken(tiny_bundle, tmp_path / how.replace(" ", "-"), how)
        runs[how] = subprocess.Popen([sys.executable, "-m", "serving"], cwd=ROOT, env={
            "PATH": "/usr/bin:/bin", "STORAGE_URI": str(bundle), "HTTP_PORT": "1"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for process in runs.values():
        output, _ = process.communicate(timeout=60)
        lines = output.strip().splitlines()
        assert process.returncode == 1 and len(lines) == 1, output
        assert "ERROR serving: cannot serve STORAGE_URI=" in lines[0]


BAD_SETTINGS = [
    ({"MAX_TEXT_LENGTH": "lots"}, "MAX_TEXT_LENGTH='lots': Input should be a valid integer"),
    ({"MAX_INSTANCES": "0"}, "MAX_INSTANCES='0': Input should be greater than 0"),
    ({"MAX_BODY_BYTES": "4096"}, "MAX_BODY_BYTES='4096': must be at least"),
    ({"HTTP_PORT": "eighty"}, "HTTP_PORT='eighty': Input should be a valid integer"),
    ({"REQUEST_READ_SECONDS": "-1"}, "REQUEST_READ_SECONDS='-1': Input should be greater than 0"),
]


@pytest.mark.slow
def test_a_bad_setting_stops_the_process_with_one_sentence(tiny_bundle):
    """The real entry point: exit 1 and one line naming the variable, no traceback, for each bad setting
    (started side by side: each exits before importing TensorFlow's model)."""
    runs = []
    for env, sentence in BAD_SETTINGS:
        runs.append((sentence, subprocess.Popen(
            [sys.executable, "-m", "serving"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env={"PATH": "/usr/bin:/bin", "STORAGE_URI": str(tiny_bundle), "HTTP_PORT": "1", **env})))
    for sentence, process in runs:
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 1, output
        assert output.strip().splitlines() == [output.strip()] and "Traceback" not in output, output
        assert output.startswith(f"python -m serving: {sentence}"), output


def test_serving_imports_neither_kfp_nor_gensim():
    """The serving image carries only the `serve` extra."""
    code = ("import sys, serving.__main__, serving.app, serving.loading; "
            "print(sorted(m for m in ('kfp', 'gensim', 'tweepy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_the_server_runs_numpy_on_one_blas_thread():
    """OpenBLAS reads its thread count once, when NumPy loads it: serving's entry point must set it first."""
    code = ("import serving.__main__, threadpoolctl; "
            "print(sorted({p['num_threads'] for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas'}))")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                            env=env)
    assert result.stdout.strip() == "[1]"
