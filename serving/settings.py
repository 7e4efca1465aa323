"""The model server's settings (docs/configuration.md), read once at start through the project's one
settings mechanism. KServe's own flags (`--workers`, `--enable_grpc`, ...) stay on KServe's parser."""

from __future__ import annotations

from pydantic import Field, PositiveInt, ValidationInfo, field_validator

from twitter_sentiment import contract
from twitter_sentiment.settings import Settings

# The most bytes one character takes in a JSON body: an astral character (an emoji) as a surrogate
# pair, "\ud83d\ude00", which Python's json.dumps writes by default (ensure_ascii).
JSON_BYTES_PER_CHARACTER = 12
JSON_BYTES_PER_INSTANCE = 32  # quotes, comma, an {"text": ...} wrapper and pretty-printing
JSON_ENVELOPE_BYTES = 64 * 1024  # {"instances": ...} or a v2 header, with room for parameters


def largest_request_bytes(max_instances: int, max_text_length: int) -> int:
    """Body size of the largest request the instance and text limits allow, written as JSON."""
    return (max_instances * (max_text_length * JSON_BYTES_PER_CHARACTER + JSON_BYTES_PER_INSTANCE)
            + JSON_ENVELOPE_BYTES)


class ServingSettings(Settings):
    storage_uri: str = "/mnt/models"
    model_name: str = Field(contract.MODEL_NAME, min_length=1)
    http_host: str = "0.0.0.0"  # every interface in a pod; 127.0.0.1 on a shared machine
    http_port: int = Field(8080, ge=1, le=65535)
    max_instances: PositiveInt = contract.MAX_INSTANCES
    max_text_length: PositiveInt = contract.MAX_TEXT_LENGTH
    max_body_bytes: PositiveInt | None = None  # None: the largest request the two limits above allow
    # A client has this long to send a request's head, and again its body: slow or stalled clients
    # must not hold connections forever.
    request_read_seconds: float = Field(30.0, gt=0)
    # false: score with Keras' own LSTM instead of the folded one (twitter_sentiment/folded.py); the
    # same scores, slower: for comparing the two, or ruling the fold out.
    fold_recurrent: bool = True

    @field_validator("max_body_bytes")
    @classmethod
    def _fits_the_largest_request(cls, value: int | None, info: ValidationInfo) -> int | None:
        if "max_instances" not in info.data or "max_text_length" not in info.data:
            return value  # their own error says why
        needed = largest_request_bytes(info.data["max_instances"], info.data["max_text_length"])
        if value is None:
            return needed
        if value < needed:
            raise ValueError(f"must be at least {needed}, the size of the largest request MAX_INSTANCES and "
                             f"MAX_TEXT_LENGTH allow once JSON-escaped: raise it, or leave it unset")
        return value
