"""serving/Dockerfile: what the image must and must not hold (tests/delivery checks the base pin and USER)."""

import re
import tomllib

from tests.helpers import ROOT

DOCKERFILE = (ROOT / "serving" / "Dockerfile").read_text()
INSTRUCTIONS = [line.strip() for line in DOCKERFILE.replace("\\\n", " ").splitlines()
                if line.strip() and not line.lstrip().startswith("#")]


def test_slim_python_base_pinned_by_version():
    assert re.fullmatch(r"FROM python:3\.11\.\d+-slim-bookworm", INSTRUCTIONS[0])


def test_installs_only_the_serving_extra():
    installs = [i for i in INSTRUCTIONS if i.startswith("RUN") and "pip install" in i]
    assert installs == ['RUN pip install ".[serve]"']
    assert not re.search(r"kfp|gensim|tweepy", " ".join(INSTRUCTIONS))
    serve = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["serve"]
    assert not [d for d in serve if re.match(r"(kfp|gensim|tweepy)\b", d)], serve


def test_model_is_not_baked_in():
    copies = [i.split()[1] for i in INSTRUCTIONS if i.startswith(("COPY", "ADD"))]
    assert set(copies) == {"pyproject.toml", "twitter_sentiment/", "serving/"}
    assert "ENV" in DOCKERFILE and "STORAGE_URI=/mnt/models" in DOCKERFILE


def test_runs_python_m_serving_as_non_root_on_8080():
    assert [i for i in INSTRUCTIONS if i.startswith("USER")] == ["USER 10001"]
    assert "EXPOSE 8080" in INSTRUCTIONS
    assert INSTRUCTIONS[-1] == 'CMD ["python", "-m", "serving"]'
