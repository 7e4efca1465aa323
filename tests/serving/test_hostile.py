"""The hostile-input suite: every request below gets a 4xx whose message names the problem, never a
5xx, and the server answers ready and scores a tweet afterwards. Each case runs in-process (Starlette's
TestClient on KServe's app) and against the real `python -m serving` process (conftest's `client`).

Transport-level hostility (bodies over the limit, disconnects, slow clients) is in test_transport.py.
"""

from __future__ import annotations

import json
import struct

import pytest

from tests.serving.conftest import READY, V1, V2, error_of, instances, tensor

pytestmark = [  # KServe 0.21 and Starlette's TestClient, not our code, trip these
    pytest.mark.filterwarnings("ignore:ORJSONResponse is deprecated"),
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated"),
]

JSON = {"content-type": "application/json"}
NOT_TEXT = 'expected a string or an object with a string "text"'
NO_WORDS = "text has no words left after cleaning"
OVER_BODY = {"instances": ["hi"], "padding": "x" * 100_000}  # over the 92,672-byte MAX_BODY_BYTES


def binary(header, raw: bytes = b"", length: str | None = None) -> tuple[bytes, dict]:
    """A v2 binary-extension request: JSON header, then raw bytes; `length` overrides the header's size."""
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    return head + raw, {"inference-header-content-length": str(len(head)) if length is None else length,
                        "content-type": "application/octet-stream"}


def elements(*texts: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(t)) + t for t in texts)


def binary_tensor(raw: bytes, shape=None, datatype="BYTES", size=None) -> dict:
    return {"inputs": [{"name": "text", "shape": shape or [1], "datatype": datatype,
                        "parameters": {"binary_data_size": len(raw) if size is None else size}}]}


def b(raw: bytes, **kw):
    return binary(binary_tensor(raw, **kw), raw)


HELLO = elements(b"hello")

