#!/usr/bin/env bash
# Deploy one release of the serving side (manifests/overlays/$OVERLAY) and wait until it runs.
#
#   OVERLAY          dev or prod
#   SERVING_IMAGE    $CI_REGISTRY_IMAGE/serving@sha256:…   (from pull_image)
#   STREAMER_IMAGE   $CI_REGISTRY_IMAGE/streamer@sha256:…
#   STORAGE_URI      optional: the model version to serve; default <MODEL_STORE_URI>/<LATEST>/, which
#                    `python -m pipelines versions latest --uri` reads (PYTHON: default python3, with the project)
#   RELEASE_TAG      optional: default $CI_COMMIT_TAG
#   KUBE_CONTEXT     the GitLab agent's context (.gitlab-ci.yml); unset: the current context
#   CI_REGISTRY, CI_DEPLOY_USER, CI_DEPLOY_PASSWORD   the registry and a deploy token that reads it (GitLab
#                    sets the last two for a deploy token named gitlab-deploy-token): the pods' pull secret
#   and one variable for every key of the overlay's secrets/*.env and release.env (masked CI variables).
#
# Also applies manifests/kubeflow/$OVERLAY: what the training pipeline needs where KFP runs it.
# Ready means the InferenceService's Ready condition and the predictor answering with the deployed model
# version: KServe copies status.observedGeneration from the predictor Deployment, so it is not comparable
# with the InferenceService's metadata.generation (kserve 0.21 pkg/controller/v1beta1/inferenceservice).
#
# Every input is checked before anything is applied. Just before applying, writes $DEPLOY_ENV_FILE
# (default ./deploy.env): the release that ran before, for ci/rollback.sh.
# The repository's files are never changed: the overlay is filled and rendered in a temporary copy.
set -euo pipefail
umask 077  # the filled copy holds secret values

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=ci/kube_context.sh
source "$repo/ci/kube_context.sh"
: "${OVERLAY:?set OVERLAY to dev or prod}"
: "${SERVING_IMAGE:?set by pull_image}" "${STREAMER_IMAGE:?set by pull_image}"
release="${RELEASE_TAG:-${CI_COMMIT_TAG:?set RELEASE_TAG or CI_COMMIT_TAG}}"
deploy_env="${DEPLOY_ENV_FILE:-$PWD/deploy.env}"
rm -f "$deploy_env"  # a stale one must not steer a rollback
timeout="${DEPLOY_TIMEOUT_SECONDS:-600}"
namespace="$(sed -n 's/^namespace: *\([a-z0-9-]*\).*/\1/p' "$repo/manifests/components/common/kustomization.yaml")"
isvc=twitter-sentiment
streamer=twitter-sentiment-streamer
release_annotation=twitter-sentiment/release
placeholder=registry.invalid/twitter-sentiment  # the image names the manifests use until deploy

die() { echo "error: $*" >&2; exit 1; }
: "${CI_REGISTRY:?set by GitLab: the registry the images are in}"
: "${CI_DEPLOY_USER:?create a deploy token named gitlab-deploy-token (read_registry): GitLab then sets it}"
: "${CI_DEPLOY_PASSWORD:?create a deploy token named gitlab-deploy-token (read_registry): GitLab then sets it}"

[[ -d "$repo/manifests/overlays/$OVERLAY" ]] || die "no overlay manifests/overlays/$OVERLAY"
for image in "$SERVING_IMAGE" "$STREAMER_IMAGE"; do
  [[ "$image" =~ @sha256:[0-9a-f]{64}$ ]] || die "$image is not pinned by digest"
done

# The model version to serve: a versioned prefix ending in "/", read from the store's LATEST.
if [[ -z "${STORAGE_URI:-}" ]]; then
  : "${MODEL_STORE_URI:?set MODEL_STORE_URI (s3://BUCKET/models/twitter-sentiment) or STORAGE_URI}"
  # The store resolves LATEST (twitter_sentiment/store.py), as serving does: one resolver.
  STORAGE_URI="$(cd "$repo" && "${PYTHON:-python3}" -m pipelines versions --store "$MODEL_STORE_URI" latest --uri)" \
    || die "cannot read LATEST in $MODEL_STORE_URI"
