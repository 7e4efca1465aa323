# shellcheck shell=bash
# Sourced by ci/*.sh: select the GitLab agent's kube context, the only way CI reaches the private API server.
# GitLab injects a KUBECONFIG with one context per agent the job may use (the agent's ci_access, filtered by
# the job's environment), named <agent configuration project path>:<agent name>
# (docs.gitlab.com/user/clusters/agent/ci_cd_workflow). .gitlab-ci.yml sets KUBE_CONTEXT; unset, the
# caller's current context is used (an administrator's SSM tunnel).
use_kube_context() {
  if [[ -z "${KUBE_CONTEXT:-}" ]]; then return 0; fi
  if ! kubectl config use-context "$KUBE_CONTEXT" >/dev/null; then
    echo "error: KUBE_CONTEXT $KUBE_CONTEXT is not in the job's KUBECONFIG: is the GitLab agent connected," \
      "and does .gitlab/agents/*/config.yaml's ci_access admit this project and environment?" >&2
    exit 1
  fi
}
