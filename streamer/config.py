"""The streamer's settings: the variables of docs/configuration.md, typed, with their defaults."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from twitter_sentiment import contract
from twitter_sentiment.settings import ConfigError, Settings, load

__all__ = ["ConfigError", "StreamerSettings", "load"]


# The settings a source cannot run without, and why.
NEEDED_BY_SOURCE = {"x_bearer_token": ("x", " (the Secret x-api)"),
                    "stream_rules": ("x", ": a filtered stream without rules delivers nothing"),
                    "replay_file": ("replay", " (make one with `python -m streamer.replay`)")}


class StreamerSettings(Settings):
    source: Literal["x", "replay"] = "replay"
    x_bearer_token: SecretStr = SecretStr("")
    x_api_url: str = "https://api.twitter.com"  # tweepy's host; another only for a recorded X API in tests
    stream_rules: str = ""
    stream_language: str = "en"
    backfill_minutes: int = Field(0, ge=0, le=5)  # X API v2: 1-5 on reconnect, where the tier allows it
    replay_file: str = ""
    replay_rate: float = Field(0.0, ge=0)
    model_server_url: str = "http://localhost:8080"
    model_name: str = Field(contract.MODEL_NAME, min_length=1)
    max_text_length: int = Field(contract.MAX_TEXT_LENGTH, ge=1)  # the model server reads the same variables
    max_instances: int = Field(contract.MAX_INSTANCES, ge=1)
    batch_size: int = Field(512, ge=1)  # per request: the model server's per-request cost is shared by more tweets
    batch_max_wait_ms: int = Field(50, ge=0)
    queue_size: int = Field(10000, ge=1)
    sink: Literal["sqlite", "dynamodb"] = "sqlite"
    dynamodb_table: str = Field(contract.RESULTS_TABLE, min_length=3, max_length=255)
    sqlite_path: str = "./results.sqlite"
    journal_dir: str = ""  # received-but-unstored tweets survive a crash here; empty: no journal
    shutdown_grace_seconds: float = Field(25.0, gt=0)
    stall_seconds: float = Field(600.0, gt=0)  # /livez fails when tweets wait this long with nothing stored
    health_port: int = Field(8000, ge=0, le=65535)
    shadow_model_server_url: str = ""  # a challenger's predictor: compared on a sample, never stored
    shadow_sample: float = Field(0.0, ge=0, le=1)  # share of batches also sent to the shadow; 0: off

    @field_validator("x_bearer_token", "stream_rules", "replay_file")
    @classmethod
    def _needed_by_source(cls, value: str | SecretStr, info: ValidationInfo) -> str | SecretStr:
        source, why = NEEDED_BY_SOURCE[info.field_name]
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if info.data.get("source") == source and not text.strip():
            raise ValueError(f"SOURCE={source} needs it{why}")
        return value

    @field_validator("batch_size")
    @classmethod
    def _fits_one_request(cls, value: int, info: ValidationInfo) -> int:
        limit = info.data.get("max_instances", contract.MAX_INSTANCES)
        if value > limit:
            raise ValueError(f"the model server takes at most MAX_INSTANCES={limit} instances")
        return value

    @field_validator("shadow_sample")
    @classmethod
    def _shadow_needs_a_server(cls, value: float, info: ValidationInfo) -> float:
        if value > 0 and not info.data.get("shadow_model_server_url"):
            raise ValueError("a shadow sample needs SHADOW_MODEL_SERVER_URL")
        return value

    @field_validator("model_server_url", "x_api_url", "shadow_model_server_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def predict_url(self) -> str:
        return self.model_server_url + contract.predict_path(self.model_name)

    @property
    def ready_url(self) -> str:
        return self.model_server_url + contract.ready_path(self.model_name)
