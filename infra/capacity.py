"""What the nodes can hold and what the cluster's add-ons ask for: the one home of both, read by the CDK
stack (each node's kubelet reservations) and by tests/infra/test_capacity.py (every pod fits).

Kubernetes schedules on requests against a node's allocatable: capacity - kube-reserved - system-reserved
- the hard eviction threshold (kubernetes.io/docs/tasks/administer-cluster/reserve-compute-resources).
k3s reserves nothing by default, so a busy node could starve the kubelet; the nodes pass the reservations
below (infra/userdata/install_k3s.sh).
"""

from __future__ import annotations

from dataclasses import dataclass

MI = 1  # memory in MiB, CPU in millicores


@dataclass(frozen=True)
class Resources:
    cpu_m: int
    memory_mi: int

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m + other.cpu_m, self.memory_mi + other.memory_mi)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m - other.cpu_m, self.memory_mi - other.memory_mi)

    def fits_in(self, other: Resources) -> bool:
        return self.cpu_m <= other.cpu_m and self.memory_mi <= other.memory_mi


# vCPUs and memory (aws.amazon.com/ec2/instance-types/t3/, /g4/); the kernel keeps part of the memory, so
# the kubelet's capacity is the nominal size less about 5 % (what MemTotal shows on Amazon Linux 2023).
INSTANCE_TYPES = {
    "t3.medium": Resources(2000, 4096 * 95 // 100),
    "t3.large": Resources(2000, 8192 * 95 // 100),
    "g4dn.xlarge": Resources(4000, 16384 * 95 // 100),
}
KUBE_RESERVED = Resources(100, 256)  # the kubelet and containerd (k3s runs both in one process)
SYSTEM_RESERVED = Resources(100, 256)  # sshd-less AL2023: the SSM agent, systemd, journald
EVICTION_HARD_MEMORY_MI = 100  # the kubelet's default memory.available<100Mi


def kubelet_args() -> list[str]:
    """The k3s flags that make the reservations real on every node."""
    def pair(r: Resources) -> str:
        return f"cpu={r.cpu_m}m,memory={r.memory_mi}Mi"
    return [f"--kubelet-arg=kube-reserved={pair(KUBE_RESERVED)}",
            f"--kubelet-arg=system-reserved={pair(SYSTEM_RESERVED)}"]


def allocatable(instance_type: str) -> Resources:
    capacity = INSTANCE_TYPES[instance_type]
    return capacity - KUBE_RESERVED - SYSTEM_RESERVED - Resources(0, EVICTION_HARD_MEMORY_MI)


@dataclass(frozen=True)
class Workload:
    name: str
    replicas: int
    requests: Resources  # per pod: the sum of its containers' requests (init containers run before)
    source: str


# Every long-running pod the cluster runs besides ours, at the versions infra/ pins. Charts whose default
# values set no requests (cert-manager v1.17.0, the pod identity webhook 1.2.0, the GitLab agent 2.23.0,
# k3s's local-path-provisioner) request nothing and are left out.
ADDON_WORKLOADS = [
    Workload("coredns", 1, Resources(100, 70), "k3s v1.33.6+k3s1 manifests/coredns.yaml"),
    Workload("metrics-server", 1, Resources(100, 70), "k3s v1.33.6+k3s1 manifests/metrics-server/"),
    Workload("kserve-controller-manager", 1, Resources(200, 600),
             "kserve charts/kserve-resources/values.yaml: manager 100m/300Mi + kube-rbac-proxy 100m/300Mi"),
    Workload("ml-pipeline", 1, Resources(250, 500), "kubeflow/pipelines 2.17.0 ml-pipeline-apiserver-deployment.yaml"),
    Workload("ml-pipeline-persistenceagent", 1, Resources(120, 500),
             "kubeflow/pipelines 2.17.0 ml-pipeline-persistenceagent-deployment.yaml"),
    Workload("ml-pipeline-ui", 1, Resources(10, 70), "kubeflow/pipelines 2.17.0 ml-pipeline-ui-deployment.yaml"),
    Workload("ml-pipeline-visualizationserver", 1, Resources(30, 500),
             "kubeflow/pipelines 2.17.0 ml-pipeline-visualization-deployment.yaml"),
    Workload("workflow-controller", 1, Resources(100, 500),
             "kubeflow/pipelines 2.17.0 third-party/argo/base/workflow-controller-deployment-patch.yaml"),
    Workload("mysql", 1, Resources(100, 800), "kubeflow/pipelines 2.17.0 third-party/mysql/base/mysql-deployment.yaml"),
    Workload("seaweedfs", 1, Resources(64, 256),
             "kubeflow/pipelines 2.17.0 third-party/seaweedfs/base/seaweedfs/seaweedfs-deployment.yaml"),
]
# Each KFP task also runs a driver pod before its step (backend/src/v2/compiler/argocompiler/argo.go,
# driverResources, kfp 2.17.0): 100m / 64Mi, gone before the step's own pod starts.
KFP_DRIVER = Resources(100, 64)
