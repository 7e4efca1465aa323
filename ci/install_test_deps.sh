#!/usr/bin/env bash
# The system part of what `make test` needs on a bare Debian python image (GitLab's test job);
# `make setup tools` then builds .venv and .venv-tools from the pinned requirements.
set -euo pipefail

KUBECTL_VERSION="${KUBECTL_VERSION:-v1.32.4}"

export DEBIAN_FRONTEND=noninteractive
apt-get update
# make: the front door; git, curl, jq: tests/delivery runs ci/*.sh; Java and npm: DynamoDB Local.
apt-get install -y --no-install-recommends make git curl jq unzip ca-certificates openjdk-17-jre-headless nodejs npm

# kubectl renders the overlays (tests/delivery); checked against the release's published sha256.
arch="$(dpkg --print-architecture)"
url="https://dl.k8s.io/release/$KUBECTL_VERSION/bin/linux/$arch/kubectl"
curl -fsSLo /usr/local/bin/kubectl "$url"
echo "$(curl -fsSL "$url.sha256")  /usr/local/bin/kubectl" | sha256sum --check --strict
chmod 0755 /usr/local/bin/kubectl

# sentiment140's public test set, which the project does not ship (tests read SENTIMENT140_TESTDATA).
if [ -n "${SENTIMENT140_TESTDATA:-}" ] && [ ! -f "$SENTIMENT140_TESTDATA" ]; then
  mkdir -p "$(dirname "$SENTIMENT140_TESTDATA")"
  curl -fsSLo /tmp/sentiment140.zip https://cs.stanford.edu/people/alecmgo/trainingandtestdata.zip
  unzip -p /tmp/sentiment140.zip testdata.manual.2009.06.14.csv > "$SENTIMENT140_TESTDATA"
fi
