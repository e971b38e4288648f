"""The Helm chart: it lints, renders valid Kubernetes objects, and renders what a platform
engineer relies on (probes, hardening, GPUs, routing, secrets, hooks, schema).

Rendering is offline (Helm's Go SDK through helm-python-sdk); objects are checked against the
Kubernetes OpenAPI schemas with kubernetes-validate.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from tests.support.settings_environment import environment_lines
from wildlens.common.service import discover_services, platform_settings

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "wildlens"
KUBE_VERSION = "1.30.0"
SERVICES = ("ingest", "catalogue", "citsci", "training", "inference")
# Kinds from operators the chart integrates with; kubernetes-validate knows only core kinds.
CRD_KINDS = {"ServiceMonitor", "ScaledObject", "TriggerAuthentication"}

# Settings that turn every optional object on, so that they all get validated too.
EVERYTHING_ON: dict[str, Any] = {
    "devDependencies": {"enabled": True},
    "metrics": {
        "serviceMonitor": {"enabled": True},
    },
    "networkPolicy": {"metricsNamespaceSelector": {"kubernetes.io/metadata.name": "monitoring"}},
    "ingress": {
        "hosts": ["wildlens.example.org"],
        "className": "nginx",
        "tls": [{"secretName": "wildlens-tls", "hosts": ["wildlens.example.org"]}],
    },
    "ingest": {"autoscaling": {"enabled": True}},
    "catalogue": {"autoscaling": {"enabled": True, "queueDepth": {"enabled": True}}},
    "inference": {
        "gpu": {"enabled": True, "runtimeClassName": "nvidia"},
        "detector": {
            "source": "initContainer",
            "initContainer": {"image": "registry.example.org/megadetector:5a"},
        },
    },
    "training": {"gpu": {"enabled": True}},
}

# Rendered manifests: one dict per Kubernetes object.
Objects = list[dict[str, Any]]


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def render(chart: helm.Chart, values: dict[str, Any] | None = None) -> Objects:
    manifests = chart.render(values, name="wl", namespace="wildlife", is_install=True)
    objects: Objects = []
    for path, text in manifests.items():
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def find(objects: Objects, kind: str, component: str | None = None) -> Objects:
    return [
        o
        for o in objects
        if o["kind"] == kind
        and (
            component is None
            or o["metadata"]["labels"].get("app.kubernetes.io/component") == component
        )
    ]


def deployment(objects: Objects, service: str) -> dict[str, Any]:
    (found,) = find(objects, "Deployment", service)
    return found


def container(objects: Objects, service: str) -> dict[str, Any]:
    containers: Objects = deployment(objects, service)["spec"]["template"]["spec"]["containers"]
    (main,) = containers
    return main


@pytest.fixture(scope="module")
def default_objects(chart: helm.Chart) -> Objects:
    return render(chart)


def test_lint_passes_in_strict_mode() -> None:
    for values in (None, EVERYTHING_ON):
        report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBE_VERSION}")
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert not report["errors"], report
        assert not problems, report


@pytest.mark.parametrize("values", [None, EVERYTHING_ON], ids=["defaults", "everything-on"])
def test_every_object_is_valid_kubernetes(chart: helm.Chart, values: dict[str, Any] | None) -> None:
    objects = render(chart, values)
    assert objects
    for obj in objects:
        if obj["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {exc.message}")


def test_optional_operator_objects_render_only_when_asked(
    chart: helm.Chart, default_objects: Objects
) -> None:
    assert not [o for o in default_objects if o["kind"] in CRD_KINDS]
    objects = render(chart, EVERYTHING_ON)
    assert {
        o["metadata"]["labels"]["app.kubernetes.io/component"]
        for o in find(objects, "ServiceMonitor")
    } == set(SERVICES)
    (scaled,) = find(objects, "ScaledObject", "catalogue")
    queues = {
        t["metadata"]["queueName"] for t in scaled["spec"]["triggers"] if t["type"] == "rabbitmq"
    }
    assert queues == {
        "catalogue.media.ingested",
        "catalogue.media.analyzed",
        "catalogue.citsci.consensus",
    }
    # KEDA owns the catalogue's HPA; a second one from the chart would fight it.
    assert not find(objects, "HorizontalPodAutoscaler", "catalogue")
    assert find(objects, "HorizontalPodAutoscaler", "ingest")


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_hardened_with_real_probes(
    default_objects: Objects, service: str
) -> None:
    dep = deployment(default_objects, service)
    assert dep["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == service
    pod = dep["spec"]["template"]["spec"]
    main = container(default_objects, service)

    assert main["args"][:2] == ["serve", service]
    assert "--no-migrate" in main["args"]
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"containerPort": 8000, "name": "http", "protocol": "TCP"} in main["ports"]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    hardening = main["securityContext"]
    assert hardening["readOnlyRootFilesystem"] is True
    assert hardening["allowPrivilegeEscalation"] is False
    assert hardening["capabilities"]["drop"] == ["ALL"]
    tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
    assert "emptyDir" in tmp
    assert {"name": "tmp", "mountPath": "/tmp"} in main["volumeMounts"]

    assert main["resources"]["requests"]["cpu"]
    assert main["resources"]["requests"]["memory"]
    assert main["resources"]["limits"]["memory"]

    env = {e["name"]: e for e in main["env"]}
    for name in (
        "WILDLENS_DATABASE__PASSWORD",
        "WILDLENS_BROKER__USERNAME",
        "WILDLENS_BROKER__PASSWORD",
        "WILDLENS_STORAGE__ACCESS_KEY",
        "WILDLENS_STORAGE__SECRET_KEY",
    ):
        assert "secretKeyRef" in env[name]["valueFrom"], name


def test_shared_settings_come_from_the_configmap(chart: helm.Chart) -> None:
    objects = render(chart, {"devDependencies": {"enabled": True}})
    (config,) = find(objects, "ConfigMap", "config")
    data = config["data"]
    assert data["WILDLENS_MODE"] == "distributed"
    assert data["WILDLENS_MIGRATE_ON_START"] == "false"
    assert data["WILDLENS_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert data["WILDLENS_BROKER_URL"].startswith("amqp://")
    assert data["WILDLENS_STORAGE_URL"].startswith("s3://")
    # URLs carry no secrets (DESIGN.md, "Configuration").
    assert not any("password" in value.lower() for value in data.values())
    for service in SERVICES:
        refs = container(objects, service)["envFrom"]
        assert refs == [{"configMapRef": {"name": config["metadata"]["name"]}}]


def _pod_specs(objects: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for o in objects:
        spec = o.get("spec", {})
        if "jobTemplate" in spec:
            spec = spec["jobTemplate"]["spec"]
        if "template" in spec:
            yield spec["template"]["spec"]


def test_every_variable_the_chart_sets_is_a_setting(chart: helm.Chart) -> None:
    """A misspelt or orphaned variable would be ignored without a word: each one the chart
    renders or names must be a setting of the installed services (or serve's argument)."""
    recognised = {line.split()[0] for line in environment_lines(platform_settings())}
    recognised.add("WILDLENS_SERVICE")  # `wildlens serve`'s argument
    values = copy.deepcopy(EVERYTHING_ON)
    values["storage"] = {"publicEndpoint": "https://s3.example.org"}
    named: set[str] = set()
    for objects in (render(chart, values), render(chart)):
        for config in find(objects, "ConfigMap"):
            named |= set(config.get("data") or {})
        for pod in _pod_specs(objects):
            for c in pod.get("containers", []) + pod.get("initContainers", []):
                named |= {e["name"] for e in c.get("env", [])}
    # Also those its templates and documented values spell out (extraEnv examples).
    for path in CHART.rglob("*"):
        if path.suffix in {".yaml", ".tpl", ".txt", ".md"}:
            named |= set(re.findall(r"\bWILDLENS_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    named = {n for n in named if n.startswith("WILDLENS_")}
    assert "WILDLENS_INFERENCE__DETECTOR" in named
    assert named - recognised == set()


def test_gpu_values_put_inference_on_gpu_nodes(chart: helm.Chart) -> None:
    objects = render(chart, {"inference": {"gpu": {"enabled": True, "count": 2}}})
    pod = deployment(objects, "inference")["spec"]["template"]["spec"]
    main = container(objects, "inference")
    assert main["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert main["image"].startswith("wildlens/inference-gpu:")
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    assert pod["nodeSelector"]["nvidia.com/gpu.present"] == "true"
    # Nothing else asks for a GPU.
    for service in ("ingest", "catalogue", "citsci", "training"):
        assert "nvidia.com/gpu" not in container(objects, service)["resources"].get("limits", {})


def _env(main: dict[str, Any]) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in main["env"]}


def test_training_workers_take_the_jobs_and_have_time_to_checkpoint(
    default_objects: Objects,
) -> None:
    worker = deployment(default_objects, "training-worker")
    pod = worker["spec"]["template"]["spec"]
    main = container(default_objects, "training-worker")
    assert main["args"][:2] == ["serve", "training"]
    assert "--no-migrate" in main["args"]
    assert main["image"].startswith("wildlens/training:")
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["terminationGracePeriodSeconds"] == 120
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert main["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"name": "tmp", "mountPath": "/tmp"} in main["volumeMounts"]
    assert main["resources"]["requests"]["memory"]
    assert (
        "secretKeyRef"
        in {e["name"]: e for e in main["env"]}["WILDLENS_DATABASE__PASSWORD"]["valueFrom"]
    )
    # The workers train; the training pods serve the API and train nothing.
    assert _env(main)["WILDLENS_TRAINING__TRAINING_JOBS"] == "1"
    assert _env(container(default_objects, "training"))["WILDLENS_TRAINING__TRAINING_JOBS"] == "0"
    # No Service routes the API to them.
    for service in find(default_objects, "Service"):
        selected = service["spec"].get("selector", {}).get("app.kubernetes.io/component")
        assert selected != "training-worker"
    assert "nvidia.com/gpu" not in main["resources"]["limits"]


def test_the_gpu_profile_puts_training_workers_on_gpu_nodes(chart: helm.Chart) -> None:
    objects = render(
        chart,
        {
            "training": {
                "gpu": {"enabled": True, "count": 2, "runtimeClassName": "nvidia"},
                "worker": {"jobsPerPod": 2, "terminationGracePeriodSeconds": 300},
            }
        },
    )
    pod = deployment(objects, "training-worker")["spec"]["template"]["spec"]
    main = container(objects, "training-worker")
    assert main["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert main["image"].startswith("wildlens/training-gpu:")
    assert pod["runtimeClassName"] == "nvidia"
    assert pod["nodeSelector"]["nvidia.com/gpu.present"] == "true"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    assert pod["terminationGracePeriodSeconds"] == 300
    assert _env(main)["WILDLENS_TRAINING__TRAINING_JOBS"] == "2"
    # The API pods need no GPU.
    api = container(objects, "training")
    assert "nvidia.com/gpu" not in api["resources"].get("limits", {})
    assert api["image"].startswith("wildlens/training:")

    # Without workers of their own, the training pods train, on the GPU.
    objects = render(chart, {"training": {"gpu": {"enabled": True}, "worker": {"enabled": False}}})
    assert not find(objects, "Deployment", "training-worker")
    api = container(objects, "training")
    assert api["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "WILDLENS_TRAINING__TRAINING_JOBS" not in _env(api)
    # Without the training service, no workers either.
    objects = render(chart, {"training": {"enabled": False}})
    assert not find(objects, "Deployment", "training-worker")
    (policy,) = find(objects, "NetworkPolicy")
    assert "training-worker" not in policy["spec"]["podSelector"]["matchExpressions"][0]["values"]


def test_default_inference_runs_on_cpu(default_objects: Objects) -> None:
    main = container(default_objects, "inference")
    assert "nvidia.com/gpu" not in main["resources"]["limits"]
    assert main["image"].startswith("wildlens/inference:")
    assert "tolerations" not in deployment(default_objects, "inference")["spec"]["template"]["spec"]


def test_detector_bundle_comes_from_a_volume(chart: helm.Chart) -> None:
    objects = render(
        chart, {"inference": {"detector": {"source": "pvc", "pvc": {"claimName": "megadetector"}}}}
    )
    pod = deployment(objects, "inference")["spec"]["template"]["spec"]
    main = container(objects, "inference")
    env = {e["name"]: e.get("value") for e in main["env"]}
    assert env["WILDLENS_INFERENCE__DETECTOR"] == "/models/detector"
    volume = next(v for v in pod["volumes"] if v["name"] == "detector")
    assert volume["persistentVolumeClaim"] == {"claimName": "megadetector", "readOnly": True}
    mount = next(m for m in main["volumeMounts"] if m["name"] == "detector")
    assert mount["mountPath"] == "/models/detector"
    assert mount["readOnly"] is True

    objects = render(chart, EVERYTHING_ON)
    pod = deployment(objects, "inference")["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["image"] == "registry.example.org/megadetector:5a"
    assert init["securityContext"]["readOnlyRootFilesystem"] is True
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == "detector")


# DESIGN.md, "Who serves which path".
ROUTES = [
    ("/v1/media", "Exact", "ingest"),
    ("/v1/uploads", "Prefix", "ingest"),
    ("/v1/projects", "Prefix", "catalogue"),
    ("/v1/media/", "Prefix", "catalogue"),
    ("/v1/auth", "Prefix", "catalogue"),
    ("/v1/taxa", "Prefix", "catalogue"),
    ("/v1/citsci", "Prefix", "citsci"),
    ("/v1/datasets", "Prefix", "training"),
    ("/v1/training-jobs", "Prefix", "training"),
    ("/v1/models", "Prefix", "training"),
    ("/v1/predict", "Prefix", "inference"),
]


def ingress_routes(objects: Objects) -> set[tuple[str, str, str]]:
    (ingress,) = find(objects, "Ingress")
    services = {
        s["metadata"]["name"]: s["metadata"]["labels"]["app.kubernetes.io/component"]
        for s in find(objects, "Service")
    }
    routes = set()
    for rule in ingress["spec"]["rules"]:
        for p in rule["http"]["paths"]:
            backend = p["backend"]["service"]
            assert backend["port"] == {"name": "http"}
            routes.add((p["path"], p["pathType"], services[backend["name"]]))
    return routes


def test_ingress_routes_each_path_to_its_service(default_objects: Objects) -> None:
    assert ingress_routes(default_objects) == set(ROUTES)


def served_by(routes: set[tuple[str, str, str]], path: str) -> str:
    """Which service Kubernetes Ingress semantics send a request path to."""
    exact = [svc for p, kind, svc in routes if kind == "Exact" and p == path]
    if exact:
        return exact[0]
    parts = [x for x in path.split("/") if x]
    best = max(
        (
            (len(p.rstrip("/")), svc)
            for p, kind, svc in routes
            if kind == "Prefix"
            and parts[: len([x for x in p.split("/") if x])] == [x for x in p.split("/") if x]
        ),
        default=(0, None),
    )
    assert best[1] is not None, f"no route for {path}"
    return best[1]


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/v1/media", "ingest"),  # POST /v1/media from a camera gateway
        ("/v1/media/0b6f1c9e-1f2a-4c53-9a43-5f2d1c0e7a10", "catalogue"),
        ("/v1/uploads/abc/parts/1", "ingest"),
        ("/v1/projects/p1/observations", "catalogue"),
        ("/v1/auth/token", "catalogue"),
        ("/v1/taxa/123", "catalogue"),
        ("/v1/citsci/subjects/next", "citsci"),
        ("/v1/citsci/projects/p1/join", "citsci"),
        ("/v1/citsci/projects/p1/reports/volunteers", "citsci"),
        ("/v1/projects/p1/join", "catalogue"),
        ("/v1/datasets/d1/manifest", "training"),
        ("/v1/training-jobs/j1", "training"),
        ("/v1/models/megadetector/5a", "training"),
        ("/v1/predict", "inference"),
    ],
)
def test_requests_reach_the_right_service(
    default_objects: Objects, path: str, service: str
) -> None:
    assert served_by(ingress_routes(default_objects), path) == service


def test_every_route_a_service_serves_reaches_it(default_objects: Objects) -> None:
    """Each path of each service's own routers (ids filled in) is routed to that service."""
    routes = ingress_routes(default_objects)
    wrong = []
    for spec in discover_services():
        for router in spec.routers():
            for route in router.routes:
                path = re.sub(r"\{[^}]+\}", "x", getattr(route, "path", ""))
                if not path.startswith("/v1/"):
                    continue
                try:
                    reached = served_by(routes, path)
                except AssertionError:
                    reached = "nothing"
                if reached != spec.name:
                    wrong.append(f"{path} of {spec.name} reaches {reached}")
    assert not wrong, wrong


@pytest.mark.parametrize("service", ["catalogue", "citsci"])
def test_queue_depth_scaling_watches_the_queues_the_service_consumes(
    chart: helm.Chart, service: str
) -> None:
    """The queues a service's replicas share (its consumers that are not broadcasts, named
    <service>.<event type>) are the ones KEDA scales it on."""
    consumers = __import__(f"wildlens.{service}.consumers", fromlist=["CONSUMERS"]).CONSUMERS
    consumed = {f"{service}.{c.event_type}" for c in consumers if not c.broadcast}
    objects = render(
        chart, {service: {"autoscaling": {"enabled": True, "queueDepth": {"enabled": True}}}}
    )
    (scaled,) = find(objects, "ScaledObject", service)
    queues = {
        t["metadata"]["queueName"] for t in scaled["spec"]["triggers"] if t["type"] == "rabbitmq"
    }
    assert queues == consumed


def test_private_key_is_mounted_in_the_catalogue_only(
    default_objects: Objects,
) -> None:
    for service in SERVICES:
        pod = deployment(default_objects, service)["spec"]["template"]["spec"]
        keys = next(v for v in pod["volumes"] if v["name"] == "signing-key")["secret"]
        paths = {item["path"] for item in keys["items"]}
        env = {e["name"] for e in container(default_objects, service)["env"]}
        if service == "catalogue":
            assert paths == {"public.pem", "private.pem"}
            assert "WILDLENS_AUTH__PRIVATE_KEY_FILE" in env
        else:
            assert paths == {"public.pem"}, service
            assert "WILDLENS_AUTH__PRIVATE_KEY_FILE" not in env
        assert {i["key"] for i in keys["items"] if i["path"] == "public.pem"} == {"public.pem"}
    # No other pod of the release mounts the key pair at all.
    for kind in ("Job", "StatefulSet"):
        for obj in find(default_objects, kind):
            volumes = obj["spec"]["template"]["spec"].get("volumes", [])
            assert not [v for v in volumes if "secret" in v], obj["metadata"]["name"]


def test_existing_secrets_are_used_as_given(chart: helm.Chart) -> None:
    objects = render(
        chart,
        {
            "database": {"existingSecret": "pg", "existingSecretPasswordKey": "pw"},
            "broker": {"existingSecret": "mq"},
            "storage": {"existingSecret": "s3"},
            "auth": {
                "existingSecret": "platform-keys",
                "serviceSecret": {"existingSecret": "svc", "existingSecretKey": "shared"},
            },
        },
    )
    # Nothing left for the chart to own or generate.
    assert not find(objects, "Secret")
    assert not [o for o in objects if o["metadata"]["name"].endswith("-keygen")]
    env = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container(objects, "citsci")["env"]
        if "valueFrom" in e
    }
    assert env["WILDLENS_DATABASE__PASSWORD"] == {"name": "pg", "key": "pw"}
    assert env["WILDLENS_BROKER__PASSWORD"]["name"] == "mq"
    assert env["WILDLENS_STORAGE__SECRET_KEY"]["name"] == "s3"
    assert env["WILDLENS_AUTH__SERVICE_SECRET"] == {"name": "svc", "key": "shared"}
    pod = deployment(objects, "catalogue")["spec"]["template"]["spec"]
    keys = next(v for v in pod["volumes"] if v["name"] == "signing-key")
    assert keys["secret"]["secretName"] == "platform-keys"


def test_keys_given_inline_become_a_secret(chart: helm.Chart) -> None:
    objects = render(chart, {"auth": {"privateKey": "PRIVATE PEM", "publicKey": "PUBLIC PEM"}})
    (secret,) = find(objects, "Secret", "signing-key")
    assert set(secret["data"]) == {"private.pem", "public.pem"}
    assert not find(objects, "Job", "keygen")
    with pytest.raises(helm.HelmError, match="go together"):
        render(chart, {"auth": {"privateKey": "PRIVATE PEM"}})


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook(
    default_objects: Objects,
) -> None:
    (job,) = find(default_objects, "Job", "migrations")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    pod = job["spec"]["template"]["spec"]
    assert {c["name"]: c["args"] for c in pod["containers"]} == {
        s: ["migrate", s] for s in SERVICES
    }
    for c in pod["containers"]:
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        env = {e["name"] for e in c["env"]}
        assert {"WILDLENS_DATABASE_URL", "WILDLENS_DATABASE__PASSWORD", "WILDLENS_MODE"} <= env
    # The Secret the Job reads exists before it: a hook with a lower weight.
    (secret,) = find(default_objects, "Secret", "credentials")
    annotations = secret["metadata"]["annotations"]
    assert "pre-install" in annotations["helm.sh/hook"]
    assert int(annotations["helm.sh/hook-weight"]) < int(
        job["metadata"]["annotations"]["helm.sh/hook-weight"]
    )


@pytest.mark.parametrize("service", SERVICES)
def test_disabling_a_service_removes_its_objects(chart: helm.Chart, service: str) -> None:
    values = copy.deepcopy(EVERYTHING_ON)
    values.setdefault(service, {})["enabled"] = False
    objects = render(chart, values)
    assert not [
        o for o in objects if o["metadata"]["labels"].get("app.kubernetes.io/component") == service
    ]
    assert service not in {
        c["name"]
        for c in find(objects, "Job", "migrations")[0]["spec"]["template"]["spec"]["containers"]
    }
    assert service not in {svc for _, _, svc in ingress_routes(objects)}
    (policy,) = find(objects, "NetworkPolicy")
    (expr,) = policy["spec"]["podSelector"]["matchExpressions"]
    assert service not in expr["values"]


def test_config_checksum_rolls_pods_when_settings_change(chart: helm.Chart) -> None:
    def checksums(values: dict[str, Any]) -> set[str]:
        objects = render(chart, values)
        return {
            d["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for d in find(objects, "Deployment")
            if "checksum/config" in d["spec"]["template"]["metadata"]["annotations"]
        }

    before = checksums({"config": {"logLevel": "INFO"}})
    assert len(before) == 1  # every service pod carries the same shared config
    assert checksums({"config": {"logLevel": "INFO"}}) == before
    assert checksums({"config": {"logLevel": "DEBUG"}}) != before
    assert checksums({"storage": {"url": "s3://s3.example.org:443/wl?secure=true"}}) != before


def test_network_policy_limits_who_talks_to_the_services(
    default_objects: Objects,
) -> None:
    (policy,) = find(default_objects, "NetworkPolicy")
    spec = policy["spec"]
    assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
    (expr,) = spec["podSelector"]["matchExpressions"]
    assert expr["key"] == "app.kubernetes.io/component"
    # The training workers are training pods too, with a component of their own.
    assert set(expr["values"]) == {*SERVICES, "training-worker"}
    sources = spec["ingress"][0]["from"]
    assert {"kubernetes.io/metadata.name": "ingress-nginx"} in [
        s.get("namespaceSelector", {}).get("matchLabels") for s in sources
    ]
    egress_ports = {p["port"] for rule in spec["egress"] for p in rule.get("ports", [])}
    assert {53, 5432, 5672, 9000} <= egress_ports


def test_pod_disruption_budgets_and_autoscaling(
    chart: helm.Chart, default_objects: Objects
) -> None:
    assert {
        p["metadata"]["labels"]["app.kubernetes.io/component"]
        for p in find(default_objects, "PodDisruptionBudget")
    } == {"ingest", "catalogue", "inference"}
    objects = render(
        chart, {"ingest": {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 12}}}
    )
    (hpa,) = find(objects, "HorizontalPodAutoscaler", "ingest")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    # The HPA owns the replica count; a fixed one would be reset at every upgrade.
    assert "replicas" not in deployment(objects, "ingest")["spec"]


@pytest.mark.parametrize(
    "values",
    [
        {"ingest": {"replicas": 3}},  # unknown key (replicaCount is meant)
        {"catalogue": {"autoscaling": {"targetCPU": 70}}},  # unknown nested key
        {"ingres": {"enabled": False}},  # unknown top-level key
        {"inference": {"gpu": {"enabled": "yes"}}},  # wrong type
        {"citsci": {"replicaCount": "two"}},  # wrong type
        {"inference": {"detector": {"source": "s3"}}},  # not one of the sources
        {"database": {"url": "mysql://db/wildlens"}},  # not PostgreSQL
    ],
)
def test_schema_refuses_bad_values(chart: helm.Chart, values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema(values)


def _names(objects: Objects) -> list[tuple[str, str]]:
    return [(o["kind"], o["metadata"]["name"]) for o in objects]


def test_schema_accepts_the_documented_values(chart: helm.Chart, default_objects: Objects) -> None:
    documented = yaml.safe_load((CHART / "values.yaml").read_text())
    chart.validate_schema(documented)
    # values.yaml is what an install without values gets: spelling it out renders the same
    # objects (the generated secrets' contents differ from one render to the next).
    assert _names(render(chart, documented)) == _names(default_objects)
    chart.validate_schema(EVERYTHING_ON)
    assert CRD_KINDS <= {o["kind"] for o in render(chart, EVERYTHING_ON)}


def test_skaffold_builds_each_service_and_feeds_its_image_to_the_chart(chart: helm.Chart) -> None:
    repo = CHART.parents[2]
    config = yaml.safe_load((repo / "skaffold.yaml").read_text())
    dockerfile = (repo / "docker" / "Dockerfile").read_text()
    artifacts = {a["image"]: a["docker"] for a in config["build"]["artifacts"]}
    assert set(artifacts) == {f"wildlens/{s}" for s in SERVICES}
    for service in SERVICES:
        docker = artifacts[f"wildlens/{service}"]
        assert docker["buildArgs"] == {"SERVICE": service}
        assert f"FROM runtime AS {docker['target']}" in dockerfile
        assert docker["target"] == service
    (release,) = config["deploy"]["helm"]["releases"]
    assert (repo / release["chartPath"]) == CHART
    # What skaffold would pass, with its templates filled in, is accepted by the chart.
    values: dict[str, Any] = {}
    for key in release["setValueTemplates"]:
        node = values
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = "registry.example.org/x" if leaf == "repository" else "abc123"
    chart.validate_schema(values)
    objects = render(chart, values)
    assert container(objects, "citsci")["image"] == "registry.example.org/x:abc123"


def test_services_find_each_other_and_share_the_service_secret(chart: helm.Chart) -> None:
    objects = render(chart, {"citsci": {"enabled": False}})
    (config,) = find(objects, "ConfigMap", "config")
    urls = {k: v for k, v in config["data"].items() if k.startswith("WILDLENS_SERVICES__")}
    port = yaml.safe_load((CHART / "values.yaml").read_text())["service"]["port"]
    # Each enabled service at its in-cluster Service name; a disabled one has no address.
    services = {o["metadata"]["name"] for o in find(objects, "Service")}
    assert urls == {
        f"WILDLENS_SERVICES__{name.upper()}_URL": f"http://{service_name}:{port}"
        for name in SERVICES
        if name != "citsci"
        for service_name in services
        if service_name.endswith(f"-{name}")
    }
    (secret,) = find(objects, "Secret", "credentials")
    assert len(base64.b64decode(secret["data"]["service-secret"])) == 48
    for service in set(SERVICES) - {"citsci"}:
        env = {e["name"]: e for e in container(objects, service)["env"]}
        ref = env["WILDLENS_AUTH__SERVICE_SECRET"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": secret["metadata"]["name"], "key": "service-secret"}
    given = render(chart, {"auth": {"serviceSecret": {"value": "s3cr3t-shared"}}})
    (secret,) = find(given, "Secret", "credentials")
    assert base64.b64decode(secret["data"]["service-secret"]) == b"s3cr3t-shared"
