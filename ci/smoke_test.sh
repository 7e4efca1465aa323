#!/usr/bin/env bash
# After a deploy: known tweets through the predictor's KServe v1 endpoint must get their labels, and
# the streamer's /healthz (stream, predictor and sink reachable) must answer 200. Both are reached
# with kubectl port-forward, so the check needs no ingress and leaves the NetworkPolicies as they are.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=ci/kube_context.sh
source "$here/kube_context.sh"
use_kube_context
namespace="$(sed -n 's/^namespace: *\([a-z0-9-]*\).*/\1/p' "$here/../manifests/components/common/kustomization.yaml")"
model="${MODEL_NAME:-twitter-sentiment}"
cases="${SMOKE_TWEETS:-$here/smoke_tweets.json}"
predictor_port="${SMOKE_PREDICTOR_PORT:-18080}"
health_port="${SMOKE_HEALTH_PORT:-18000}"

forwards=()
stop_forwards() {
  local pid
  for pid in "${forwards[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap stop_forwards EXIT

# Forward a local port to TARGET:PORT and wait until it accepts connections.
forward() {
  local target="$1" local_port="$2" remote_port="$3"
  kubectl -n "$namespace" port-forward "$target" "$local_port:$remote_port" >/dev/null &
  forwards+=("$!")
  for _ in $(seq 1 30); do
    if curl -s -o /dev/null "http://127.0.0.1:$local_port/"; then return 0; fi
    sleep 1
  done
  echo "smoke test: could not port-forward to $target" >&2
  return 1
}

forward svc/twitter-sentiment-predictor "$predictor_port" 80
request="$(jq -c '{instances: [.[].text]}' "$cases")"
response="$(curl -fsS --max-time 60 -H 'Content-Type: application/json' -d "$request" \
  "http://127.0.0.1:$predictor_port/v1/models/$model:predict")"
expected="$(jq -c '[.[].label]' "$cases")"
got="$(jq -c '[.predictions[].label]' <<<"$response")"
if [[ "$got" != "$expected" ]]; then
  echo "smoke test: labels $got, expected $expected" >&2
  echo "response: $response" >&2
  exit 1
fi
echo "predictor: $(jq length "$cases") known tweets labelled as expected"

forward deployment/twitter-sentiment-streamer "$health_port" 8000
if ! health="$(curl -fsS --max-time 30 "http://127.0.0.1:$health_port/healthz")"; then
  echo "smoke test: the streamer's /healthz failed" >&2
  exit 1
fi
echo "streamer: /healthz $health"