fi
[[ "$STORAGE_URI" =~ ^s3://[^/]+/models/twitter-sentiment/[^/]+/$ ]] \
  || die "STORAGE_URI $STORAGE_URI is not s3://BUCKET/models/twitter-sentiment/VERSION/"
export STORAGE_URI
echo "release $release: serving $STORAGE_URI"

version="${STORAGE_URI%/}"
version="${version##*/}"  # the bundle version the predictor must answer with

work="$(mktemp -d)"
forward_pid=""
trap 'if [[ -n "$forward_pid" ]]; then kill "$forward_pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
cp -R "$repo/manifests" "$work/manifests"

# Each KEY= line of a shape file gets the value of the environment variable KEY.
fill_env_file() {
  local file="$1" line key
  while IFS= read -r line || [[ -n "$line" ]]; do
    if [[ "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)= ]]; then
      key="${BASH_REMATCH[1]}"
      [[ -n "${!key:-}" ]] || die "$key is not set (needed by ${file#"$work"/})"
      [[ "${!key}" != *$'\n'* ]] || die "$key holds a line break, which an env file cannot carry"
      printf '%s=%s\n' "$key" "${!key}"
    else
      printf '%s\n' "$line"
    fi
  done <"$file" >"$file.filled"
  mv "$file.filled" "$file"
}
shopt -s nullglob
for file in "$work"/manifests/base/secrets/*.env "$work/manifests/overlays/$OVERLAY"/secrets/*.env \
  "$work/manifests/overlays/$OVERLAY/release.env" "$work/manifests/kubeflow/$OVERLAY"/secrets/*.env; do
  fill_env_file "$file"
done
# The pull secret's .dockerconfigjson: the registry and the deploy token (kubernetes.io/dockerconfigjson).
auth="$(printf '%s:%s' "$CI_DEPLOY_USER" "$CI_DEPLOY_PASSWORD" | base64 | tr -d '\n')"
for file in "$work"/manifests/base/secrets/dockerconfig.json "$work"/manifests/kubeflow/base/secrets/dockerconfig.json; do
  printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$CI_REGISTRY" "$auth" >"$file"
done

(
  cd "$work/manifests/overlays/$OVERLAY"
  kustomize edit set image "$placeholder/serving=$SERVING_IMAGE" "$placeholder/streamer=$STREAMER_IMAGE"
  kustomize edit set annotation "$release_annotation:$release"
  kustomize build . >"$work/rendered.yaml"
)
kubectl kustomize "$work/manifests/kubeflow/$OVERLAY" >"$work/kubeflow.yaml"

use_kube_context

# What runs now, so that a failed release can be rolled back to it (a GitLab dotenv report).
current() { kubectl -n "$namespace" get "$@" 2>/dev/null || true; }
record() { if [[ -n "$2" ]]; then echo "$1=$2"; fi; }
container='containers[?(@.name=="kserve-container")]'
{
  record PREVIOUS_RELEASE "$(current inferenceservice "$isvc" \
    -o "jsonpath={.metadata.annotations.${release_annotation}}")"
  record PREVIOUS_SERVING_IMAGE "$(current inferenceservice "$isvc" -o "jsonpath={.spec.predictor.$container.image}")"
  record PREVIOUS_STORAGE_URI "$(current inferenceservice "$isvc" \
    -o "jsonpath={.spec.predictor.$container.env[?(@.name==\"STORAGE_URI\")].value}")"
  record PREVIOUS_STREAMER_IMAGE "$(current deployment "$streamer" \
    -o 'jsonpath={.spec.template.spec.containers[?(@.name=="streamer")].image}')"
  record DEPLOYED_MODEL_VERSION "$version"  # for the release notes (ci/release_notes.sh)
} >"$deploy_env"
cat "$deploy_env"

kubectl apply -f "$work/rendered.yaml"
kubectl apply -f "$work/kubeflow.yaml"

deadline=$((SECONDS + timeout))
ready=""
until [[ "$ready" == True ]]; do
  ((SECONDS < deadline)) || die "InferenceService $isvc was not Ready within ${timeout}s (Ready=${ready:-unknown})"
  sleep "${DEPLOY_POLL_SECONDS:-5}"
  ready="$(kubectl -n "$namespace" get inferenceservice "$isvc" \
    -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" || true  # a transient API error: ask again
done
kubectl -n "$namespace" rollout status "deployment/$isvc-predictor" --timeout="${timeout}s"
kubectl -n "$namespace" rollout status "deployment/$streamer" --timeout="${timeout}s"

# Ready can still describe the pods before this apply: ask the predictor which bundle it serves
# (a predict answer carries model_version). Through port-forward: the NetworkPolicy admits only the streamer.
port="${DEPLOY_FORWARD_PORT:-18081}"
kubectl -n "$namespace" port-forward "svc/$isvc-predictor" "$port:80" >/dev/null &
forward_pid=$!
served=""
until [[ "$served" == "$version" ]]; do
  ((SECONDS < deadline)) || die "the predictor serves model version '${served:-none}', not $version, after ${timeout}s"
  sleep "${DEPLOY_POLL_SECONDS:-5}"
  served="$(curl -fsS --max-time 30 -H 'Content-Type: application/json' -d '{"instances": ["deploy check"]}' \
    "http://127.0.0.1:$port/v1/models/$isvc:predict" | jq -r '.model_version // empty')" || true
done
echo "release $release is running in $namespace ($OVERLAY), serving model version $version"
