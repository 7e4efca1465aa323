#!/bin/sh
# The GitLab Release's notes for this tag: the images it deployed, by digest, and the model version the
# predictor served (pull_image's and deploy's dotenv reports). POSIX sh: the release-cli image has no bash.
set -eu

: "${CI_COMMIT_TAG:?}" "${COMPONENT_IMAGE:?from pull_image}" "${SERVING_IMAGE:?from pull_image}"
: "${STREAMER_IMAGE:?from pull_image}" "${DEPLOYED_MODEL_VERSION:?from deploy}"

cat <<NOTES
## twitter-sentiment $CI_COMMIT_TAG

Deployed to \`${OVERLAY:-?}\`; a rollback redeploys exactly these.

| part | image |
|---|---|
| training steps | \`$COMPONENT_IMAGE\` |
| predictor | \`$SERVING_IMAGE\` |
| streamer | \`$STREAMER_IMAGE\` |

Model version served: \`$DEPLOYED_MODEL_VERSION\`${STORAGE_URI:+ (\`$STORAGE_URI\`)}
NOTES
