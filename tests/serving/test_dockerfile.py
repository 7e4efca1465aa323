"""serving/Dockerfile as text: what it installs and copies (tests/containers checks the built image,
tests/delivery the base pin and USER)."""

import re
import tomllib

from tests.delivery.test_images import instructions
from tests.helpers import ROOT

INSTRUCTIONS = instructions((ROOT / "serving" / "Dockerfile").read_text())


def test_base_is_a_build_argument_defaulting_to_the_slim_python_image():
    assert INSTRUCTIONS[0][0] == "ARG" and re.fullmatch(r"BASE_IMAGE=python:3\.11\.\d+-slim-bookworm",
                                                        INSTRUCTIONS[0][1])
    assert INSTRUCTIONS[1] == ("FROM", "${BASE_IMAGE}")


def test_installs_only_the_serving_extra_before_the_code():
    runs = [rest for word, rest in INSTRUCTIONS if word == "RUN" and "pip install" in rest]
    assert len(runs) == 1 and re.search(r"requirements\.py \S+ serve >", runs[0]), runs
    assert "-c /tmp/deps/lock.txt" in runs[0], "transitive versions come from the lock"
    order = [rest.split()[0] for word, rest in INSTRUCTIONS if word in ("COPY", "RUN")]
    assert order.index("twitter_sentiment/") > next(i for i, w in enumerate(order) if w.startswith("--mount"))
    serve = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["serve"]
    assert not [d for d in serve if re.match(r"(kfp|gensim|tweepy)\b", d)], serve


def test_model_is_not_baked_in():
    sources = {s for word, rest in INSTRUCTIONS if word in ("COPY", "ADD") for s in rest.split()[:-1]}
    assert sources == {"pyproject.toml", "requirements/lock.txt", "images/requirements.py", "twitter_sentiment/",
                       "serving/"}
    assert any(word == "ENV" and "STORAGE_URI=/mnt/models" in rest for word, rest in INSTRUCTIONS)


def test_runs_python_m_serving_as_non_root_on_8080():
    assert [rest for word, rest in INSTRUCTIONS if word == "USER"] == ["10001"]
    assert ("EXPOSE", "8080") in INSTRUCTIONS
    assert INSTRUCTIONS[-1] == ("CMD", '["python", "-m", "serving"]')
