"""One way to read settings from the environment, for every part (12-factor).

Each part declares a `Settings` subclass with typed fields; a field's name is its variable
(`batch_size` reads `BATCH_SIZE`). `load` turns pydantic's errors into one `ConfigError` whose
sentence names the variable, so every entry point can print it and exit 1 without a traceback.
Secrets are `SecretStr`: they never show in a repr, a log line or an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


class Settings(BaseSettings):
    # Unknown variables are the rest of the environment; frozen: settings are read once.
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True,
                                      env_ignore_empty=True, validate_default=True)


S = TypeVar("S", bound=Settings)


def load(cls: type[S], env: Mapping[str, str] | None = None, **overrides) -> S:
    """`cls` from `env` (default: os.environ) and `overrides`; ConfigError names each bad variable."""
    env = os.environ if env is None else env
    names = {name.upper() for name in cls.model_fields}
    values = {key.lower(): value for key, value in env.items() if key.upper() in names and value != ""}
    values.update(overrides)
    try:
        # Values come from `env` alone, so a test's dict is not mixed with the process's environment.
        return cls.model_validate(values)
    except ValidationError as error:
        raise ConfigError(describe(error, env)) from None


def describe(error: ValidationError, env: Mapping[str, str]) -> str:
    sentences = []
    for problem in error.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in problem["loc"]).upper() or "settings"
        shown = "" if "SECRET" in name or "TOKEN" in name or name not in env else f"={env[name]!r}"
        message = problem["msg"].removeprefix("Value error, ")
        sentences.append(f"{name}{shown}: {message}")
    return "; ".join(sentences)
