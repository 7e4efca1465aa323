#!/usr/bin/env bash
# Install, at pinned versions, what the rest of the project expects on the cluster:
#   cert-manager; the pod identity webhook (IAM roles for the pods' service accounts);
#   KServe in Standard (raw Deployment) mode; Kubeflow Pipelines standalone, its pipeline root on S3;
#   the NVIDIA device plugin when a GPU worker exists; the GitLab agent when GITLAB_AGENT_TOKEN is set
#   (CI deploys through it: the API server stays private).
# Run it after `cdk deploy`, with kubectl reaching the cluster (see infra/README.md) and AWS credentials
# for the stack's account. Running it again upgrades in place.
set -euo pipefail

CERT_MANAGER_VERSION=v1.17.0
POD_IDENTITY_WEBHOOK_CHART_VERSION=1.2.0   # jkroepke/amazon-eks-pod-identity-webhook
KSERVE_VERSION=v0.21.0                     # the same release as the kserve Python package
KFP_VERSION=2.17.0                         # the same release as the kfp SDK
NVIDIA_DEVICE_PLUGIN_VERSION=0.17.0
GITLAB_AGENT_CHART_VERSION=2.23.0
GITLAB_AGENT_NAME=${GITLAB_AGENT_NAME:-twitter-sentiment}
GITLAB_KAS_ADDRESS=${GITLAB_KAS_ADDRESS:-wss://kas.gitlab.com}  # gitlab.com; a self-managed GitLab has its own
KSERVE_DEPLOYMENT_MODE=${KSERVE_DEPLOYMENT_MODE:-Standard}  # "RawDeployment" before KServe 0.16
STACK_NAME=${STACK_NAME:-TwitterSentiment}

stack_output() {
  aws cloudformation describe-stacks --stack-name "$STACK_NAME" --output text \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue"
}

REGION=${AWS_REGION:-$(stack_output Region)}
PIPELINE_ROOT=${PIPELINE_ROOT:-$(stack_output PipelineRoot)}
TRAINING_ROLE_ARN=${TRAINING_ROLE_ARN:-$(stack_output TrainingRoleArn)}
UI_ROLE_ARN=${UI_ROLE_ARN:-$(stack_output UiRoleArn)}

step() { printf '\n== %s\n' "$*"; }

step "cert-manager $CERT_MANAGER_VERSION (webhook certificates for KServe and the identity webhook)"
helm repo add jetstack https://charts.jetstack.io --force-update >/dev/null
helm upgrade --install cert-manager jetstack/cert-manager --namespace cert-manager --create-namespace \
  --version "$CERT_MANAGER_VERSION" --set crds.enabled=true --wait

step "pod identity webhook $POD_IDENTITY_WEBHOOK_CHART_VERSION (AWS_ROLE_ARN + token for annotated service accounts)"
helm repo add jkroepke https://jkroepke.github.io/helm-charts --force-update >/dev/null
helm upgrade --install pod-identity-webhook jkroepke/amazon-eks-pod-identity-webhook \
  --namespace kube-system --version "$POD_IDENTITY_WEBHOOK_CHART_VERSION" \
  --set config.defaultAwsRegion="$REGION" --wait

step "KServe $KSERVE_VERSION ($KSERVE_DEPLOYMENT_MODE mode: plain Deployments, no Knative or Istio)"
helm upgrade --install kserve-crd oci://ghcr.io/kserve/charts/kserve-crd --version "$KSERVE_VERSION" \
  --namespace kserve --create-namespace --wait
helm upgrade --install kserve oci://ghcr.io/kserve/charts/kserve-resources --version "$KSERVE_VERSION" \
  --namespace kserve --set kserve.controller.deploymentMode="$KSERVE_DEPLOYMENT_MODE" --wait

step "Kubeflow Pipelines $KFP_VERSION (standalone)"
kubectl apply -k "github.com/kubeflow/pipelines/manifests/kustomize/cluster-scoped-resources?ref=$KFP_VERSION"
kubectl wait --for condition=established --timeout=120s crd/applications.app.k8s.io
kubectl apply -k "github.com/kubeflow/pipelines/manifests/kustomize/env/platform-agnostic?ref=$KFP_VERSION"

step "KFP artifacts on S3: $PIPELINE_ROOT, credentials from the pods' IAM role"
# The launcher takes credentials from the environment, which the identity webhook fills in for
# pods of the annotated pipeline-runner service account.
providers=$(cat <<YAML
s3:
  default:
    endpoint: s3.${REGION}.amazonaws.com
    region: ${REGION}
    disableSSL: false
    forcePathStyle: false
    credentials:
      fromEnv: true
YAML
)
kubectl -n kubeflow create configmap kfp-launcher --from-literal=defaultPipelineRoot="$PIPELINE_ROOT" \
  --from-literal=providers="$providers" --dry-run=client -o yaml | kubectl apply -f -
kubectl -n kubeflow annotate serviceaccount pipeline-runner --overwrite \
  "eks.amazonaws.com/role-arn=$TRAINING_ROLE_ARN"
# The UI's server reads artifacts (the evaluation's report) itself: with no keys and an AWS endpoint it uses
# the AWS provider chain, IRSA included (KFP 2.17 frontend/server/minio-helper.ts). Its own read-only role.
kubectl -n kubeflow annotate serviceaccount ml-pipeline-ui --overwrite "eks.amazonaws.com/role-arn=$UI_ROLE_ARN"
kubectl -n kubeflow set env deployment/ml-pipeline-ui AWS_REGION="$REGION" AWS_S3_ENDPOINT="s3.${REGION}.amazonaws.com"
kubectl -n kubeflow rollout restart deployment/ml-pipeline-ui  # the identity webhook acts at pod creation
kubectl -n kubeflow wait --for=condition=Available --timeout=600s deployment --all

if [ -n "$(kubectl get nodes -l nvidia.com/gpu.present=true -o name)" ]; then
  step "NVIDIA device plugin $NVIDIA_DEVICE_PLUGIN_VERSION (advertises nvidia.com/gpu on the GPU worker)"
  helm repo add nvdp https://nvidia.github.io/k8s-device-plugin --force-update >/dev/null
  helm upgrade --install nvidia-device-plugin nvdp/nvidia-device-plugin --namespace kube-system \
    --version "$NVIDIA_DEVICE_PLUGIN_VERSION" --set-string 'nodeSelector.nvidia\.com/gpu\.present=true' --wait
fi

if [ -n "${GITLAB_AGENT_TOKEN:-}" ]; then
  step "GitLab agent $GITLAB_AGENT_NAME (chart $GITLAB_AGENT_CHART_VERSION): CI reaches the cluster through it"
  helm repo add gitlab https://charts.gitlab.io --force-update >/dev/null
  # The token goes in on stdin, so it shows neither in the process list nor in the shell history.
  printf 'config:\n  token: "%s"\n  kasAddress: "%s"\n' "$GITLAB_AGENT_TOKEN" "$GITLAB_KAS_ADDRESS" |
    helm upgrade --install "$GITLAB_AGENT_NAME" gitlab/gitlab-agent --namespace gitlab-agent --create-namespace \
      --version "$GITLAB_AGENT_CHART_VERSION" --values - --wait
fi

step "done"
echo "ci/deploy.sh annotates the application service accounts with these roles (PREDICTOR_ROLE_ARN, STREAMER_ROLE_ARN):"
for app in Predictor Streamer; do  # pipeline-runner and ml-pipeline-ui are annotated above
  printf '  %-9s %s\n' "$app" "$(stack_output "${app}RoleArn")"
done
