"""Every command the README names turns a missing, unreachable or malformed setting into one sentence
naming the variable and a failed exit, before any long work and without a traceback (issue 17).

The model server's and the streamer's own commands are tested by their parts."""

import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT, free_port

KEYS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


def closed_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


def run(command: list[str], env: dict, tmp_path) -> subprocess.CompletedProcess:
    # A clean slate: none of the caller's AWS, sink or pipeline variables leak in.
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("AWS_") and k not in ("SINK", "DYNAMODB_TABLE", "MODEL_STORE_URI", "KFP_HOST")}
    return subprocess.run(command, env={**base, "AWS_CONFIG_FILE": str(tmp_path / "none"),
                                        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), **env},
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


QUICKSTART_CASES = {
    "missing region": ({"SINK": "dynamodb", "AWS_ENDPOINT_URL_DYNAMODB": "CLOSED", **KEYS},
                       "AWS_REGION is not set"),
    "unreachable endpoint": ({"SINK": "dynamodb", "AWS_ENDPOINT_URL_DYNAMODB": "CLOSED", "AWS_REGION": "us-east-1",
                              **KEYS}, "AWS_ENDPOINT_URL_DYNAMODB='CLOSED': DynamoDB does not answer there"),
    "unreachable AWS": ({"SINK": "dynamodb", "AWS_REGION": "eu-west-1", **KEYS},
                        "AWS_REGION='eu-west-1': DynamoDB does not answer there"),
    "missing credentials": ({"SINK": "dynamodb", "AWS_ENDPOINT_URL_DYNAMODB": "CLOSED", "AWS_REGION": "us-east-1"},
                            "AWS_ACCESS_KEY_ID is not set"),
    "malformed sink": ({"SINK": "dynamo"}, "SINK='dynamo': Input should be 'sqlite' or 'dynamodb'"),
    "malformed endpoint": ({"SINK": "dynamodb", "AWS_ENDPOINT_URL_DYNAMODB": "localhost:8000"},
                           "AWS_ENDPOINT_URL_DYNAMODB='localhost:8000'"),
    "malformed streamer setting": ({"SINK": "dynamodb", "BATCH_SIZE": "lots"}, "BATCH_SIZE='lots'"),
}


def _case(case: str) -> tuple[dict, str]:
    env, sentence = QUICKSTART_CASES[case]
    endpoint = closed_endpoint()
    return ({k: v.replace("CLOSED", endpoint) for k, v in env.items()}, sentence.replace("CLOSED", endpoint))


@pytest.mark.parametrize("case", QUICKSTART_CASES)
def test_quickstart_checks_its_settings_before_training(case, tmp_path):
    env, sentence = _case(case)
    result = run([sys.executable, "-m", "quickstart", "--results", str(tmp_path / "results"),
                  "--model-store", str(tmp_path / "store"), "--port", str(free_port())], env, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("[quickstart] error: ") and sentence in lines[0], result.stderr
    # Nothing long started: no training log, no model store, no DynamoDB Local.
    assert not (tmp_path / "results" / "logs" / "train.log").exists() and not (tmp_path / "store").exists()
    assert "DynamoDB Local" not in result.stdout


@pytest.mark.parametrize("case", ["missing region", "unreachable endpoint", "malformed sink"])
def test_make_run_says_the_same_sentence(case, tmp_path):
    """GNU make itself exits 2 when a recipe fails and adds its own `Error 1` line; the sentence is ours."""
    env, sentence = _case(case)
    result = run(["make", "-s", "run", f"ARGS=--results {tmp_path / 'results'} --port {free_port()}"], env, tmp_path)
    assert result.returncode != 0 and sentence in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "results" / "logs" / "train.log").exists()


@pytest.mark.parametrize("args, env, sentence", [
    (["run-local", "--param", "trainable_embedding=ture"], {},
     "--param trainable_embedding='ture': Input should be a valid boolean"),
    (["run-local", "--param", "epochs=ten"], {}, "--param epochs='ten': Input should be a valid integer"),
    (["run-local"], {"MODEL_STORE_URI": "s3://"}, "MODEL_STORE_URI='s3://'"),
    (["run-local", "--model-store", "s3://models/twitter-sentiment"],
     {"AWS_ENDPOINT_URL_S3": "CLOSED", "AWS_REGION": "us-east-1", **KEYS}, "check AWS_ENDPOINT_URL_S3='CLOSED'"),
    (["upload"], {}, "MODEL_STORE_URI is not set"),  # KFP itself is reached through the kube context
    (["upload"], {"KFP_HOST": "localhost:8888"}, "KFP_HOST='localhost:8888'"),
])
def test_pipelines_cli_names_the_setting(args, env, sentence, tmp_path):
    endpoint = closed_endpoint()
    env = {k: v.replace("CLOSED", endpoint) for k, v in env.items()}
    artifacts = ["--artifacts", str(tmp_path / "art")] if args[0] == "run-local" else []
    result = run([sys.executable, "-m", "pipelines", *args, *artifacts], env, tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and sentence.replace("CLOSED", endpoint) in lines[-1], result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "art").exists()


def test_make_train_says_the_sentence(tmp_path):
    result = run(["make", "-s", "train"], {"MODEL_STORE_URI": "s3://"}, tmp_path)
    assert result.returncode != 0 and "error: MODEL_STORE_URI='s3://'" in result.stderr
    assert "Traceback" not in result.stderr
