"""`docker run` flags from a rendered pod spec, so that a container test runs an image the way the
cluster runs it, from the manifests themselves rather than a second list that could drift.

Kubernetes field meanings: https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/
(SecurityContext, PodSecurityContext, EmptyDirVolumeSource). A field this translator does not know
fails the test: a new setting must be applied here before the test can pass again.
"""

from __future__ import annotations

import re

DEFAULT_GRACE_SECONDS = 30  # PodSpec.terminationGracePeriodSeconds when unset (Kubernetes API default)
POD_KNOWN = {"runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "seccompProfile"}
CONTAINER_KNOWN = {"allowPrivilegeEscalation", "readOnlyRootFilesystem", "runAsNonRoot", "capabilities",
                   "runAsUser", "runAsGroup"}


def quantity(value: str) -> str:
    """A Kubernetes memory quantity (256Mi, 2Gi) as Docker's size (256m, 2g): both binary units."""
    number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", str(value)).groups()
    return number + {"Ki": "k", "Mi": "m", "Gi": "g", None: "b"}[unit]


def run_flags(pod: dict, container: dict, image_user: str) -> list[str]:
    """Flags for `docker run` that apply the pod's and the container's security settings, its
    emptyDir volumes (as tmpfs of their sizeLimit) and its resource limits."""
    pod_context, context = pod.get("securityContext", {}), container.get("securityContext", {})
    unknown = (set(pod_context) - POD_KNOWN) | (set(context) - CONTAINER_KNOWN)
    assert not unknown, f"settings this test cannot apply yet: {sorted(unknown)}"
    user = context.get("runAsUser", pod_context.get("runAsUser"))
    group = context.get("runAsGroup", pod_context.get("runAsGroup"))
    if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
        # The kubelet refuses to start a container whose user is root or, without runAsUser, not numeric.
        effective = str(user) if user is not None else image_user
        assert effective.isdigit() and int(effective) != 0, f"runAsNonRoot, but the user is {effective!r}"
    flags = []
    if user is not None:
        flags += ["--user", f"{user}:{group}" if group is not None else str(user)]
    if "fsGroup" in pod_context:
        flags += ["--group-add", str(pod_context["fsGroup"])]
    seccomp = pod_context.get("seccompProfile", {}).get("type", "RuntimeDefault")
    assert seccomp == "RuntimeDefault", f"seccompProfile {seccomp}"  # Docker's default profile
    if context.get("readOnlyRootFilesystem"):
        flags.append("--read-only")
    if context.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    capabilities = context.get("capabilities", {})
    flags += [f"--cap-drop={c}" for c in capabilities.get("drop", [])]
    flags += [f"--cap-add={c}" for c in capabilities.get("add", [])]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        assert set(volume) == {"name", "emptyDir"}, f"volume {mount['name']}: only emptyDir is translated"
        size = volume["emptyDir"].get("sizeLimit")
        flags += ["--tmpfs", mount["mountPath"] + (f":size={quantity(size)}" if size else "")]
    limits = container.get("resources", {}).get("limits", {})
    if "memory" in limits:
        flags += ["--memory", quantity(limits["memory"])]
    if "cpu" in limits:
        cpu = str(limits["cpu"])
        flags += ["--cpus", str(int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu))]
    return flags


def environment(container: dict, overrides: dict[str, str]) -> list[str]:
    """-e flags for the container's literal env values (secretKeyRef ones come from `overrides`)."""
    values = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    values.update(overrides)
    return [arg for name, value in values.items() for arg in ("-e", f"{name}={value}")]


def grace_seconds(pod: dict) -> int:
    return int(pod.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS))


def rendered(overlay: str = "prod") -> list[dict]:
    from tests.delivery.conftest import MANIFESTS, render

    return render(MANIFESTS / "overlays" / overlay)


def predictor_spec(overlay: str = "prod") -> tuple[dict, dict]:
    """The InferenceService's predictor (a pod spec) and its kserve-container."""
    [service] = [o for o in rendered(overlay) if o["kind"] == "InferenceService"]
    predictor = service["spec"]["predictor"]
    [container] = [c for c in predictor["containers"] if c["name"] == "kserve-container"]
    return predictor, container


def streamer_spec(overlay: str = "prod") -> tuple[dict, dict, dict[str, str]]:
    """The streamer Deployment's pod spec, its container, and the settings of the ConfigMap it reads."""
    objects = rendered(overlay)
    [deployment] = [o for o in objects if o["kind"] == "Deployment" and
                    o["metadata"]["name"] == "twitter-sentiment-streamer"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = [c for c in pod["containers"] if c["name"] == "streamer"]
    maps = {o["metadata"]["name"]: o.get("data", {}) for o in objects if o["kind"] == "ConfigMap"}
    settings = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            settings.update(maps[source["configMapRef"]["name"]])
    return pod, container, settings
