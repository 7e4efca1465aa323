"""No secret value is committed: Yelp's detect-secrets (the bc-detect-secrets build that checkov pins)
over every file git would commit, plus patterns for tokens it has no plugin for."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.delivery.conftest import REPO, run, tool

# Never scanned: local environments and caches that no commit carries, even without a .gitignore.
LOCAL = re.compile(r"^(\.venv[^/]*|\.cache|node_modules|\.pytest_cache|[^/]+\.egg-info)/|/__pycache__/")
# KeywordDetector flags names (secretKeyRef, automountServiceAccountToken, S3_SECRET = "aws-credentials"),
# not values; the detectors of secret shapes (AWS keys, private keys, JWTs, high entropy…) stay on.
DISABLED = ["KeywordDetector"]
# Shapes detect-secrets has no plugin for.
PATTERNS = {
    "X/Twitter app bearer token": re.compile(r"AAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{40,}"),
    "GitLab token": re.compile(r"\bgl(pat|dt|rt|cbt|ptt|ft|imt|agent|oas|soat)-[0-9A-Za-z_-]{20,}"),
    "AWS secret access key": re.compile(r"(?i)aws_?secret_?access_?key\s*[=:]\s*['\"]?[A-Za-z0-9/+]{40}\b"),
    "private key": re.compile(r"-----BEGIN (RSA |EC |OPENSSH |DSA |ENCRYPTED )?PRIVATE KEY-----"),
    "kubeconfig credentials": re.compile(r"^\s*(client-key-data|token):\s*[A-Za-z0-9+/=._-]{20,}", re.MULTILINE),
}


def committed_files() -> list[Path]:
    """What `git add -A` would take: tracked files and untracked ones that .gitignore does not exclude."""
    listing = subprocess.run(["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, text=True, check=True).stdout.splitlines()
    return [REPO / name for name in listing if not LOCAL.search(name) and (REPO / name).is_file()]


def test_detect_secrets_finds_nothing():
    scanner = tool("detect-secrets")
    files = [str(p.relative_to(REPO)) for p in committed_files()]
    assert files
    found = {}
    for start in range(0, len(files), 200):
        disabled = [arg for plugin in DISABLED for arg in ("--disable-plugin", plugin)]
        result = run([scanner, "scan", "--no-verify", *disabled, *files[start:start + 200]], cwd=REPO)
        assert result.returncode == 0, result.stderr
        found.update(json.loads(result.stdout)["results"])
    report = {name: sorted({(f["type"], f["line_number"]) for f in findings}) for name, findings in found.items()}
    assert not report, f"possible secrets (file: [(type, line)]): {report}"


def test_detect_secrets_catches_a_planted_key(tmp_path):
    """The control: the same invocation flags AWS's documented example key."""
    planted = tmp_path / "leak.env"
    planted.write_text("AWS_ACCESS_KEY_ID=" + "AKIA" + "IOSFODNN7EXAMPLE\n")  # split: this file stays clean
    result = run([tool("detect-secrets"), "scan", "--no-verify", "--disable-plugin", "KeywordDetector",
                  str(planted)], cwd=tmp_path)
    assert json.loads(result.stdout)["results"], "the scanner found nothing in a planted key"


def test_no_token_shapes_detect_secrets_does_not_know():
    hits = []
    for path in committed_files():
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        for kind, pattern in PATTERNS.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                hits.append(f"{path.relative_to(REPO)}:{line}: {kind}")
    assert not hits, "\n".join(hits)


@pytest.mark.parametrize("kind, sample", [
    ("X/Twitter app bearer token", "AAAAAAAAAAAAAAAAAAAAA" + "Ab1%" * 12),
    ("GitLab token", "glpat-" + "x1Y2z3" * 4),
    ("AWS secret access key", "AWS_SECRET_ACCESS_KEY=" + "wJalrXUtnFEMI/K7MDENG" + "/bPxRfiCYEXAMPLEKEY"),
    ("private key", "-----BEGIN OPENSSH " + "PRIVATE KEY-----"),
])
def test_the_patterns_match_their_shape(kind, sample):
    assert PATTERNS[kind].search(sample)


def test_no_kubeconfig_or_env_file_with_values_is_committed():
    for path in committed_files():
        name = path.name
        assert not (name in ("kubeconfig", "config") and ".kube" in path.parts), path
        assert not name.endswith((".kubeconfig", ".pem", ".key", ".p12")), path
