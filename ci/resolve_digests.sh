#!/usr/bin/env bash
# Resolve each image this tag pushed to its digest, and print them as a GitLab dotenv report:
#   COMPONENT_IMAGE=$CI_REGISTRY_IMAGE/components@sha256:…   (SERVING_IMAGE, STREAMER_IMAGE and
#   COMPONENT_GPU_IMAGE, for `compile --gpu`, alike)
# Deploy then runs exactly what was built, even if someone moves the tag later. Fails if one is missing.
set -euo pipefail

: "${CI_REGISTRY:?}" "${CI_REGISTRY_IMAGE:?}" "${CI_COMMIT_TAG:?}"
images=(components serving streamer components-gpu)  # what the build job pushes: one image per Dockerfile folder

if [[ -n "${CI_REGISTRY_PASSWORD:-}" ]]; then
  # stdin keeps the password out of the process list
  skopeo login --username "${CI_REGISTRY_USER:?}" --password-stdin "$CI_REGISTRY" <<<"$CI_REGISTRY_PASSWORD" >&2
fi

for name in "${images[@]}"; do
  ref="$CI_REGISTRY_IMAGE/$name:$CI_COMMIT_TAG"
  if ! digest="$(skopeo inspect --format '{{.Digest}}' "docker://$ref")"; then
    echo "error: $ref is not in the registry: did its build fail?" >&2
    exit 1
  fi
  if [[ ! "$digest" =~ ^sha256:[0-9a-f]{64}$ ]]; then
    echo "error: $ref resolved to '$digest', not a sha256 digest" >&2
    exit 1
  fi
  variable="$(tr '[:lower:]-' '[:upper:]_' <<<"$name")_IMAGE"
  variable="${variable/COMPONENTS_/COMPONENT_}"  # components/image.py reads COMPONENT_IMAGE and COMPONENT_GPU_IMAGE
  echo "$variable=$CI_REGISTRY_IMAGE/$name@$digest"
done
