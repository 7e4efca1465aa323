"""The scripts that build the cluster: the nodes' boot scripts, the OIDC documents, the add-ons."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import tomllib

import pytest

from tests.helpers import require_tool
from tests.infra.conftest import ROOT

INFRA = ROOT / "infra"
SCRIPTS = [INFRA / "addons.sh", *sorted((INFRA / "userdata").glob("*.sh"))]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_parse(script):
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_shellcheck():
    result = subprocess.run([require_tool("shellcheck"), "--shell=bash", "--external-sources",
                             "--source-path=SCRIPTDIR", *map(str, SCRIPTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_addon_versions_match_the_python_packages_the_images_use():
    pins = dict(re.findall(r"^([A-Z_]+_VERSION)=(\S+)", (INFRA / "addons.sh").read_text(), re.M))
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    packages = dict(re.findall(r'"([a-z-]+)==([\d.]+)"', json.dumps(extras)))
    assert pins["KFP_VERSION"] == packages["kfp"]  # the SDK compiles for the backend it talks to
    assert pins["KSERVE_VERSION"] == "v" + packages["kserve"]  # the controller of the model server's release


def b64url_int(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def test_oidc_documents_describe_the_signing_key(tmp_path):
    key = tmp_path / "service.key"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    issuer = "https://twitter-sentiment-oidc-111111111111-us-east-1.s3.us-east-1.amazonaws.com"
    subprocess.run([sys.executable, str(INFRA / "userdata" / "publish_oidc.py"), "--issuer", issuer,
                    "--out", str(tmp_path), str(key), str(key)], check=True)
    discovery = json.loads((tmp_path / "openid-configuration").read_text())
    assert discovery["issuer"] == issuer and discovery["jwks_uri"] == f"{issuer}/keys.json"
    [jwk] = json.loads((tmp_path / "keys.json").read_text())["keys"]  # the same key twice: listed once

    der = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    text = subprocess.run(["openssl", "rsa", "-in", str(key), "-noout", "-modulus"],
                          check=True, capture_output=True, text=True).stdout
    assert b64url_int(jwk["n"]) == int(text.strip().split("=", 1)[1], 16)
    assert b64url_int(jwk["e"]) == 65537
    # kube-apiserver's key id: base64url(sha256(DER public key)), which tokens carry in their header.
    assert jwk["kid"] == base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RS256", "sig")


def test_the_pipelines_ui_reads_artifacts_with_its_own_role():
    """KFP 2.17's UI server (frontend/server/minio-helper.ts) takes AWS credentials from the provider chain,
    IRSA included, only when its endpoint is AWS S3 (aws-helper.ts isAWSS3Endpoint: /s3.{0,}\\.amazonaws\\.com/)
    and no keys are set; the pod identity webhook gives them to pods of an annotated ServiceAccount."""
    script = (INFRA / "addons.sh").read_text()
    assert 'annotate serviceaccount ml-pipeline-ui --overwrite "eks.amazonaws.com/role-arn=$UI_ROLE_ARN"' in script
    assert "UI_ROLE_ARN=${UI_ROLE_ARN:-$(stack_output UiRoleArn)}" in script
    endpoint = re.search(r'AWS_S3_ENDPOINT="([^"]+)"', script).group(1).replace("${REGION}", "eu-west-1")
    assert re.search(r"s3.{0,}\.amazonaws\.com\.?.{0,}", endpoint, re.IGNORECASE)
    assert "AWS_ACCESS_KEY_ID" not in script, "keys would bypass the role"
    restart = script.index("rollout restart deployment/ml-pipeline-ui")
    assert restart > script.index("annotate serviceaccount ml-pipeline-ui"), "the webhook acts at pod creation"
