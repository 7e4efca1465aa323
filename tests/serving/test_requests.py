"""Request validation on its own: what is accepted, and the message for what is not."""

import pytest
from kserve.protocol.infer_type import InferInput, InferRequest

from serving.requests import Limits, RequestRejected, compat_text, v1_texts, v2_texts
from tests.serving.conftest import LIMITS


def test_limits_default_and_from_env():
    assert Limits.from_env({}) == Limits(1024, 1000, 4 * 1024 * 1024)
    assert Limits.from_env({"MAX_INSTANCES": "5", "MAX_TEXT_LENGTH": " 10 ", "MAX_BODY_BYTES": ""}) == \
        Limits(5, 10, 4 * 1024 * 1024)


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5"])
def test_a_bad_limit_is_named(value):
    with pytest.raises(ValueError, match=f"MAX_INSTANCES must be a positive integer, got '{value}'"):
        Limits.from_env({"MAX_INSTANCES": value})


def test_v1_accepts_strings_and_objects_in_order():
    body = {"instances": ["a", {"text": "b", "id": 7}, "c"], "parameters": {}}
    assert v1_texts(body, LIMITS) == ["a", "b", "c"]
    assert v1_texts(b'{"instances": ["x"]}', LIMITS) == ["x"]  # raw body (a non-JSON content type)


def rejected(call) -> RequestRejected:
    with pytest.raises(RequestRejected) as caught:
        call()
    return caught.value


def test_v1_limits_are_inclusive():
    assert len(v1_texts({"instances": ["x" * 280] * 8}, LIMITS)) == 8
    assert rejected(lambda: v1_texts({"instances": ["x"] * 9}, LIMITS)).status == 413
    assert rejected(lambda: v1_texts({"instances": ["x" * 281]}, LIMITS)).status == 413


def test_compat_text():
    assert compat_text(b'{"text": "hello"}', LIMITS) == "hello"
    assert "not valid JSON" in str(rejected(lambda: compat_text(b"{", LIMITS)))


def v2(*inputs: InferInput) -> InferRequest:
    return InferRequest(model_name="m", infer_inputs=list(inputs))


def test_v2_json_and_nested_data():
    assert v2_texts(v2(InferInput("text", [2], "BYTES", ["a", "b"])), LIMITS) == ["a", "b"]
    assert v2_texts(v2(InferInput("text", [2, 1], "BYTES", [["a"], ["b"]])), LIMITS) == ["a", "b"]


def test_v2_binary_tensor_data():
    import numpy as np

    tensor = InferInput("text", [2], "BYTES")
    tensor.set_data_from_numpy(np.array([b"caf\xc3\xa9", b"b"], dtype=np.object_), binary_data=True)
    assert v2_texts(v2(tensor), LIMITS) == ["café", "b"]
    bad = InferInput("text", [1], "BYTES")
    bad.set_data_from_numpy(np.array([b"\xff"], dtype=np.object_), binary_data=True)
    assert str(rejected(lambda: v2_texts(v2(bad), LIMITS))) == "element 0: not valid UTF-8"
