#!/usr/bin/env bash
# Build the project's images and print each one's size and build time.
#   images/build.sh [NAME...]   NAME: components serving streamer components-gpu (default: the first three)
# Tags: $IMAGE_PREFIX/NAME:$IMAGE_TAG (default twitter-sentiment/NAME:local).
# BASE_IMAGE: the base every Dockerfile starts from. Default: the local one that `make base-image`
# builds from Debian packages (built here when missing); set BASE_IMAGE=python:3.11.14-slim-bookworm
# where a registry is reachable. DOCKER_HOST: the daemon (`make images` starts a private one if none).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${IMAGE_PREFIX:-twitter-sentiment}"
tag="${IMAGE_TAG:-local}"
local_base="twitter-sentiment/python:3.11-bookworm-local"
base="${BASE_IMAGE:-$local_base}"
[[ $# -gt 0 ]] || set -- components serving streamer
# BuildKit (cache and secret mounts): a client with buildx, or Debian's docker.io 20.10, which has it built in.
docker_cli=docker
if ! docker buildx version >/dev/null 2>&1 && [[ -x /usr/bin/docker ]]; then docker_cli=/usr/bin/docker; fi
export DOCKER_BUILDKIT=1
if [[ "$base" == "$local_base" ]] && ! docker image inspect "$base" >/dev/null 2>&1; then
  images/base-image.sh "$base"
fi
# pip inside the build trusts the CA bundle pip trusts here (a proxy's CA, where there is one).
cert="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
secret=()
[[ -s "$cert" ]] && secret=(--secret "id=pip-cert,src=$cert")
for name in "$@"; do
  file="$name/Dockerfile"
  [[ -f "$file" ]] || { echo "unknown image $name: no $file" >&2; exit 2; }
  started=$(date +%s)
  replaced="$(docker image inspect --format '{{.Id}}' "$prefix/$name:$tag" 2>/dev/null || true)"
  "$docker_cli" build --quiet --network host --build-arg "BASE_IMAGE=$base" "${secret[@]}" \
    --file "$file" --tag "$prefix/$name:$tag" . >/dev/null
  # The image the tag pointed to would stay behind untagged (gigabytes per rebuild); one that another
  # tag or a container still uses is kept (rmi refuses it).
  if [[ -n "$replaced" && "$replaced" != "$(docker image inspect --format '{{.Id}}' "$prefix/$name:$tag")" ]]; then
    docker rmi "$replaced" >/dev/null 2>&1 || true
  fi
  size=$(docker image inspect --format '{{.Size}}' "$prefix/$name:$tag")
  printf '%-16s %6d MB  built in %4ds  (%s)\n' "$name" $((size / 1000000)) $(($(date +%s) - started)) \
    "$prefix/$name:$tag"
done
