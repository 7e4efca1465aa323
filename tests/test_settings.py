"""The one settings mechanism: typed, strict, and every error a sentence naming the variable."""

from typing import Literal

import pytest
from pydantic import Field, SecretStr

from twitter_sentiment.settings import ConfigError, Settings, load


class Example(Settings):
    source: Literal["x", "replay"] = "replay"
    batch_size: int = Field(64, ge=1)
    enabled: bool = False
    x_bearer_token: SecretStr = SecretStr("")


def test_reads_typed_values_from_the_given_environment_only():
    settings = load(Example, {"SOURCE": "x", "BATCH_SIZE": "5", "ENABLED": "true", "X_BEARER_TOKEN": "t0ken"})
    assert (settings.source, settings.batch_size, settings.enabled) == ("x", 5, True)
    assert settings.x_bearer_token.get_secret_value() == "t0ken"
    assert "t0ken" not in repr(settings)


def test_empty_values_fall_back_to_defaults():
    assert load(Example, {"BATCH_SIZE": ""}).batch_size == 64


@pytest.mark.parametrize("env, sentence", [
    ({"SOURCE": "y"}, "SOURCE='y': Input should be 'x' or 'replay'"),
    ({"BATCH_SIZE": "0"}, "BATCH_SIZE='0': Input should be greater than or equal to 1"),
    ({"ENABLED": "ture"}, "ENABLED='ture': Input should be a valid boolean"),  # not silently False
])
def test_an_invalid_value_is_one_sentence_naming_the_variable(env, sentence):
    with pytest.raises(ConfigError) as error:
        load(Example, env)
    assert str(error.value).startswith(sentence)


def test_a_secret_never_appears_in_an_error():
    class Strict(Settings):
        x_bearer_token: SecretStr = Field(min_length=40)

    with pytest.raises(ConfigError) as error:
        load(Strict, {"X_BEARER_TOKEN": "leaked-value"})
    assert "X_BEARER_TOKEN" in str(error.value) and "leaked-value" not in str(error.value)
