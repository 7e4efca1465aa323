# A worker: k3s agent joining the control plane. A GPU worker is labelled, tainted, and runs
# containers with the NVIDIA runtime that its AMI ships.
# Expects node.env to add: CONTROL_PLANE_IP, NODE_KIND (cpu or gpu).
# shellcheck source=install_k3s.sh
source /usr/local/lib/twitter-sentiment/install_k3s.sh

args=(agent --server "https://${CONTROL_PLANE_IP}:6443")
if [ "$NODE_KIND" = gpu ]; then
  # Only pods that tolerate the taint (training steps, the NVIDIA device plugin) land here.
  args+=(--node-label nvidia.com/gpu.present=true
         --node-taint nvidia.com/gpu=true:NoSchedule
         --default-runtime nvidia)
fi
# The agent retries until the server answers, so workers may boot before the control plane.
install_k3s "${args[@]}"
