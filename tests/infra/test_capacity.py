"""Every pod the system runs fits on the nodes infra/ creates, with the others scheduled.

Kubernetes schedules on requests against a node's allocatable (capacity less the kubelet's reservations
and the hard eviction threshold: kubernetes.io/docs/tasks/administer-cluster/reserve-compute-resources);
the default scheduler places each pod on a node that fits, preferring the least allocated one
(kube-scheduler's NodeResourcesFit, scoring strategy LeastAllocated, CPU and memory weighted alike).
A pod whose request fits no node stays Pending: a step that requests 2 CPUs never runs on a t3.large.
"""

from __future__ import annotations

import re

import pytest
import yaml

from infra.capacity import ADDON_WORKLOADS, KFP_DRIVER, Resources, allocatable, kubelet_args
from infra.config import InfraConfig
from tests.delivery.conftest import MANIFESTS, render

STORE = "s3://twitter-sentiment-models-111111111111-us-east-1/models/twitter-sentiment"


def cpu_m(quantity) -> int:
    text = str(quantity)
    return int(text[:-1]) if text.endswith("m") else round(float(text) * 1000)


def memory_mi(quantity) -> int:
    text = str(quantity)
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1000 / 1024**2, "M": 1000**2 / 1024**2, "G": 1000**3 / 1024**2}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return round(float(text[: -len(suffix)]) * units[suffix])
    return round(int(text) / 1024**2)


def requests_of(containers: list[dict]) -> Resources:
    total = Resources(0, 0)
    for container in containers:
        asked = container.get("resources", {}).get("requests", {})
        total += Resources(cpu_m(asked.get("cpu", "0")), memory_mi(asked.get("memory", "0")))
    return total


def our_workloads(replicas: str) -> list[tuple[str, Resources]]:
    """The predictor (at its min or max replicas) and the streamer, from the rendered prod overlay."""
    objects = render(MANIFESTS / "overlays" / "prod")
    pods = []
    for service in (o for o in objects if o["kind"] == "InferenceService"):
        predictor = service["spec"]["predictor"]
        pods += [("predictor", requests_of(predictor["containers"]))] * predictor[replicas]
    for deployment in (o for o in objects if o["kind"] == "Deployment"):
        spec = deployment["spec"]
        pods += [(deployment["metadata"]["name"], requests_of(spec["template"]["spec"]["containers"]))] * \
            spec.get("replicas", 1)
    return pods


@pytest.fixture(scope="module")
def pipeline_steps(tmp_path_factory) -> dict[str, Resources]:
    """Each step's requests, as the compiled pipeline asks KFP for them."""
    from pipelines.__main__ import main

    path = tmp_path_factory.mktemp("pipeline") / "pipeline.yaml"
    assert main(["compile", "-o", str(path), "--model-store-uri", STORE]) == 0
    executors = next(yaml.safe_load_all(path.read_text()))["deploymentSpec"]["executors"]
    steps = {}
    for name, executor in executors.items():
        resources = executor["container"].get("resources", {})
        steps[name] = Resources(cpu_m(resources.get("resourceCpuRequest", "0")),
                                memory_mi(resources.get("resourceMemoryRequest", "0")))
    return steps


def schedule(nodes: list[Resources], pods: list[tuple[str, Resources]]) -> list[Resources]:
    """Place pods as kube-scheduler's defaults would (fit, then least allocated); returns what is left."""
    free = list(nodes)
    for name, asked in pods:
        fitting = [i for i, left in enumerate(free) if asked.fits_in(left)]
        assert fitting, f"{name} ({asked}) fits on no node: {free}"
        best = max(fitting, key=lambda i: ((free[i].cpu_m - asked.cpu_m) / nodes[i].cpu_m
                                           + (free[i].memory_mi - asked.memory_mi) / nodes[i].memory_mi))
        free[best] -= asked
    return free


def workers(config: InfraConfig) -> list[Resources]:
    # The control plane is tainted NoSchedule (infra/userdata/control_plane.sh): workloads land on workers.
    return [allocatable(config.worker_instance_type)] * config.worker_count


@pytest.mark.parametrize("predictor_replicas", ["minReplicas", "maxReplicas"])
def test_every_training_step_fits_next_to_everything_else(pipeline_steps, predictor_replicas):
    config = InfraConfig()
    running = [(w.name, w.requests) for w in ADDON_WORKLOADS for _ in range(w.replicas)]
    running += our_workloads(predictor_replicas)
    free = schedule(workers(config), running)
    assert pipeline_steps, "the compiled pipeline has steps"
    for step, asked in pipeline_steps.items():
        # The steps run one after another; each one's KFP driver pod finishes before the step starts.
        for pod, request in ((f"{step} driver", KFP_DRIVER), (step, asked)):
            assert any(request.fits_in(left) for left in free), \
                f"{pod} asks {request}; free on the {config.worker_instance_type} workers: {free}"


def test_no_step_asks_for_a_whole_worker(pipeline_steps):
    """Even on an empty t3.large a step must leave room for the node's own pods (CoreDNS may land anywhere)."""
    whole = allocatable(InfraConfig().worker_instance_type)
    for step, asked in pipeline_steps.items():
        assert asked.cpu_m <= whole.cpu_m // 2, f"{step} asks {asked.cpu_m}m of {whole.cpu_m}m"


def test_the_nodes_make_the_reservations_the_arithmetic_assumes(template):
    user_data = str(template)
    for flag in kubelet_args():
        assert flag in user_data, f"{flag} is not passed to k3s on the nodes"
    script = (MANIFESTS.parent / "infra" / "userdata" / "install_k3s.sh").read_text()
    assert re.search(r'"\$installer" "\$@" "\$\{reservations\[@\]\}"', script), "install_k3s passes them on"
