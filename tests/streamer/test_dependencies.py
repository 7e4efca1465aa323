"""The streamer image installs the core dependencies and the `stream` extra only: every third-party module the
streamer imports must be declared there (a transitive dependency can disappear with an upgrade)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from tests.helpers import ROOT

NOT_IN_IMAGE = {"replay.py"}  # a development tool, kept out of the image (.dockerignore)
# A library's other half, released with it and pinned by it: importing it is declaring its sibling.
SIBLINGS = {"botocore": "boto3", "pydantic": "pydantic-settings"}


def imported_modules() -> set[str]:
    found = set()
    for path in (ROOT / "streamer").glob("*.py"):
        if path.name in NOT_IN_IMAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def declared(project: dict) -> set[str]:
    names = project["dependencies"] + project["optional-dependencies"]["stream"]
    return {normal(re.split(r"[\[=<>~! ]", requirement, maxsplit=1)[0]) for requirement in names}


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_third_party_module_the_streamer_imports_is_declared_in_its_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    distributions = packages_distributions()
    ours = {"streamer", "twitter_sentiment"}
    third_party = sorted(m for m in imported_modules() - ours - set(sys.stdlib_module_names) if m != "__future__")
    missing = {module: distributions.get(module) for module in third_party
               if not {normal(SIBLINGS.get(name, name)) for name in distributions.get(module, [module])}
               & declared(project)}
    assert not missing, f"imported by streamer/ but not in the core dependencies or the stream extra: {missing}"
