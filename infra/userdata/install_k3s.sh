# Shared by every node: fetch the join token and the pinned k3s installer. Sourced, not run.
# Expects /etc/twitter-sentiment/node.env: K3S_VERSION, AWS_REGION, JOIN_TOKEN_SECRET, KUBELET_ARGS
# (the kubelet's reservations, from infra/capacity.py).
set -euo pipefail
# shellcheck disable=SC1091
source /etc/twitter-sentiment/node.env

join_token() {
  # The join token lives in Secrets Manager: never in the template, the user data or the repo.
  aws secretsmanager get-secret-value --region "$AWS_REGION" --secret-id "$JOIN_TOKEN_SECRET" \
    --query SecretString --output text
}

install_k3s() {
  # The installer from the same tag as the binary, so both are pinned.
  local installer=/usr/local/lib/twitter-sentiment/k3s-install.sh
  curl --fail --silent --show-error --location --retry 5 -o "$installer" \
    "https://raw.githubusercontent.com/k3s-io/k3s/${K3S_VERSION/+/%2B}/install.sh"
  local reservations
  read -ra reservations <<<"${KUBELET_ARGS:-}"
  K3S_TOKEN="$(join_token)" INSTALL_K3S_VERSION="$K3S_VERSION" INSTALL_K3S_SKIP_SELINUX_RPM=true \
    sh "$installer" "$@" "${reservations[@]}"
}
