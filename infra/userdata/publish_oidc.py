"""Write the OIDC discovery document and JWKS for the cluster's service-account signing keys.

Runs on the control plane at boot with only python3 and openssl (Amazon Linux 2023 has both).
The key id is what kube-apiserver puts in each token's header: base64url(sha256(DER public key)).
"""

import argparse
import base64
import hashlib
import json
import re
import subprocess
from pathlib import Path


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_der(key_file: str) -> bytes:
    # The file holds a private key (or, in newer k3s, possibly a public one): ask for its public half.
    for extra in ([], ["-pubin"]):
        result = subprocess.run(["openssl", "pkey", *extra, "-in", key_file, "-pubout", "-outform", "DER"],
                                capture_output=True)
        if result.returncode == 0:
            return result.stdout
    raise SystemExit(f"{key_file}: not an RSA key openssl can read")


def jwk(der: bytes) -> dict:
    text = subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-noout", "-text"],
                          input=der, capture_output=True, check=True).stdout.decode()
    modulus_hex = re.search(r"Modulus:\s*([0-9a-f:\s]+)Exponent", text, re.S).group(1)
    modulus = bytes.fromhex(re.sub(r"[^0-9a-f]", "", modulus_hex)).lstrip(b"\x00")
    exponent = int(re.search(r"Exponent:\s*(\d+)", text).group(1))
    return {
        "kty": "RSA", "alg": "RS256", "use": "sig",
        "kid": b64url(hashlib.sha256(der).digest()),
        "n": b64url(modulus),
        "e": b64url(exponent.to_bytes((exponent.bit_length() + 7) // 8, "big")),
    }


def documents(issuer: str, key_files: list[str]) -> tuple[dict, dict]:
    keys, seen = [], set()
    for key_file in key_files:
        key = jwk(public_der(key_file))
        if key["kid"] not in seen:
            seen.add(key["kid"])
            keys.append(key)
    discovery = {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/keys.json",
        "authorization_endpoint": "urn:kubernetes:programmatic_authorization",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "iss"],
    }
    return discovery, {"keys": keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("key_files", nargs="+")
    args = parser.parse_args()
    discovery, jwks = documents(args.issuer, args.key_files)
    (args.out / "openid-configuration").write_text(json.dumps(discovery, indent=2))
    (args.out / "keys.json").write_text(json.dumps(jwks, indent=2))


if __name__ == "__main__":
    main()
