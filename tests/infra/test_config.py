"""Settings come from CDK context, then the environment, then defaults that deploy as they are."""

from __future__ import annotations

import pytest

from infra.config import InfraConfig


def test_defaults_match_the_shared_configuration_names():
    config = InfraConfig.load(environ={})
    assert config.results_table == "twitter-sentiment-results"
    assert config.worker_count == 2 and config.gpu_worker is False
    assert config.predictor_service_account == "twitter-sentiment:twitter-sentiment-predictor"
    assert config.streamer_service_account == "twitter-sentiment:twitter-sentiment-streamer"


def test_context_wins_over_environment_which_wins_over_defaults():
    context = {"workerCount": "3", "gpuWorker": "true"}
    environ = {"WORKER_COUNT": "5", "DYNAMODB_TABLE": "tweets", "WORKER_INSTANCE_TYPE": "m6i.large"}
    config = InfraConfig.load(context.get, environ)
    assert config.worker_count == 3 and config.gpu_worker is True
    assert config.results_table == "tweets" and config.worker_instance_type == "m6i.large"
    assert config.control_plane_instance_type == "t3.medium"


def test_bad_values_are_refused():
    with pytest.raises(ValueError):
        InfraConfig.load({"gpuWorker": "maybe"}.get, {})
    with pytest.raises(ValueError):
        InfraConfig.load({"streamerServiceAccount": "no-namespace"}.get, {})


def test_the_target_account_and_region_come_from_context_or_the_cli(monkeypatch):
    aws_cdk = pytest.importorskip("aws_cdk", reason="aws-cdk-lib is missing (the project's infra extra)")
    from infra.app import environment

    monkeypatch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
    monkeypatch.delenv("CDK_DEFAULT_REGION", raising=False)
    with pytest.raises(SystemExit, match="-c account="):
        environment(aws_cdk.App())
    env = environment(aws_cdk.App(context={"account": "123456789012", "region": "eu-west-1"}))
    assert (env.account, env.region) == ("123456789012", "eu-west-1")
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "210987654321")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "us-west-2")
    assert environment(aws_cdk.App()).account == "210987654321"


def test_an_invalid_value_is_a_sentence_naming_the_variable():
    from twitter_sentiment.settings import ConfigError

    with pytest.raises(ConfigError, match=r"^WORKER_COUNT='none': Input should be a valid integer"):
        InfraConfig.load(environ={"WORKER_COUNT": "none"})
    with pytest.raises(ConfigError, match=r"^STREAMER_SERVICE_ACCOUNT='no-namespace': String should match"):
        InfraConfig.load(environ={"STREAMER_SERVICE_ACCOUNT": "no-namespace"})


def test_defaults_do_not_read_the_environment(monkeypatch):
    monkeypatch.setenv("WORKER_COUNT", "7")
    assert InfraConfig().worker_count == 2 and InfraConfig.load().worker_count == 7
