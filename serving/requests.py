"""What a request may carry, and one clear 4xx for anything else.

Malformed input is a 400; input over a limit is a 413. Every message names the problem and, for an
instance, its index; no message quotes a tweet (they end up in logs).
"""

from __future__ import annotations

import struct
from http import HTTPStatus

import orjson
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferRequest

from serving.settings import ServingSettings
from twitter_sentiment.text import CLEANING_VERSION, TOO_LONG, TextRejected, scorable_text


class RequestRejected(InvalidInput):
    """A request we refuse, with its HTTP status (InvalidInput, so KServe never answers it with a 500)."""

    def __init__(self, reason: str, status: int = HTTPStatus.BAD_REQUEST):
        super().__init__(reason)
        self.status = int(status)


def _too_large(reason: str) -> RequestRejected:
    return RequestRejected(reason, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)


def parse_json(body: bytes | str):
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise RequestRejected(f"request body is not valid JSON: {error}") from None


def _check_text(text: str, where: str, limits: ServingSettings, clean: str | None = None) -> str:
    """The cleaned text to score (the streamer's rule too), or a 400 (no words) or 413 (too long)."""
    try:
        return scorable_text(text, limits.max_text_length, clean)
    except TextRejected as error:
        status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE if error.reason == TOO_LONG else HTTPStatus.BAD_REQUEST
        suffix = " (MAX_TEXT_LENGTH)" if error.reason == TOO_LONG else ""
        raise RequestRejected(f"{where}: {error}{suffix}", status) from None


def _check_count(count: int, what: str, limits: ServingSettings) -> None:
    if count == 0:
        raise RequestRejected(f"{what} is empty: send at least one tweet")
    if count > limits.max_instances:
        raise _too_large(f"{what} has {count} tweets; the limit is {limits.max_instances} (MAX_INSTANCES): "
                         f"split the batch")


def _type_name(value) -> str:
    return "null" if value is None else {dict: "object", list: "list", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__)


def v1_texts(payload, limits: ServingSettings) -> list[str]:
    """Texts of a KServe v1 body, `{"instances": ["text", {"text": "..."}, ...]}`, in order.

    A client that cleans tweets itself by the same rules (the streamer, which stores the cleaned text) sends
    `{"text": ..., "clean": ...}` and `"cleaning_version"`: when that is this server's CLEANING_VERSION, the
    text is checked (empty, too long) but not cleaned again; otherwise `clean` is ignored.
    """
    if isinstance(payload, bytes):  # a raw body, not yet parsed
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
    cleaned = payload.get("cleaning_version") == CLEANING_VERSION
    for index, instance in enumerate(instances):
        clean = None
        if isinstance(instance, dict):
            if "text" not in instance:
                raise RequestRejected(f'instance {index}: an object needs a "text" field')
            if cleaned and type(instance.get("clean")) is str and instance["clean"].strip():
                clean = instance["clean"]
            instance = instance["text"]
            if not isinstance(instance, str):
                raise RequestRejected(f'instance {index}: "text" must be a string, '
                                      f"got {_type_name(instance)}")
        elif not isinstance(instance, str):
            raise RequestRejected(f'instance {index}: expected a string or an object with a string "text", '
                                  f'got {_type_name(instance)}')
        texts.append(_check_text(instance, f"instance {index}", limits, clean))
    return texts


def compat_text(body: bytes, limits: ServingSettings) -> str:
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


