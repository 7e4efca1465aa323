"""What a request may carry, and one clear 4xx for anything else.

Malformed input is a 400; input over a limit is a 413. Every message names the problem and, for an
instance, its index; no message quotes a tweet (they end up in logs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from http import HTTPStatus

import orjson
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferRequest


class RequestRejected(InvalidInput):
    """A request we refuse, with its HTTP status (InvalidInput, so KServe never answers it with a 500)."""

    def __init__(self, reason: str, status: int = HTTPStatus.BAD_REQUEST):
        super().__init__(reason)
        self.status = int(status)


def _too_large(reason: str) -> RequestRejected:
    return RequestRejected(reason, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)


@dataclass(frozen=True)
class Limits:
    max_instances: int = 1024
    max_text_length: int = 1000  # characters
    max_body_bytes: int = 4 * 1024 * 1024

    @classmethod
    def from_env(cls, env=os.environ) -> Limits:
        """MAX_INSTANCES, MAX_TEXT_LENGTH, MAX_BODY_BYTES; ValueError names a bad value."""
        values = {}
        for field, name in (("max_instances", "MAX_INSTANCES"), ("max_text_length", "MAX_TEXT_LENGTH"),
                            ("max_body_bytes", "MAX_BODY_BYTES")):
            raw = env.get(name, "").strip()
            if not raw:
                continue
            try:
                values[field] = int(raw)
            except ValueError:
                raise ValueError(f"{name} must be a positive integer, got {raw!r}") from None
            if values[field] <= 0:
                raise ValueError(f"{name} must be a positive integer, got {raw!r}")
        return cls(**values)


def parse_json(body: bytes | str):
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise RequestRejected(f"request body is not valid JSON: {error}") from None


def _check_text(text: str, where: str, limits: Limits) -> str:
    if len(text) > limits.max_text_length:
        raise _too_large(f"{where}: text is {len(text)} characters; the limit is {limits.max_text_length} "
                         f"(MAX_TEXT_LENGTH)")
    return text


def _check_count(count: int, what: str, limits: Limits) -> None:
    if count == 0:
        raise RequestRejected(f"{what} is empty: send at least one tweet")
    if count > limits.max_instances:
        raise _too_large(f"{what} has {count} tweets; the limit is {limits.max_instances} (MAX_INSTANCES): "
                         f"split the batch")


def _type_name(value) -> str:
    return "null" if value is None else {dict: "object", list: "list", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__)


def v1_texts(payload, limits: Limits) -> list[str]:
    """Texts of a KServe v1 body, `{"instances": ["text", {"text": "..."}, ...]}`, in order."""
    if isinstance(payload, (bytes, str)):  # KServe passes the raw body on for a non-JSON content type
        payload = parse_json(payload)
    if not isinstance(payload, dict):
        raise RequestRejected('request body must be a JSON object {"instances": [...]}, '
                              f"got {_type_name(payload)}")
    if "instances" not in payload:
        raise RequestRejected('"instances" is missing: send {"instances": ["tweet text", ...]}')
    instances = payload["instances"]
    if not isinstance(instances, list):
        raise RequestRejected(f'"instances" must be a list, got {_type_name(instances)}')
    _check_count(len(instances), '"instances"', limits)
    texts = []
    for index, instance in enumerate(instances):
        if isinstance(instance, dict):
            if "text" not in instance:
                raise RequestRejected(f'instance {index}: an object needs a "text" field')
            instance = instance["text"]
            if not isinstance(instance, str):
                raise RequestRejected(f'instance {index}: "text" must be a string, '
                                      f"got {_type_name(instance)}")
        elif not isinstance(instance, str):
            raise RequestRejected(f'instance {index}: expected a string or an object with a string "text", '
                                  f'got {_type_name(instance)}')
        texts.append(_check_text(instance, f"instance {index}", limits))
    return texts


def compat_text(body: bytes, limits: Limits) -> str:
    """The text of the original API's body, `{"text": "..."}`."""
    payload = parse_json(body)
    if not isinstance(payload, dict) or "text" not in payload:
        raise RequestRejected('request body must be a JSON object {"text": "tweet text"}')
    if not isinstance(payload["text"], str):
        raise RequestRejected(f'"text" must be a string, got {_type_name(payload["text"])}')
    return _check_text(payload["text"], '"text"', limits)


def _flatten(data: list) -> list:
    """Leaves of nested lists, in order (iterative: a deeply nested body cannot exhaust the stack)."""
    leaves, stack = [], [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            leaves.append(item)
        else:
            stack.pop()
    return leaves


def v2_texts(request: InferRequest, limits: Limits) -> list[str]:
    """Texts of a KServe v2 request: one BYTES input, JSON strings or binary tensor data."""
    if len(request.inputs) != 1:
        raise RequestRejected(f"expected one input of tweet texts (datatype BYTES), "
                              f"got {len(request.inputs)}")
    tensor = request.inputs[0]
    if tensor.datatype != "BYTES":
        raise RequestRejected(f'input "{tensor.name}" has datatype {tensor.datatype}; send tweets as BYTES')
    if tensor._raw_data is not None:  # binary tensor extension: KServe keeps the bytes aside
        try:
            values = tensor.as_numpy().reshape(-1).tolist()
        except Exception as error:  # noqa: BLE001  (KServe's decoder raises several types)
            raise RequestRejected(f'input "{tensor.name}": binary data does not decode: {error}') from None
    elif isinstance(tensor.data, list):
        values = _flatten(tensor.data)
    else:
        raise RequestRejected(f'input "{tensor.name}": "data" must be a list of strings')
    expected = 1
    for dim in tensor.shape or [len(values)]:
        expected *= dim
    if expected != len(values):
        raise RequestRejected(f'input "{tensor.name}": shape {list(tensor.shape)} needs {expected} elements, '
                              f'"data" has {len(values)}')
    _check_count(len(values), f'input "{tensor.name}"', limits)
    texts = []
    for index, value in enumerate(values):
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                raise RequestRejected(f"element {index}: not valid UTF-8") from None
        if not isinstance(value, str):
            raise RequestRejected(f"element {index}: expected a string, got {_type_name(value)}")
        texts.append(_check_text(value, f"element {index}", limits))
    return texts
