# The control plane: k3s server, then publish the OIDC documents and the kubeconfig.
# Expects node.env to add: KUBECONFIG_SECRET, OIDC_BUCKET, OIDC_ISSUER_URL, ETCD_S3_BUCKET, ETCD_S3_FOLDER,
# ETCD_SNAPSHOT_CRON, ETCD_SNAPSHOT_RETENTION.
# shellcheck source=install_k3s.sh
source /usr/local/lib/twitter-sentiment/install_k3s.sh

# Workloads run on the workers; the API server signs tokens with an issuer IAM can fetch.
# Embedded etcd (--cluster-init: k3s snapshots etcd, not its default SQLite), snapshotted to S3 on a
# schedule with the instance role's credentials; infra/README.md says how to restore one.
install_k3s server \
  --disable traefik --disable servicelb \
  --cluster-init \
  --etcd-snapshot-schedule-cron "$ETCD_SNAPSHOT_CRON" --etcd-snapshot-retention "$ETCD_SNAPSHOT_RETENTION" \
  --etcd-s3 --etcd-s3-bucket "$ETCD_S3_BUCKET" --etcd-s3-region "$AWS_REGION" --etcd-s3-folder "$ETCD_S3_FOLDER" \
  --write-kubeconfig-mode 0600 \
  --node-taint node-role.kubernetes.io/control-plane=true:NoSchedule \
  --kube-apiserver-arg "service-account-issuer=${OIDC_ISSUER_URL}" \
  --kube-apiserver-arg "service-account-jwks-uri=${OIDC_ISSUER_URL}/keys.json"

tls=/var/lib/rancher/k3s/server/tls
until [ -s "$tls/service.key" ] && [ -s /etc/rancher/k3s/k3s.yaml ]; do sleep 2; done

# STS verifies the pods' tokens against these two public documents.
out=$(mktemp -d)
python3 /usr/local/lib/twitter-sentiment/publish_oidc.py --issuer "$OIDC_ISSUER_URL" --out "$out" \
  "$tls"/service*.key
aws s3 cp --region "$AWS_REGION" --content-type application/json \
  "$out/openid-configuration" "s3://${OIDC_BUCKET}/.well-known/openid-configuration"
aws s3 cp --region "$AWS_REGION" --content-type application/json \
  "$out/keys.json" "s3://${OIDC_BUCKET}/keys.json"

# The kubeconfig names https://127.0.0.1:6443: reach it through an SSM port-forwarding session.
aws secretsmanager put-secret-value --region "$AWS_REGION" --secret-id "$KUBECONFIG_SECRET" \
  --secret-string file:///etc/rancher/k3s/k3s.yaml
