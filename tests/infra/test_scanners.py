"""cfn-lint and checkov over the template, the Kubernetes manifests and every Dockerfile.

A finding is fixed, or skipped in place with a reason (CloudFormation Metadata, a checkov.io/skip
annotation, a `# checkov:skip=` comment); these tests fail on anything else.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.helpers import require_tool
from tests.infra.conftest import ROOT

pytestmark = pytest.mark.slow  # each scanner is a process that takes seconds to start


def dockerfiles() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("Dockerfile")
                  if not any(part.startswith(".venv") for part in p.relative_to(ROOT).parts))


def checkov(*args: str) -> list[dict]:
    command = [require_tool("checkov"), *args, "--quiet", "--compact", "--skip-download", "-o", "json"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    if not result.stdout.strip():
        return []
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, list) else [reports]


def failures(reports: list[dict]) -> list[str]:
    return [f"{r['check_type']}: {f['check_id']} {f['resource']} ({f['file_path']}) {f['check_name']}"
            for r in reports if "results" in r for f in r["results"]["failed_checks"]]


def test_cfn_lint_passes(template_file):
    result = subprocess.run([require_tool("cfn-lint"), str(template_file)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def template_and_dockerfile_reports(template_file) -> list[dict]:
    files = [str(template_file), *dockerfiles()]  # one checkov run for both: it takes seconds to start
    return checkov(*[a for f in files for a in ("-f", f)], "--framework", "cloudformation", "dockerfile")


def test_checkov_passes_on_the_template(template_and_dockerfile_reports):
    reports = [r for r in template_and_dockerfile_reports if r.get("check_type") == "cloudformation"]
    assert reports and reports[0]["summary"]["passed"] > 100
    assert failures(reports) == []


def test_checkov_passes_on_every_dockerfile(template_and_dockerfile_reports):
    reports = [r for r in template_and_dockerfile_reports if r.get("check_type") == "dockerfile"]
    assert failures(reports) == []


def test_checkov_passes_on_the_manifests():
    if not (ROOT / "manifests").is_dir():
        return
    require_tool("kubectl")  # checkov renders each kustomization with it, as `kubectl apply -k` would
    # The overlays, as deployed: the base alone has no namespace (components/common sets it once).
    reports = checkov("-d", "manifests/overlays", "--framework", "kustomize")
    assert reports and reports[0]["summary"]["passed"] > 50
    assert failures(reports) == []
