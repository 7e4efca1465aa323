"""manifests/: each overlay renders, validates, and says what the design says (checked offline)."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import yaml

from tests.delivery.conftest import (
    KUBERNETES_VERSION,
    MANIFESTS,
    OVERLAYS,
    REPO,
    find,
    load_yaml,
    one,
    render,
    run,
    tool,
)

ISVC = "twitter-sentiment"
STREAMER = "twitter-sentiment-streamer"
PREDICTOR_SA = "twitter-sentiment-predictor"
STREAMER_SA = "twitter-sentiment-streamer"
NAMESPACE = "twitter-sentiment"  # infra/config.py: the IAM roles trust ServiceAccounts of this namespace
STORAGE_URI = re.compile(r"^s3://[a-z0-9.-]+/models/twitter-sentiment/[^/]+/$")
CORE_API_GROUPS = ("v1", "apps/v1", "networking.k8s.io/v1", "policy/v1", "autoscaling/v2", "batch/v1")
# Fields of a KServe predictor that are not Kubernetes PodSpec fields (ComponentExtensionSpec).
KSERVE_COMPONENT_FIELDS = {"minReplicas", "maxReplicas", "scaleTarget", "scaleMetric", "scaleMetricType",
                           "containerConcurrency", "timeout", "canaryTrafficPercent", "logger", "batcher",
                           "labels", "annotations", "deploymentStrategy", "autoScaling"}


def isvc(objects):
    return one(objects, "InferenceService", ISVC)


def predictor_container(objects) -> dict:
    containers = isvc(objects)["spec"]["predictor"]["containers"]
    assert [c["name"] for c in containers] == ["kserve-container"], "one container, named as KServe expects"
    return containers[0]


def env(container: dict) -> dict:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def streamer_deployment(objects) -> dict:
    return one(objects, "Deployment", STREAMER)


def streamer_settings(objects) -> dict:
    """The ConfigMap the streamer's envFrom names (its name carries kustomize's hash)."""
    pod = streamer_deployment(objects)["spec"]["template"]["spec"]
    names = [src["configMapRef"]["name"] for c in pod["containers"] for src in c.get("envFrom", [])
             if "configMapRef" in src]
    assert len(names) == 1, "settings come from one ConfigMap"
    return one(objects, "ConfigMap", names[0])["data"]


def pod_specs(objects) -> dict[str, dict]:
    """Every pod this overlay creates, directly or through KServe: name -> PodSpec-like dict."""
    pods = {f"Deployment/{d['metadata']['name']}": d["spec"]["template"]["spec"]
            for kind in ("Deployment", "StatefulSet", "DaemonSet", "Job") for d in find(objects, kind)}
    for service in find(objects, "InferenceService"):
        pods[f"InferenceService/{service['metadata']['name']}"] = service["spec"]["predictor"]
    return pods


# --- rendering and schema -----------------------------------------------------------------------------

def test_base_and_overlays_render():
    for directory in [MANIFESTS / "base", *(MANIFESTS / "overlays" / o for o in OVERLAYS)]:
        assert render(directory), f"{directory} renders to nothing"


def test_namespace_and_labels_are_set_once_for_every_object(objects):
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == NAMESPACE, where
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "twitter-sentiment", where
    common = load_yaml(MANIFESTS / "components" / "common" / "kustomization.yaml")
    assert common["kind"] == "Component" and common["namespace"] == NAMESPACE
    for directory in [MANIFESTS / "base", *(MANIFESTS / "overlays" / o for o in OVERLAYS)]:
        kustomization = load_yaml(directory / "kustomization.yaml")
        assert not {"namespace", "labels", "commonLabels", "images"} & set(kustomization), \
            f"{directory.name}: namespace, labels and images are set in components/common only"
        if directory.parent.name == "overlays":
            assert "../../components/common" in kustomization["components"]


def _validate(documents: list[dict], tmp_path: Path) -> tuple[int, str]:
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    result = run([tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, str(path)])
    return result.returncode, result.stdout + result.stderr


def test_core_objects_validate_against_the_kubernetes_schema(objects, tmp_path):
    core = [o for o in objects if o["apiVersion"] in CORE_API_GROUPS]
    assert len(core) >= 8
    code, output = _validate(core, tmp_path)
    assert code == 0, output
    assert "ERROR" not in output, output


def test_the_predictor_pod_spec_validates_as_a_kubernetes_pod(objects, tmp_path):
    predictor = isvc(objects)["spec"]["predictor"]
    pod_spec = {k: v for k, v in predictor.items() if k not in KSERVE_COMPONENT_FIELDS}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "predictor"}, "spec": pod_spec}
    code, output = _validate([pod], tmp_path)
    assert code == 0, output


def test_strict_validation_rejects_an_unknown_field(tmp_path):
    """The control for the two tests above: a typo must not pass."""
    bad = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "x:1", "imagePullPolicyy": "Always"}]}}
    code, _ = _validate([bad], tmp_path)
    assert code != 0


# --- the InferenceService -----------------------------------------------------------------------------

def test_inference_service_serves_the_model_with_the_custom_predictor(objects):
    service = isvc(objects)
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    assert service["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] in ("RawDeployment", "Standard")
    predictor = service["spec"]["predictor"]
    assert "model" not in predictor, "a custom predictor: our own image, not a KServe runtime"
    assert predictor["minReplicas"] >= 2, "no cold start, and one pod serves while a drain evicts another"
    assert predictor["maxReplicas"] >= predictor["minReplicas"]
    container = predictor_container(objects)
    variables = env(container)
    assert variables["MODEL_NAME"] == "twitter-sentiment"
    assert STORAGE_URI.match(variables["STORAGE_URI"]), variables["STORAGE_URI"]
    assert variables.get("HTTP_PORT", "8080") == "8080"
    assert [p["containerPort"] for p in container["ports"]] == [8080]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == 8080
        assert container[probe]["httpGet"]["path"].startswith("/v2/health/")


def test_the_predictor_keeps_serving_until_the_service_stops_routing_to_it(objects):
    """KServe 0.21's ModelServer.stop() (kserve/model_server.py), its SIGTERM handler, unloads every model
    at once, so any request that still reaches the pod fails. Kubernetes sends SIGTERM while it removes the
    pod from the Service's endpoints, and kube-proxy applies that a moment later ("Termination of Pods",
    kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/): a preStop pause keeps the pod serving
    through that window, and fits in the grace period with time for the stop itself."""
    predictor = isvc(objects)["spec"]["predictor"]
    command = predictor_container(objects)["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep" and 5 <= int(command[1]) <= predictor.get("terminationGracePeriodSeconds", 30) - 10


def test_every_container_has_requests_and_limits(objects):
    for name, pod in pod_specs(objects).items():
        for container in pod["containers"]:
            resources = container["resources"]
            for kind in ("cpu", "memory"):
                assert kind in resources["requests"] and kind in resources["limits"], f"{name} {kind}"


def test_predictor_service_account_reaches_the_model_store(objects, overlay):
    service = isvc(objects)
    account = one(objects, "ServiceAccount", service["spec"]["predictor"]["serviceAccountName"])
    s3_keys = {"serving.kserve.io/s3-endpoint", "serving.kserve.io/s3-usehttps", "serving.kserve.io/s3-region"}
    if overlay == "dev":  # keys in a Secret the ServiceAccount lists, with KServe's annotations
        secrets = [one(objects, "Secret", ref["name"]) for ref in account.get("secrets", [])]
        assert secrets, "the predictor's ServiceAccount lists its model store Secret"
        carrier = secrets[0]
        assert set(carrier["data"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
        # KFP 2.17 serves its S3 store from SeaweedFS: Service `seaweedfs` in kubeflow, port 9000 -> 8333
        # (kubeflow/pipelines 2.17.0 manifests/kustomize/third-party/seaweedfs/base/seaweedfs/seaweedfs-service.yaml).
        assert carrier["metadata"]["annotations"]["serving.kserve.io/s3-endpoint"] == "seaweedfs.kubeflow:9000"
        assert carrier["metadata"]["annotations"]["serving.kserve.io/s3-usehttps"] == "0"
    else:  # IRSA: the role and KServe's settings on the ServiceAccount, no keys anywhere
        carrier = account
        assert re.fullmatch(r"arn:aws:iam::\d{12}:role/.+",
                            account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"])
        assert not account.get("secrets")
    assert s3_keys <= set(carrier["metadata"]["annotations"])
    assert account.get("automountServiceAccountToken") is False


# --- the streamer -------------------------------------------------------------------------------------

def test_streamer_is_one_replica_replaced_not_rolled(objects):
    deployment = streamer_deployment(objects)
    assert deployment["spec"]["replicas"] == 1, "the X filtered stream allows one connection"
    assert deployment["spec"]["strategy"]["type"] == "Recreate"


def test_streamer_grace_period_covers_its_drain(objects):
    grace = int(streamer_settings(objects)["SHUTDOWN_GRACE_SECONDS"])
    pod = streamer_deployment(objects)["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == grace + 5


def test_streamer_probes_use_the_health_port(objects):
    settings = streamer_settings(objects)
    container = streamer_deployment(objects)["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert int(settings["HEALTH_PORT"]) == 8000 and 8000 in ports.values()
    # Readiness checks the dependencies (/healthz); liveness only the process (/livez): a restart
    # cannot bring a predictor back.
    for probe, path in (("startupProbe", "/healthz"), ("readinessProbe", "/healthz"), ("livenessProbe", "/livez")):
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert ports.get(get["port"], get["port"]) == 8000, probe


def test_streamer_settings_and_secrets(objects, overlay):
    settings = streamer_settings(objects)
    container = streamer_deployment(objects)["spec"]["template"]["spec"]["containers"][0]
    token = [e for e in container["env"] if e["name"] == "X_BEARER_TOKEN"]
    assert token and token[0]["valueFrom"]["secretKeyRef"] == {"name": "x-api", "key": "X_BEARER_TOKEN"}
    assert settings["SOURCE"] == "x" and settings["STREAM_RULES"]
    assert settings["MODEL_NAME"] == "twitter-sentiment"
    # The predictor's KServe Service (<isvc>-predictor, port 80) in the same namespace.
    assert re.fullmatch(rf"http://{ISVC}-predictor(\.{NAMESPACE}(\.svc(\.cluster\.local)?)?)?",
                        settings["MODEL_SERVER_URL"])
    account = one(objects, "ServiceAccount", streamer_deployment(objects)["spec"]["template"]["spec"]
                  ["serviceAccountName"])
    if overlay == "prod":
        assert settings["SINK"] == "dynamodb" and settings["DYNAMODB_TABLE"] and settings["AWS_REGION"]
        assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    else:
        assert settings["SINK"] == "sqlite" and settings["SQLITE_PATH"].startswith("/tmp/")


def test_configuration_names_are_the_documented_ones(objects):
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (REPO / "docs" / "configuration.md").read_text()))
    names = set(streamer_settings(objects)) | set(env(predictor_container(objects)))
    names |= {e["name"] for e in streamer_deployment(objects)["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert names - {"HOME"} <= documented, f"undocumented: {sorted(names - {'HOME'} - documented)}"


# --- hardening ----------------------------------------------------------------------------------------

def test_every_pod_is_hardened(objects):
    for name, pod in pod_specs(objects).items():
        pod_context = pod.get("securityContext", {})
        assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), name
        for container in pod.get("initContainers", []) + pod["containers"]:
            where = f"{name} container {container['name']}"
            context = container.get("securityContext", {})
            effective = {**pod_context, **context}
            assert effective.get("runAsNonRoot") is True, where
            assert effective.get("runAsUser", 1) != 0, where
            assert (effective.get("seccompProfile") or {}).get("type") == "RuntimeDefault", where
            assert context.get("allowPrivilegeEscalation") is False, where
            assert context.get("readOnlyRootFilesystem") is True, where
            assert "ALL" in context.get("capabilities", {}).get("drop", []), where
            assert not context.get("privileged"), where
            assert not context.get("capabilities", {}).get("add"), where


def test_read_only_pods_have_a_scratch_volume_for_tmp(objects):
    for name, pod in pod_specs(objects).items():
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts and "emptyDir" in volumes[mounts["/tmp"]], name


# --- network policies ---------------------------------------------------------------------------------

OUR_PODS = {
    "streamer": {"namespace": NAMESPACE, "labels": {"app.kubernetes.io/name": STREAMER}, "ip": "10.42.0.10"},
    "predictor": {"namespace": NAMESPACE, "labels": {"serving.kserve.io/inferenceservice": ISVC,
                                                     "component": "predictor"}, "ip": "10.42.0.11"},
}
OTHER_PODS = {
    "kube-dns": {"namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}, "ip": "10.42.0.2"},
    # KFP 2.17's model store pod (SeaweedFS; its S3 port is 8333, the Service's 9000 maps to it).
    "model-store": {"namespace": "kubeflow", "labels": {"app": "seaweedfs"}, "ip": "10.42.1.5"},
    "kfp-api": {"namespace": "kubeflow", "labels": {"app": "ml-pipeline"}, "ip": "10.42.1.6"},
    "neighbour": {"namespace": NAMESPACE, "labels": {"app": "other"}, "ip": "10.42.0.12"},
    "node": {"namespace": None, "labels": {}, "ip": "172.31.5.10"},
}
EXTERNAL = {"x-api": "104.244.42.1", "aws": "52.216.1.1", "imds": "169.254.169.254"}


def _selects(selector: dict, labels: dict) -> bool:
    assert set(selector) <= {"matchLabels", "matchExpressions"}, selector
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", "this check understands In only"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _in_block(ip: str, block: dict) -> bool:
    import ipaddress

    address = ipaddress.ip_address(ip)
    return address in ipaddress.ip_network(block["cidr"]) and not any(
        address in ipaddress.ip_network(e) for e in block.get("except", []))


def _peer_matches(peer: dict, policy_namespace: str, target: dict) -> bool:
    if "ipBlock" in peer:
        return _in_block(target["ip"], peer["ipBlock"])
    if target.get("namespace") is None:
        return False  # selectors match pods only
    namespace_ok = (_selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": target["namespace"]})
                    if "namespaceSelector" in peer else target["namespace"] == policy_namespace)
    pods_ok = _selects(peer["podSelector"], target["labels"]) if "podSelector" in peer else True
    return namespace_ok and pods_ok


def _allowed(policies: list[dict], pod: dict, direction: str, peer: dict, port: int, protocol="TCP") -> bool:
    """NetworkPolicy semantics: unselected pods allow all; selected ones allow what some rule allows."""
    field, key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    applying = [p for p in policies if p["metadata"]["namespace"] == pod["namespace"]
                and direction in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], pod["labels"])]
    if not applying:
        return True
    for policy in applying:
        for rule in policy["spec"].get(field, []):
            peers_ok = any(_peer_matches(p, policy["metadata"]["namespace"], peer) for p in rule[key]) \
                if key in rule else True
            ports_ok = any(p.get("port") == port and p.get("protocol", "TCP") == protocol
                           for p in rule["ports"]) if "ports" in rule else True
            if peers_ok and ports_ok:
                return True
    return False


def test_every_pod_of_ours_is_covered_by_a_default_deny(objects):
    policies = find(objects, "NetworkPolicy")
    for name, pod in OUR_PODS.items():
        for direction in ("Ingress", "Egress"):
            assert any(_selects(p["spec"]["podSelector"], pod["labels"]) and direction in p["spec"]["policyTypes"]
                       for p in policies), f"{name}: no {direction} policy"


def test_the_streamer_reaches_the_predictor_and_nothing_else_in_the_cluster(objects):
    policies, streamer, predictor = find(objects, "NetworkPolicy"), OUR_PODS["streamer"], OUR_PODS["predictor"]
    assert _allowed(policies, streamer, "Egress", predictor, 8080)
    assert _allowed(policies, predictor, "Ingress", streamer, 8080)
    assert _allowed(policies, streamer, "Egress", OTHER_PODS["kube-dns"], 53, "UDP")
    for name, other in OTHER_PODS.items():
        for port in (80, 443, 8080, 9000):
            assert not _allowed(policies, streamer, "Egress", other, port), f"streamer -> {name}:{port}"
    assert not _allowed(policies, streamer, "Egress", predictor, 8081), "gRPC is off: only REST"
    assert _allowed(policies, streamer, "Egress", {"ip": EXTERNAL["x-api"]}, 443), "the X API"
    assert _allowed(policies, streamer, "Egress", {"ip": EXTERNAL["aws"]}, 443), "DynamoDB and STS"
    assert not _allowed(policies, streamer, "Egress", {"ip": EXTERNAL["x-api"]}, 80), "TLS only"
    assert not _allowed(policies, streamer, "Egress", {"ip": EXTERNAL["imds"]}, 80), "no instance metadata"


def test_only_the_streamer_reaches_the_predictor(objects):
    policies, predictor = find(objects, "NetworkPolicy"), OUR_PODS["predictor"]
    for name, other in OTHER_PODS.items():
        assert not _allowed(policies, predictor, "Ingress", other, 8080), f"{name} -> predictor"
    assert not _allowed(policies, predictor, "Ingress", OUR_PODS["predictor"], 8080)
    assert not _allowed(policies, OUR_PODS["streamer"], "Ingress", predictor, 8000), "nobody calls the streamer"


def test_the_predictor_reaches_only_its_model_store(objects, overlay):
    policies, predictor = find(objects, "NetworkPolicy"), OUR_PODS["predictor"]
    assert not _allowed(policies, predictor, "Egress", OTHER_PODS["kfp-api"], 8888)
    assert not _allowed(policies, predictor, "Egress", OUR_PODS["streamer"], 8000)
    assert not _allowed(policies, predictor, "Egress", {"ip": EXTERNAL["imds"]}, 80)
    if overlay == "dev":
        assert _allowed(policies, predictor, "Egress", OTHER_PODS["model-store"], 8333), "the pod port"
        assert not _allowed(policies, predictor, "Egress", {"ip": EXTERNAL["aws"]}, 443)
    else:
        assert _allowed(policies, predictor, "Egress", {"ip": EXTERNAL["aws"]}, 443), "S3 and STS"
        assert not _allowed(policies, predictor, "Egress", OTHER_PODS["model-store"], 8333)


# KFP 2.17.0's own policy on SeaweedFS, as it ships (manifests/kustomize/third-party/seaweedfs/base/
# seaweedfs/seaweedfs-networkpolicy.yaml): Kubeflow profile namespaces, istio-system, and kubeflow itself.
KFP_SEAWEEDFS_POLICY = {"metadata": {"name": "seaweedfs", "namespace": "kubeflow"}, "spec": {
    "podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["seaweedfs"]}]},
    "policyTypes": ["Ingress"],
    "ingress": [
        {"from": [{"namespaceSelector": {"matchExpressions": [
            {"key": "app.kubernetes.io/part-of", "operator": "In", "values": ["kubeflow-profile"]}]}}],
         "ports": [{"port": 8333}]},
        {"from": [{"namespaceSelector": {"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["istio-system"]}]}}]},
        {"from": [{"podSelector": {}}], "ports": [{"port": 8333}]},
    ]}}


def test_dev_model_store_admits_the_predictor_and_the_pipeline_steps():
    kubeflow = render(MANIFESTS / "kubeflow" / "dev")
    model_store, predictor = OTHER_PODS["model-store"], OUR_PODS["predictor"]
    step = {"namespace": "kubeflow", "labels": {"pipelines.kubeflow.org/v2_component": "true"}, "ip": "10.42.1.9"}
    assert not _allowed([KFP_SEAWEEDFS_POLICY], model_store, "Ingress", predictor, 8333), "KFP alone refuses it"
    policies = [KFP_SEAWEEDFS_POLICY, *find(kubeflow, "NetworkPolicy")]
    assert _allowed(policies, model_store, "Ingress", predictor, 8333)
    assert _allowed(policies, model_store, "Ingress", step, 8333)
    assert not _allowed(policies, model_store, "Ingress", OUR_PODS["streamer"], 8333)
    assert not _allowed(policies, model_store, "Ingress", predictor, 8888), "the S3 port only, not the filer"


def test_dev_pipeline_steps_get_the_model_store_endpoint_and_keys():
    """The fetch and export steps run in KFP's namespace (kubeflow, standalone), where they read the
    optional ConfigMap and Secret the compiled pipeline names; boto3 takes AWS_ENDPOINT_URL_S3 itself."""
    from pipelines.training import S3_ENDPOINT_CONFIG_MAP, S3_SECRET, S3_SECRET_KEYS

    kubeflow = render(MANIFESTS / "kubeflow" / "dev")
    config = one(kubeflow, "ConfigMap", S3_ENDPOINT_CONFIG_MAP)
    assert config["metadata"]["namespace"] == "kubeflow"
    assert config["data"]["AWS_ENDPOINT_URL_S3"] == "http://seaweedfs.kubeflow:9000"
    secret = one(kubeflow, "Secret", S3_SECRET)
    assert secret["metadata"]["namespace"] == "kubeflow" and set(secret["data"]) == set(S3_SECRET_KEYS)
    assert not find(render(MANIFESTS / "kubeflow" / "prod"), "Secret", S3_SECRET), "prod: IRSA"


# --- secrets: shape only ------------------------------------------------------------------------------

def test_secrets_are_rendered_as_shape_only(objects):
    for secret in find(objects, "Secret"):
        assert "stringData" not in secret
        values = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
        if secret.get("type") == "kubernetes.io/dockerconfigjson":  # ci/deploy.sh writes the deploy token
            assert json.loads(values[".dockerconfigjson"]) == {"auths": {}}
            continue
        assert values and all(v == "" for v in values.values()), f"{secret['metadata']['name']} holds a value"


def test_secret_shape_files_hold_keys_without_values():
    files = sorted(MANIFESTS.glob("**/secrets/*.env"))
    assert files
    for path in files:
        for line in path.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                assert re.fullmatch(r"[A-Z][A-Z0-9_]*=", line), f"{path.relative_to(REPO)}: {line.split('=')[0]}="


def test_every_secret_reference_points_at_a_declared_key(objects):
    secrets = {s["metadata"]["name"]: set(s.get("data", {})) for s in find(objects, "Secret")}
    assert "x-api" in secrets, "docs/configuration.md: the bearer token comes from Secret x-api"
    for name, pod in pod_specs(objects).items():
        for container in pod["containers"]:
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets.get(ref["name"], set()), f"{name}: {ref}"
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets, name
    for account in find(objects, "ServiceAccount"):
        for ref in account.get("secrets", []):
            assert ref["name"] in secrets, account["metadata"]["name"]


def test_release_values_are_placeholders_that_deploy_fills():
    """release.env never reaches the cluster (local-config) and holds no credentials."""
    for overlay in OVERLAYS:
        values = dict(line.split("=", 1) for line in
                      (MANIFESTS / "overlays" / overlay / "release.env").read_text().splitlines()
                      if line and not line.startswith("#"))
        assert STORAGE_URI.match(values["STORAGE_URI"]) and "/unreleased/" in values["STORAGE_URI"]
        assert not {k for k in values if "SECRET" in k or "TOKEN" in k or "PASSWORD" in k}


def test_release_config_is_not_applied(objects):
    assert not [o for o in objects if o["metadata"].get("annotations", {}).get(
        "config.kubernetes.io/local-config") == "true"]
    assert not find(objects, "ConfigMap", "release")



# --- monitoring and disruptions ------------------------------------------------------------------------

def test_the_monitoring_component_lets_prometheus_scrape_both_apps(tmp_path):
    """Prometheus Operator scrapes what a PodMonitor names (monitoring.coreos.com/v1: selector, a named
    container port, a path); NetworkPolicies deny it unless a policy admits its namespace."""
    copy = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, copy)
    overlay = copy / "overlays" / "prod"
    kustomization = load_yaml(overlay / "kustomization.yaml")
    # As manifests/components/monitoring says: listed before common, whose namespace then reaches it too.
    kustomization["components"].insert(0, "../../components/monitoring")
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    objects = render(overlay)
    policies = find(objects, "NetworkPolicy")
    prometheus = {"namespace": "monitoring", "labels": {"app.kubernetes.io/name": "prometheus"}, "ip": "10.42.2.3"}
    assert not _allowed(find(render(MANIFESTS / "overlays" / "prod"), "NetworkPolicy"), OUR_PODS["predictor"],
                        "Ingress", prometheus, 8080), "without the component the scrape is denied"
    ports = {"predictor": {}, "streamer": {}}
    for name, pod in pod_specs(objects).items():
        for container in pod["containers"]:
            ports["predictor" if "predictor" in name or "InferenceService" in name else "streamer"].update(
                {p["name"]: p["containerPort"] for p in container.get("ports", [])})
    monitors = {m["metadata"]["name"]: m for m in find(objects, "PodMonitor")}
    for app, pod in OUR_PODS.items():
        monitor = monitors[f"twitter-sentiment-{app}"]
        assert monitor["metadata"]["namespace"] == NAMESPACE
        assert _selects(monitor["spec"]["selector"], pod["labels"])
        [endpoint] = monitor["spec"]["podMetricsEndpoints"]
        assert endpoint["path"] == "/metrics"
        port = ports[app][endpoint["port"]]
        assert _allowed(policies, pod, "Ingress", prometheus, port), f"prometheus -> {app}:{port}"
        assert not _allowed(policies, pod, "Ingress", OTHER_PODS["neighbour"], port if app == "streamer" else 8000)


def test_a_drain_keeps_one_predictor_serving(objects):
    """The eviction API refuses an eviction that would break a PodDisruptionBudget (Kubernetes docs, "API-
    initiated eviction"): with maxUnavailable 1 and at least 2 replicas a drain proceeds one pod at a time,
    and one pod keeps serving."""
    [budget] = [b for b in find(objects, "PodDisruptionBudget")]
    predictor = one(objects, "InferenceService", ISVC)["spec"]["predictor"]
    assert _selects(budget["spec"]["selector"], OUR_PODS["predictor"]["labels"])
    unavailable = budget["spec"]["maxUnavailable"]
    assert 1 <= unavailable < predictor["minReplicas"], "evictions allowed, and never all pods at once"
