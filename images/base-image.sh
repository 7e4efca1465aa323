#!/usr/bin/env bash
# The local stand-in for the official python:3.11-slim-bookworm image, for machines that reach Debian's
# archive but no container registry: a minimal Debian bookworm with Debian's Python 3.11 (3.11.2) and
# a venv on PATH, so that `python` and `pip` work as in the official image (Debian's own Python
# refuses `pip install` outside a venv, PEP 668). Nothing else: each Dockerfile adds what it needs.
#   images/base-image.sh [TAG]     (default twitter-sentiment/python:3.11-bookworm-local)
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-twitter-sentiment/python:3.11-bookworm-local}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
command -v mmdebstrap >/dev/null || { echo "make base-image needs mmdebstrap (apt-get install mmdebstrap)" >&2; exit 1; }
started=$(date +%s)
# The sources are given explicitly: without them mmdebstrap reads sources from stdin when it is not a terminal.
# shellcheck disable=SC2016  # "$1" in a hook is mmdebstrap's (the root file system), not this shell's
mmdebstrap --quiet --variant=minbase --include=python3.11,python3.11-venv,ca-certificates \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook='chroot "$1" python3.11 -m venv /opt/python' \
  --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
  bookworm - "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
  "deb $security bookworm-security main" </dev/null \
  | docker import \
      --change 'ENV PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV LANG=C.UTF-8' \
      --change 'CMD ["python"]' \
      --message "Debian bookworm minbase + python3.11 (mmdebstrap), venv /opt/python on PATH" \
      - "$tag" >/dev/null
docker run --rm "$tag" sh -c 'python --version && pip --version' >&2
echo "built $tag in $(( $(date +%s) - started ))s, $(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%d MB", $1/1e6}')"