def v2_texts(request: InferRequest, limits: ServingSettings) -> list[str]:
    """Texts of a KServe v2 request: one BYTES input, in JSON or (decoded by `binary_request`) binary."""
    if len(request.inputs) != 1:
        raise RequestRejected(f"expected one input of tweet texts (datatype BYTES), "
                              f"got {len(request.inputs)}")
    tensor = request.inputs[0]
    if tensor.datatype != "BYTES":
        raise RequestRejected(f'input "{tensor.name}" has datatype {tensor.datatype}; send tweets as BYTES')
    if not isinstance(tensor.data, list):
        raise RequestRejected(f'input "{tensor.name}": "data" must be a list of strings')
    values = _flatten(tensor.data)
    shape = list(tensor.shape or [len(values)])
    if any(not isinstance(dim, int) or dim < 0 for dim in shape):
        raise RequestRejected(f'input "{tensor.name}": shape {shape} must be sizes (integers >= 0)')
    expected = 1
    for dim in shape:
        expected *= dim
    if expected != len(values):
        raise RequestRejected(f'input "{tensor.name}": shape {shape} needs {expected} elements, '
                              f'"data" has {len(values)}')
    _check_count(len(values), f'input "{tensor.name}"', limits)
    texts = []
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise RequestRejected(f"element {index}: expected a string, got {_type_name(value)}")
        texts.append(_check_text(value, f"element {index}", limits))
    return texts


def binary_request(body: bytes, header_length: str | None, model_name: str) -> InferRequest:
    """A v2 request in the binary tensor extension: a JSON header of `header_length` bytes, then each
    input's bytes (BYTES elements each behind a 4-byte little-endian length).

    Decoded here rather than by KServe's `InferRequest.from_bytes`, which answers malformed bodies
    with a 500 and quotes the data in its errors (KServe 0.21, kserve/protocol/infer_type.py).
    """
    name = "Inference-Header-Content-Length"
    if header_length is None:
        raise RequestRejected(f"a binary v2 request needs the {name} header")
    if not header_length.strip().isdigit():
        raise RequestRejected(f"{name} must be a byte count, got {header_length[:20]!r}")
    json_length = int(header_length)
    if json_length > len(body):
        raise RequestRejected(f"{name} is {json_length} but the body has {len(body)} bytes")
    header = parse_json(body[:json_length])
    if not isinstance(header, dict) or not isinstance(header.get("inputs"), list):
        raise RequestRejected('the JSON header must be an object with an "inputs" list')
    offset, inputs = json_length, []
    for position, described in enumerate(header["inputs"]):
        if not isinstance(described, dict):
            raise RequestRejected(f"input {position}: expected an object, got {_type_name(described)}")
        tensor_name, datatype, shape = described.get("name"), described.get("datatype"), described.get("shape")
        if not isinstance(tensor_name, str) or not isinstance(datatype, str) or not isinstance(shape, list):
            raise RequestRejected(f'input {position}: needs "name", "datatype" (strings) and "shape" (a list)')
        if datatype != "BYTES":
            raise RequestRejected(f'input "{tensor_name}" has datatype {datatype}; send tweets as BYTES')
        if "data" in described:
            data = described["data"]
        else:
            parameters = described.get("parameters")
            size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
            if type(size) is not int or size < 0:
                raise RequestRejected(f'input "{tensor_name}": parameters.binary_data_size must be a byte count')
            if offset + size > len(body):
                raise RequestRejected(f'input "{tensor_name}": binary_data_size {size} runs past the end of '
                                      f"the body ({len(body) - offset} bytes left)")
            data = _bytes_elements(body[offset:offset + size], tensor_name)
            offset += size
        inputs.append(InferInput(tensor_name, shape, datatype, data))
    if offset != len(body):
        raise RequestRejected(f"{len(body) - offset} bytes follow the last input's binary data")
    request_id = header.get("id")
    return InferRequest(model_name=model_name, infer_inputs=inputs,
                        request_id=request_id if isinstance(request_id, str) else None)


def _bytes_elements(raw: bytes, tensor_name: str) -> list[str]:
    elements, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise RequestRejected(f'input "{tensor_name}": element {len(elements)} has a cut-off length prefix')
        [length] = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise RequestRejected(f'input "{tensor_name}": element {len(elements)} claims {length} bytes, '
                                  f"{len(raw) - offset} are left")
        try:
            elements.append(raw[offset:offset + length].decode("utf-8"))
        except UnicodeDecodeError:
            raise RequestRejected(f"element {len(elements)}: not valid UTF-8") from None
        offset += length
    return elements