# (id, route, body: bytes | JSON | (bytes, headers), status, message)
CASES = [
    # --- v1 predict ---
    ("v1-not-json", V1, b"{not json", 400, "request body is not valid JSON"),
    ("v1-empty-body", V1, b"", 400, "request body is not valid JSON"),
    ("v1-not-utf8", V1, b'{"instances": ["\xff\xfe"]}', 400, "request body is not valid JSON"),
    ("v1-nan", V1, b'{"instances": [NaN]}', 400, "request body is not valid JSON"),
    ("v1-too-deep", V1, b'{"instances": ' + b"[" * 2000 + b"]" * 2000 + b"}", 400,
     "request body is not valid JSON"),
    ("v1-list", V1, [1, 2], 400, 'request body must be a JSON object {"instances": [...]}, got list'),
    ("v1-string", V1, "hello", 400, "request body must be a JSON object"),
    ("v1-null", V1, None, 400, "got null"),
    ("v1-no-instances", V1, {"inputs": ["hi"]}, 400, '"instances" is missing'),
    ("v1-instances-string", V1, {"instances": "hi"}, 400, '"instances" must be a list, got string'),
    ("v1-instances-object", V1, {"instances": {"text": "hi"}}, 400, '"instances" must be a list, got object'),
    ("v1-instances-null", V1, {"instances": None}, 400, '"instances" must be a list, got null'),
    ("v1-instances-empty", V1, {"instances": []}, 400, '"instances" is empty'),
    ("v1-int", V1, {"instances": ["ok", 3]}, 400, f"instance 1: {NOT_TEXT}, got int"),
    ("v1-null-instance", V1, {"instances": ["ok", None]}, 400, f"instance 1: {NOT_TEXT}, got null"),
    ("v1-bool", V1, {"instances": [True]}, 400, f"instance 0: {NOT_TEXT}, got boolean"),
    ("v1-nested", V1, {"instances": ["ok", ["nested"]]}, 400, "instance 1: expected a string"),
    ("v1-deep-list", V1, {"instances": [[[["a"]]]]}, 400, "instance 0: expected a string"),
    ("v1-object-no-text", V1, {"instances": ["ok", {"txt": "hi"}]}, 400, 'instance 1: an object needs a "text"'),
    ("v1-object-int-text", V1, {"instances": [{"text": 5}]}, 400, 'instance 0: "text" must be a string, got int'),
    ("v1-object-null-text", V1, {"instances": [{"text": None}]}, 400, '"text" must be a string, got null'),
    ("v1-empty-text", V1, {"instances": ["ok", ""]}, 400, "instance 1: text is empty"),
    ("v1-whitespace", V1, {"instances": [" \t\n "]}, 400, "instance 0: text is empty"),
    ("v1-object-empty-text", V1, {"instances": [{"text": ""}]}, 400, "instance 0: text is empty"),
    ("v1-links-only", V1, {"instances": ["ok", "http://t.co/x @bob"]}, 400, f"instance 1: {NO_WORDS}"),
    ("v1-punctuation", V1, {"instances": ["!!! ... ???"]}, 400, f"instance 0: {NO_WORDS}"),
    ("v1-nbsp", V1, {"instances": ["\u00a0\u2003"]}, 400, "instance 0: text is empty"),
    ("v1-too-many", V1, instances(9), 413, '"instances" has 9 tweets; the limit is 8 (MAX_INSTANCES)'),
    ("v1-too-long", V1, {"instances": ["ok", "x" * 281]}, 413,
     "instance 1: text is 281 characters; the limit is 280 (MAX_TEXT_LENGTH)"),
    ("v1-too-long-object", V1, {"instances": [{"text": "y" * 5000}]}, 413, "instance 0: text is 5000 characters"),
    ("v1-body-over-limit", V1, OVER_BODY, 413, "bytes; the limit is 92672 bytes (MAX_BODY_BYTES)"),
    ("v1-other-model", "/v1/models/other:predict", instances(1), 404, "Model with name other does not exist"),
    ("v1-explain", "/v1/models/twitter-sentiment:explain", instances(1), 404, "has no explainer"),
    # --- the original POST /predict ---
    ("predict-not-json", "/predict", b"nope", 400, "request body is not valid JSON"),
    ("predict-empty-body", "/predict", b"", 400, "request body is not valid JSON"),
    ("predict-list", "/predict", ["hi"], 400, 'request body must be a JSON object {"text": "tweet text"}'),
    ("predict-no-text", "/predict", {"txt": "hi"}, 400, 'request body must be a JSON object {"text": "tweet text"}'),
    ("predict-int", "/predict", {"text": 1}, 400, '"text" must be a string, got int'),
    ("predict-null", "/predict", {"text": None}, 400, '"text" must be a string, got null'),
    ("predict-object", "/predict", {"text": {"text": "hi"}}, 400, '"text" must be a string, got object'),
    ("predict-empty", "/predict", {"text": ""}, 400, '"text": text is empty'),
    ("predict-whitespace", "/predict", {"text": "   "}, 400, '"text": text is empty'),
    ("predict-mentions", "/predict", {"text": "@a @b"}, 400, f'"text": {NO_WORDS}'),
    ("predict-too-long", "/predict", {"text": "x" * 281}, 413, '"text": text is 281 characters; the limit is 280'),
    ("predict-body-over-limit", "/predict", {"text": "hi", "padding": "x" * 100_000}, 413, "(MAX_BODY_BYTES)"),
    # --- v2 infer, JSON ---
    ("v2-not-json", V2, b"{", 422, "json_invalid"),
    ("v2-inputs-int", V2, {"inputs": 3}, 422, "Input should be a valid list"),
    ("v2-no-inputs", V2, {"id": "x"}, 422, "Field required"),
    ("v2-inputs-empty", V2, {"inputs": []}, 400, "expected one input of tweet texts (datatype BYTES), got 0"),
    ("v2-two-inputs", V2, {"inputs": tensor(["a"])["inputs"] * 2}, 400, "expected one input of tweet texts"),
    ("v2-fp32", V2, tensor([1.0], "FP32"), 400, 'input "text" has datatype FP32; send tweets as BYTES'),
    ("v2-int-element", V2, tensor(["a", 1]), 400, "element 1: expected a string, got int"),
    ("v2-shape-mismatch", V2, tensor(["a", "b"], shape=[3]), 400, 'shape [3] needs 3 elements, "data" has 2'),
    ("v2-shape-minus-ones", V2, tensor(["a"], shape=[-1, -1]), 400, "shape [-1, -1] must be sizes"),
    ("v2-shape-minus-one", V2, tensor(["a"], shape=[-1]), 400, "shape [-1] must be sizes"),
    ("v2-shape-fraction", V2, tensor(["a"], shape=[1.5]), 422, "Input should be a valid integer"),
    ("v2-empty-tensor", V2, tensor([]), 400, 'input "text" is empty'),
    ("v2-too-many", V2, tensor(["x"] * 9), 413, 'input "text" has 9 tweets; the limit is 8 (MAX_INSTANCES)'),
    ("v2-too-long", V2, tensor(["x" * 281]), 413, "element 0: text is 281 characters"),
    ("v2-empty-text", V2, tensor(["ok", ""]), 400, "element 1: text is empty"),
    ("v2-links-only", V2, tensor(["https://x.co"]), 400, f"element 0: {NO_WORDS}"),
    ("v2-body-over-limit", V2, {**tensor(["hi"]), "id": "x" * 100_000}, 413, "(MAX_BODY_BYTES)"),
    ("v2-other-model", "/v2/models/other/infer", tensor(["hi"]), 404, "Model with name other does not exist"),
    ("v2-version-infer", "/v2/models/twitter-sentiment/versions/1/infer", tensor(["hi"]), 404,
     "models are not addressed by version here"),
    # --- v2 infer, binary tensor extension (issue 13.2: each of these was a 500) ---
    ("bin-length-not-int", V2, binary(binary_tensor(HELLO), HELLO, "12abc"), 400,
     "Inference-Header-Content-Length must be a byte count, got '12abc'"),
    ("bin-length-negative", V2, binary(binary_tensor(HELLO), HELLO, "-5"), 400,
     "Inference-Header-Content-Length must be a byte count"),
    ("bin-length-past-end", V2, binary(binary_tensor(HELLO), HELLO, "100000"), 400,
     "Inference-Header-Content-Length is 100000 but the body has"),
    ("bin-header-not-json", V2, binary(b"{inputs", HELLO), 400, "request body is not valid JSON"),
    ("bin-header-list", V2, binary([1, 2], HELLO), 400, 'the JSON header must be an object with an "inputs" list'),
    ("bin-no-inputs", V2, binary({"id": "r"}, HELLO), 400, 'the JSON header must be an object with an "inputs"'),
    ("bin-input-not-object", V2, binary({"inputs": ["text"]}, HELLO), 400, "input 0: expected an object, got string"),
    ("bin-input-no-shape", V2, binary({"inputs": [{"name": "text", "datatype": "BYTES"}]}, HELLO), 400,
     'input 0: needs "name", "datatype" (strings) and "shape" (a list)'),
    ("bin-prefix-too-long", V2, b(struct.pack("<I", 50) + b"hello"), 400, "element 0 claims 50 bytes, 5 are left"),
    ("bin-prefix-cut", V2, b(HELLO + b"\x01\x00"), 400, "element 1 has a cut-off length prefix"),
    ("bin-size-string", V2, binary(binary_tensor(HELLO, size="9"), HELLO), 400,
     "parameters.binary_data_size must be a byte count"),
    ("bin-size-negative", V2, binary(binary_tensor(HELLO, size=-1), HELLO), 400,
     "parameters.binary_data_size must be a byte count"),
    ("bin-size-past-end", V2, binary(binary_tensor(HELLO, size=500), HELLO), 400,
     "binary_data_size 500 runs past the end of the body"),
    ("bin-no-data-no-size", V2, binary({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES"}]}, b""),
     400, "parameters.binary_data_size must be a byte count"),
    ("bin-fp32-3-bytes", V2, b(b"abc", datatype="FP32"), 400, 'input "text" has datatype FP32; send tweets as BYTES'),
    ("bin-not-utf8", V2, b(elements(b"\xff\xfe")), 400, "element 0: not valid UTF-8"),
    ("bin-trailing-bytes", V2, binary(binary_tensor(HELLO), HELLO + b"zz"), 400,
     "2 bytes follow the last input's binary data"),
    ("bin-shape-minus-ones", V2, b(HELLO, shape=[-1, -1]), 400, "shape [-1, -1] must be sizes"),
    ("bin-shape-mismatch", V2, b(elements(b"a", b"b"), shape=[3]), 400, 'shape [3] needs 3 elements'),
    ("bin-empty-text", V2, b(elements(b"")), 400, "element 0: text is empty"),
    ("bin-too-many", V2, b(elements(*[b"x"] * 9), shape=[9]), 413, "has 9 tweets; the limit is 8"),
    ("bin-too-long", V2, b(elements(b"x" * 281)), 413, "element 0: text is 281 characters"),
    # --- the model repository extension (issue 13.1): nothing outside the pod changes what it serves ---
    ("repo-unload", "/v2/repository/models/twitter-sentiment/unload", b"", 403, "unload is disabled"),
    ("repo-load", "/v2/repository/models/twitter-sentiment/load", b"", 403, "load is disabled"),
    ("repo-load-other", "/v2/repository/models/other/load", b"", 403, "load is disabled"),
]


@pytest.mark.parametrize("route, payload, status, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_gets_a_4xx_naming_the_problem_and_the_server_stays_up(client, route, payload, status,
                                                                              message):
    if isinstance(payload, tuple):
        content, headers = payload
    else:
        content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = JSON
    response = client.post(route, content=content, headers=headers)
    assert response.status_code == status, response.text
    assert message in error_of(response)
    assert client.get("/v2/health/ready").status_code == 200
    assert client.get(READY).status_code == 200
    assert client.post(V1, json={"instances": ["still scoring"]}).status_code == 200


def test_the_suite_is_as_wide_as_promised():
    """Issue 13: at least 60 server cases across v1, v2 JSON, v2 binary and /predict."""
    kinds = {c[0].split("-")[0] for c in CASES}
    assert len(CASES) >= 60 and {"v1", "predict", "v2", "bin", "repo"} <= kinds
