"""Request validation on its own: what is accepted, and the message for what is not."""

import struct

import orjson
import pytest
from kserve.protocol.infer_type import InferInput, InferRequest

from serving.requests import RequestRejected, binary_request, compat_text, v1_texts, v2_texts
from serving.settings import ServingSettings, largest_request_bytes
from tests.serving.conftest import LIMITS
from twitter_sentiment import contract
from twitter_sentiment.settings import ConfigError, load


def test_settings_default_to_the_contract_and_the_body_limit_follows_the_other_two():
    settings = load(ServingSettings, {})
    assert (settings.model_name, settings.max_instances, settings.max_text_length) == \
        (contract.MODEL_NAME, contract.MAX_INSTANCES, contract.MAX_TEXT_LENGTH)
    assert settings.max_body_bytes == largest_request_bytes(contract.MAX_INSTANCES, contract.MAX_TEXT_LENGTH)
    assert load(ServingSettings, {"MAX_INSTANCES": "5", "MAX_TEXT_LENGTH": "10"}).max_body_bytes == \
        largest_request_bytes(5, 10)


def test_the_largest_request_the_limits_allow_fits_the_body_limit():
    """Issue 13.5: 1,024 instances of 1,000 characters, JSON-escaped the way Python writes it (each
    emoji a 12-byte surrogate pair), pretty-printed, as objects, is accepted by every limit."""
    import json

    settings = load(ServingSettings, {})
    text = "😀" * settings.max_text_length
    body = json.dumps({"instances": [{"text": text}] * settings.max_instances}, indent=2).encode()
    assert len(body) <= settings.max_body_bytes
    assert len(v1_texts(orjson.loads(body), settings)) == settings.max_instances


@pytest.mark.parametrize("env, sentence", [
    ({"MAX_INSTANCES": "abc"}, "MAX_INSTANCES='abc': Input should be a valid integer"),
    ({"MAX_INSTANCES": "0"}, "MAX_INSTANCES='0': Input should be greater than 0"),
    ({"MAX_TEXT_LENGTH": "-3"}, "MAX_TEXT_LENGTH='-3': Input should be greater than 0"),
    ({"MAX_BODY_BYTES": "4096"}, "MAX_BODY_BYTES='4096': must be at least 12386304, the size of the largest"),
    ({"HTTP_PORT": "80a"}, "HTTP_PORT='80a': Input should be a valid integer"),
    ({"HTTP_PORT": "70000"}, "HTTP_PORT='70000': Input should be less than or equal to 65535"),
    ({"REQUEST_READ_SECONDS": "0"}, "REQUEST_READ_SECONDS='0': Input should be greater than 0"),
])
def test_a_bad_setting_is_one_sentence_naming_it(env, sentence):
    with pytest.raises(ConfigError) as caught:
        load(ServingSettings, env)
    assert str(caught.value).startswith(sentence)


def test_v1_accepts_strings_and_objects_in_order_and_cleans_them():
    body = {"instances": ["A", {"text": "b @bob", "id": 7}, "c!"], "parameters": {}}
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


@pytest.mark.parametrize("text, message", [
    ("", "instance 1: text is empty"),
    (" \t\n", "instance 1: text is empty"),
    ("@someone https://t.co/x !!!", "instance 1: text has no words left after cleaning"),
])
def test_texts_the_streamer_refuses_are_refused_here_too(text, message):
    """Issue 13.6: one rule, twitter_sentiment.text.scorable_text, for the server and the streamer."""
    error = rejected(lambda: v1_texts({"instances": ["fine", text]}, LIMITS))
    assert error.status == 400 and str(error).startswith(message)


def test_compat_text():
    assert compat_text(b'{"text": "Hello"}', LIMITS) == "hello"
    assert "not valid JSON" in str(rejected(lambda: compat_text(b"{", LIMITS)))
    assert str(rejected(lambda: compat_text(b'{"text": " "}', LIMITS))) == '"text": text is empty'


def v2(*inputs: InferInput) -> InferRequest:
    return InferRequest(model_name="m", infer_inputs=list(inputs))


def test_v2_json_and_nested_data():
    assert v2_texts(v2(InferInput("text", [2], "BYTES", ["a", "b"])), LIMITS) == ["a", "b"]
    assert v2_texts(v2(InferInput("text", [2, 1], "BYTES", [["a"], ["b"]])), LIMITS) == ["a", "b"]


@pytest.mark.parametrize("shape", [[-1], [-1, -1], [1, -1, -1], [2, "1"]])
def test_v2_shape_must_be_sizes(shape):
    """Issue 13.5: [-1, -1] multiplies to 1 and used to pass for one element."""
    error = rejected(lambda: v2_texts(v2(InferInput("text", shape, "BYTES", ["a"])), LIMITS))
    assert "must be sizes (integers >= 0)" in str(error)


def binary(texts: list[bytes], **header_extra) -> tuple[bytes, str]:
    raw = b"".join(struct.pack("<I", len(t)) + t for t in texts)
    header = orjson.dumps({"inputs": [{"name": "text", "shape": [len(texts)], "datatype": "BYTES",
                                       "parameters": {"binary_data_size": len(raw)}}], **header_extra})
    return header + raw, str(len(header))


def test_v2_binary_tensor_data():
    body, length = binary(["café".encode(), b"b"], id="r7")
    request = binary_request(body, length, "m")
    assert request.id == "r7" and v2_texts(request, LIMITS) == ["café", "b"]
    bad, length = binary([b"\xff"])
    assert str(rejected(lambda: binary_request(bad, length, "m"))) == "element 0: not valid UTF-8"


def test_v1_takes_a_clients_cleaning_by_the_same_rules_and_still_checks_the_text(monkeypatch):
    """The streamer cleans each tweet (it stores the cleaned text) and sends it along: with this server's
    CLEANING_VERSION it is not cleaned again; any other version, or no usable `clean`, is cleaned here."""
    from twitter_sentiment.text import CLEANING_VERSION, clean_tweet

    raw = "Loving it!!! 😂 http://t.co/x @bob"
    clean = clean_tweet(raw)
    cleaned_here = []
    monkeypatch.setattr("twitter_sentiment.text.clean_tweet", lambda text: cleaned_here.append(text) or "here")
    body = lambda version, **instance: {"instances": [{"text": raw, **instance}], "cleaning_version": version}
    assert v1_texts(body(CLEANING_VERSION, clean=clean), LIMITS) == [clean] and not cleaned_here
    for ignored in (body("0", clean=clean), body(CLEANING_VERSION), body(CLEANING_VERSION, clean=" "),
                    body(CLEANING_VERSION, clean=7), {"instances": [{"text": raw, "clean": clean}]}):
        assert v1_texts(ignored, LIMITS) == ["here"]
    assert len(cleaned_here) == 5
    too_long = body(CLEANING_VERSION, clean="x")
    too_long["instances"][0]["text"] = "x" * (LIMITS.max_text_length + 1)
    assert rejected(lambda: v1_texts(too_long, LIMITS)).status == 413  # the text's own checks still apply
    blank = body(CLEANING_VERSION, clean="x")
    blank["instances"][0]["text"] = "   "
    assert rejected(lambda: v1_texts(blank, LIMITS)).status == 400
