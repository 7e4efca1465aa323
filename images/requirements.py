"""Print the requirements of some of pyproject.toml's extras, one a line, for `pip install -r`.

The Dockerfiles install dependencies in a layer of their own, before the code is copied, so that a
code change rebuilds in seconds: that layer sees only pyproject.toml and this file.
    python requirements.py pyproject.toml serve
"""

import re
import sys
import tomllib


def requirements(project: dict, extras: list[str]) -> list[str]:
    found, pending, seen = list(project.get("dependencies", [])), list(extras), set()
    own = re.compile(rf"^{re.escape(project['name'])}\[([^\]]+)\]$")
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in project["optional-dependencies"][extra]:
            nested = own.match(requirement.replace(" ", ""))
            if nested:
                pending.extend(nested.group(1).split(","))
            elif requirement not in found:
                found.append(requirement)
    return found


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as file:
        print("\n".join(requirements(tomllib.load(file)["project"], sys.argv[2:])))
