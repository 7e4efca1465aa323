"""Settings from the environment: the names of docs/configuration.md, with their defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


def _int(env: dict, name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "")
    try:
        value = int(raw) if raw.strip() else default
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def _float(env: dict, name: str, default: float) -> float:
    raw = env.get(name, "")
    try:
        value = float(raw) if raw.strip() else default
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise ConfigError(f"{name}={value} must not be negative")
    return value


def _choice(env: dict, name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return value


@dataclass(frozen=True)
class Settings:
    source: str = "replay"
    x_bearer_token: str = field(default="", repr=False)  # a secret: never in a repr or a log
    stream_rules: str = ""
    stream_language: str = "en"
    replay_file: str = ""
    replay_rate: float = 0.0
    model_server_url: str = "http://localhost:8080"
    model_name: str = "twitter-sentiment"
    max_text_length: int = 1000  # the model server's MAX_TEXT_LENGTH: both read the same variable
    batch_size: int = 64
    batch_max_wait_ms: int = 50
    queue_size: int = 10000
    sink: str = "sqlite"
    dynamodb_table: str = "twitter-sentiment-results"
    sqlite_path: str = "./results.sqlite"
    shutdown_grace_seconds: float = 25.0
    health_port: int = 8000

    @classmethod
    def from_env(cls, env: dict | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        settings = cls(
            source=_choice(env, "SOURCE", "replay", ("x", "replay")),
            x_bearer_token=env.get("X_BEARER_TOKEN", ""),
            stream_rules=env.get("STREAM_RULES", ""),
            stream_language=env.get("STREAM_LANGUAGE", "en").strip(),
            replay_file=env.get("REPLAY_FILE", ""),
            replay_rate=_float(env, "REPLAY_RATE", 0.0),
            model_server_url=(env.get("MODEL_SERVER_URL") or "http://localhost:8080").rstrip("/"),
            model_name=env.get("MODEL_NAME") or "twitter-sentiment",
            max_text_length=_int(env, "MAX_TEXT_LENGTH", 1000, 1),
            batch_size=_int(env, "BATCH_SIZE", 64, 1),
            batch_max_wait_ms=_int(env, "BATCH_MAX_WAIT_MS", 50, 0),
            queue_size=_int(env, "QUEUE_SIZE", 10000, 1),
            sink=_choice(env, "SINK", "sqlite", ("sqlite", "dynamodb")),
            dynamodb_table=env.get("DYNAMODB_TABLE") or "twitter-sentiment-results",
            sqlite_path=env.get("SQLITE_PATH") or "./results.sqlite",
            shutdown_grace_seconds=_float(env, "SHUTDOWN_GRACE_SECONDS", 25.0),
            health_port=_int(env, "HEALTH_PORT", 8000, 0),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.source == "x":
            if not self.x_bearer_token:
                raise ConfigError("SOURCE=x needs X_BEARER_TOKEN (the Secret x-api)")
            if not self.stream_rules.strip():
                raise ConfigError("SOURCE=x needs STREAM_RULES: a filtered stream without rules delivers nothing")
        if self.source == "replay" and not self.replay_file:
            raise ConfigError("SOURCE=replay needs REPLAY_FILE (make one with `python -m streamer.replay`)")
        if self.batch_size > 1024:
            raise ConfigError(f"BATCH_SIZE={self.batch_size}: the model server takes at most 1024 instances")

    @property
    def predict_url(self) -> str:
        return f"{self.model_server_url}/v1/models/{self.model_name}:predict"

    @property
    def ready_url(self) -> str:
        return f"{self.model_server_url}/v2/models/{self.model_name}/ready"
