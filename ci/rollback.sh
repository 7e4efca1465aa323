#!/usr/bin/env bash
# Roll the serving side back to the release that ran before this one: that tag's manifests and
# scripts, with the images (by digest) and the model version it ran. ci/deploy.sh recorded them as
# PREVIOUS_* (the deploy job's dotenv report, or ./deploy.env in the same job). Exits 1 either way:
# the pipeline must show that this release failed.
set -euo pipefail

if [[ -z "${PREVIOUS_RELEASE:-}" && -f "${DEPLOY_ENV_FILE:-deploy.env}" ]]; then
  # shellcheck source=/dev/null  # written by ci/deploy.sh: NAME=value lines without spaces
  source "${DEPLOY_ENV_FILE:-deploy.env}"
fi
for name in PREVIOUS_RELEASE PREVIOUS_SERVING_IMAGE PREVIOUS_STREAMER_IMAGE PREVIOUS_STORAGE_URI; do
  if [[ -z "${!name:-}" ]]; then
    echo "rollback: $name is unknown (first release, or deployed by hand): leaving this release in place" >&2
    exit 1
  fi
done
echo "rollback: redeploying $PREVIOUS_RELEASE ($PREVIOUS_SERVING_IMAGE, $PREVIOUS_STREAMER_IMAGE, $PREVIOUS_STORAGE_URI)" >&2

if ! git rev-parse --quiet --verify "refs/tags/$PREVIOUS_RELEASE" >/dev/null; then
  git fetch --depth=1 origin "refs/tags/$PREVIOUS_RELEASE:refs/tags/$PREVIOUS_RELEASE"
fi
worktree="$(mktemp -d)"
trap 'git worktree remove --force "$worktree" >/dev/null 2>&1 || rm -rf "$worktree"' EXIT
git worktree add --detach "$worktree" "refs/tags/$PREVIOUS_RELEASE" >&2

RELEASE_TAG="$PREVIOUS_RELEASE" SERVING_IMAGE="$PREVIOUS_SERVING_IMAGE" STREAMER_IMAGE="$PREVIOUS_STREAMER_IMAGE" \
  STORAGE_URI="$PREVIOUS_STORAGE_URI" DEPLOY_ENV_FILE="$worktree/deploy.env" \
  bash "$worktree/ci/deploy.sh"
echo "rollback: $PREVIOUS_RELEASE is running again; the failed release stays in the registry for inspection" >&2
exit 1
