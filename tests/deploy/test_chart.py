"""The Helm chart (charts/routeiq), checked without a cluster or a helm binary.

- lint: helm-sdkpy (Helm's Go SDK through cffi) on the chart as shipped and with each
  scenario's values written into a copy; helm-python-sdk (Helm v4's SDK) lints strictly with
  the values passed in.
- render: helm-python-sdk renders the templates offline (no cluster), per scenario.
- validate: every rendered manifest against the Kubernetes OpenAPI schemas of
  kubernetes-validate (strict: unknown fields fail), for the oldest supported and the newest
  Kubernetes it knows; the ServiceMonitor (a CRD) against the fields of its CRD we use.
- meaning: the sidecar pod, the standalone Service/HPA/PDB, probes, security context, the
  env the sidecar and the LiteLLM stub read, bundle sources, Redis from a Secret.

Each SDK is a Go shared library, so each call runs in its own Python process.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from routeiq_sidecar.config import ENV_PREFIX, Settings, load_settings
from tests.deploy.test_dockerfile import parse_dockerfile

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "routeiq"
EXAMPLE_VALUES = ROOT / "client_stub" / "examples" / "helm" / "litellm-routeiq-values.yaml"
STUB_EXAMPLE_CONFIG = ROOT / "client_stub" / "examples" / "litellm_config.yaml"
RELEASE, NAMESPACE = "gw", "llm"
FULLNAME = f"{RELEASE}-routeiq"
KUBE_VERSIONS = ("1.25.0", "latest")  # the chart's kubeVersion floor, and the newest known

SCENARIOS: dict[str, dict[str, Any]] = {
    "sidecar-defaults": {},
    "standalone-everything": {
        "mode": "standalone",
        "autoscaling": {"enabled": True, "targetMemoryUtilizationPercentage": 80},
        "networkPolicy": {
            "enabled": True,
            "from": [{"namespaceSelector": {"matchLabels": {"team": "gateway"}}}],
            "metricsFrom": [{"namespaceSelector": {"matchLabels": {"team": "monitoring"}}}],
        },
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}},
        "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "LLM"}},
        "redis": {"existingSecret": "shared-redis", "existingSecretKey": "url"},
        "routeiq": {
            "workers": 2,
            "intraOpThreads": 1,
            "auth": {"existingSecret": "routeiq-token"},
            "catalogue": {
                "model_groups": {
                    "auto": [
                        {"id": "cheap", "model": "openai/gpt-4o-mini"},
                        {"id": "strong", "model": "anthropic/claude-opus-4"},
                    ]
                }
            },
            "extraEnv": [{"name": "ROUTEIQ_MAX_BATCH_SIZE", "value": "16"}],
        },
        "podDisruptionBudget": {"minAvailable": 1},
    },
    "standalone-bundle-volume": {
        "mode": "standalone",
        "bundle": {
            "source": "volume",
            "subPath": "v7",
            "volume": {"persistentVolumeClaim": {"claimName": "routeiq-bundles"}},
        },
        "redis": {"url": "redis://redis.llm.svc:6379/0"},
        "image": {"digest": "sha256:" + "a" * 64},
    },
    "sidecar-bundle-init-grpc": {
        "bundle": {
            "source": "initContainer",
            "initContainer": {"image": "registry.example/routeiq-bundle:7"},
        },
        "litellm": {"routeiq": {"transport": "grpc", "profile": "eco"}, "stubFromImage": False},
        "routeiq": {"auth": {"existingSecret": "routeiq-token", "existingSecretKey": "t"}},
        "networkPolicy": {"enabled": True},
        "serviceMonitor": {"enabled": True},
        "autoscaling": {"enabled": True},
    },
    "example-values-file": yaml.safe_load(EXAMPLE_VALUES.read_text()),
}

_RUNNER = textwrap.dedent(
    """
    import json, sys
    req = json.load(sys.stdin)
    out = {}
    try:
        if req["sdk"] == "helm_python":
            import helm_python.chart as hc
            if req["op"] == "render":
                ch = hc.Chart.load(req["chart"])
                out["manifests"] = ch.render(req["values"], name=req["name"], namespace=req["ns"])
            elif req["op"] == "lint":
                out["report"] = hc.lint(
                    req["chart"], req["values"], strict=True, namespace=req["ns"],
                    kube_version=req.get("kube_version"))
        else:
            import asyncio, helm_sdkpy
            cfg = helm_sdkpy.Configuration(namespace=req["ns"])
            out["report"] = asyncio.run(helm_sdkpy.Lint(cfg).run(req["chart"]))
    except Exception as exc:  # template `fail`, schema errors: reported, not raised
        out["error"] = f"{type(exc).__name__}: {exc}"
    json.dump(out, sys.stdout)
    """
)


def _sdk(
    sdk: str, op: str, chart: Path = CHART, values: dict[str, Any] | None = None, **kw: Any
) -> dict[str, Any]:
    module = {"helm_python": "helm_python", "helm_sdkpy": "helm_sdkpy"}[sdk]
    if importlib.util.find_spec(module) is None:
        dist = {"helm_python": "helm-python-sdk", "helm_sdkpy": "helm-sdkpy"}[sdk]
        pytest.skip(f"{dist} absent: pip install --ignore-requires-python {dist}")
    req = {
        "sdk": sdk,
        "op": op,
        "chart": str(chart),
        "values": values or {},
        "name": RELEASE,
        "ns": NAMESPACE,
        **kw,
    }
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER],
        input=json.dumps(req),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@cache
def _rendered(scenario: str) -> dict[str, str]:
    out = _sdk("helm_python", "render", values=SCENARIOS[scenario])
    assert "error" not in out, out["error"]
    manifests: dict[str, str] = out["manifests"]
    return manifests


def render(scenario: str) -> list[dict[str, Any]]:
    docs = []
    for name, text in _rendered(scenario).items():
        if name.endswith("NOTES.txt"):
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return copy.deepcopy(docs)


def notes(scenario: str) -> str:
    return next(t for n, t in _rendered(scenario).items() if n.endswith("NOTES.txt"))


def render_error(values: dict[str, Any]) -> str:
    return str(_sdk("helm_python", "render", values=values).get("error", ""))


def kind(docs: list[dict[str, Any]], k: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == k and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{k} {name or ''}: {len(found)} rendered"
    return found[0]


def pod_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = kind(docs, "Deployment")["spec"]["template"]["spec"]
    return spec


def container(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (c,) = [c for c in pod_spec(docs)["containers"] if c["name"] == name]
    return c


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = (
            deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        )
    return out


# --- lint


def _lint_findings(report: dict[str, Any]) -> list[Any]:
    messages = report.get("Messages") or report.get("messages") or []
    severity = [m.get("Severity", m.get("severity", 0)) for m in messages]
    # 1 = info ("icon is recommended"); 2 = warning, 3 = error
    bad = [m for m, s in zip(messages, severity, strict=True) if s >= 2]
    return bad + list(report.get("Errors") or report.get("errors") or [])


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_helm_sdkpy_lint_is_clean(scenario: str, tmp_path: Path) -> None:
    chart = tmp_path / "routeiq"
    shutil.copytree(CHART, chart)
    values = deep_merge(yaml.safe_load((CHART / "values.yaml").read_text()), SCENARIOS[scenario])
    (chart / "values.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
    out = _sdk("helm_sdkpy", "lint", chart=chart)
    assert "error" not in out, out["error"]
    assert out["report"]["TotalChartsLinted"] == 1
    assert _lint_findings(out["report"]) == []


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_strict_lint_with_values_is_clean(scenario: str) -> None:
    out = _sdk("helm_python", "lint", values=SCENARIOS[scenario], kube_version="v1.25.0")
    assert "error" not in out, out["error"]
    assert _lint_findings(out["report"]) == [], out["report"]


# --- rendered manifests are valid Kubernetes objects

SERVICE_MONITOR_SCHEMA = {
    # the fields of monitoring.coreos.com/v1 ServiceMonitor the chart writes
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "selector": {
                    "type": "object",
                    "properties": {
                        "matchLabels": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        }
                    },
                },
                "namespaceSelector": {
                    "type": "object",
                    "properties": {"matchNames": {"type": "array", "items": {"type": "string"}}},
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "interval": {"type": "string", "pattern": r"^(0|(\d+(ms|s|m|h))+)$"},
                            "scrapeTimeout": {
                                "type": "string",
                                "pattern": r"^(0|(\d+(ms|s|m|h))+)$",
                            },
                        },
                    },
                },
            },
        },
    },
}


DURATION = r"^(0|(\d+(ms|s|m|h))+)$"
PROMETHEUS_RULE_SCHEMA = {
    # monitoring.coreos.com/v1 PrometheusRule: the fields of its CRD the chart writes
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["groups"],
            "properties": {
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "rules"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "interval": {"type": "string"},
                            "rules": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["expr"],
                                    "properties": {
                                        "alert": {"type": "string"},
                                        "record": {"type": "string"},
                                        "expr": {"type": ["string", "integer"]},
                                        "for": {"type": "string", "pattern": DURATION},
                                        "labels": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                        "annotations": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def kube_validate(doc: dict[str, Any], version: str) -> None:
    kv = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")
    crds = {"ServiceMonitor": SERVICE_MONITOR_SCHEMA, "PrometheusRule": PROMETHEUS_RULE_SCHEMA}
    if doc["kind"] in crds:
        jsonschema.validate(doc, crds[doc["kind"]])
        return
    kv.validate(doc, kv.latest_version() if version == "latest" else version, strict=True)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_rendered_manifests_are_valid_kubernetes(scenario: str) -> None:
    docs = render(scenario)
    assert docs
    for doc in docs:
        for version in KUBE_VERSIONS:
            kube_validate(doc, version)
        assert doc["metadata"]["name"].startswith(FULLNAME)
        assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE


def test_the_validator_rejects_what_it_should() -> None:
    kv = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")
    deployment = kind(render("sidecar-defaults"), "Deployment")
    deployment["spec"]["replicass"] = 2  # an unknown field
    with pytest.raises(kv.ValidationError):
        kube_validate(deployment, "latest")
    sm = kind(render("standalone-everything"), "ServiceMonitor")
    sm["spec"]["endpoints"][0]["interval"] = "soon"
    with pytest.raises(jsonschema.ValidationError):
        kube_validate(sm, "latest")


def test_values_schema_and_template_checks_refuse_bad_values() -> None:
    assert "mode" in render_error({"mode": "sidekick"})
    assert "workers" in render_error({"routeiq": {"workers": 0}})
    assert "tyop" in render_error({"tyop": 1})
    assert "volume" in render_error({"bundle": {"source": "volume"}})
    assert "image" in render_error({"bundle": {"source": "initContainer"}})
    assert "allowInsecureBind" in render_error(
        {"mode": "standalone", "routeiq": {"allowInsecureBind": False}}
    )
    assert "loopback" in render_error({"routeiq": {"listenHost": "127.0.0.1"}})
    assert "prometheusRule" in render_error({"prometheusRule": {"enabled": "yes"}})
    assert "url" in render_error({"redis": {"url": "redis+cluster://r1:6379"}})
    assert render_error({"redis": {"url": "redis+sentinel://s1:26379,s2:26379/main"}}) == ""


# --- what the manifests mean


def test_sidecar_mode_puts_litellm_and_routeiq_in_one_pod() -> None:
    docs = render("sidecar-defaults")
    spec = pod_spec(docs)
    assert [c["name"] for c in spec["containers"]] == ["litellm", "routeiq"]
    litellm, routeiq = container(docs, "litellm"), container(docs, "routeiq")
    env = env_of(litellm)
    assert env["ROUTEIQ_LITELLM_URL"] == "http://127.0.0.1:8080"  # localhost, same pod
    assert env["ROUTEIQ_LITELLM_TRANSPORT"] == "http"
    assert {"name": "litellm", "containerPort": 4000, "protocol": "TCP"} in litellm["ports"]
    assert litellm["args"] == ["--config", "/etc/litellm/config.yaml", "--port", "4000"]
    # the LiteLLM config comes from the ConfigMap and loads the stub the way the example does
    cm = kind(docs, "ConfigMap")
    config = yaml.safe_load(cm["data"]["litellm-config.yaml"])
    example = yaml.safe_load(STUB_EXAMPLE_CONFIG.read_text())
    callbacks = config["litellm_settings"]["callbacks"]
    assert callbacks == example["litellm_settings"]["callbacks"]
    assert config["router_settings"]["plugins"] == example["router_settings"]["plugins"]
    assert all(m["model_info"]["id"] for m in config["model_list"])
    mounts = {m["name"]: m for m in litellm["volumeMounts"]}
    assert mounts["litellm-config"]["mountPath"] == "/etc/litellm"
    (vol,) = [v for v in spec["volumes"] if v["name"] == "litellm-config"]
    assert vol["configMap"]["name"] == cm["metadata"]["name"]
    # the stub comes from the RouteIQ image (where the build recipe puts it) onto PYTHONPATH
    (init,) = spec["initContainers"]
    assert init["image"] == routeiq["image"]
    assert "/opt/routeiq/litellm-stub/." in init["command"]
    assert "litellm-stub" in (ROOT / "scripts" / "docker-build-steps.sh").read_text()
    assert env["PYTHONPATH"] == mounts["litellm-stub"]["mountPath"]
    module, _, attr = callbacks[0].rpartition(".")
    stub_src = ROOT / "client_stub" / Path(*module.split(".")).with_suffix(".py")
    assert f"{attr} =" in stub_src.read_text() or f"def {attr}" in stub_src.read_text()
    # the Service exposes LiteLLM only
    svc = kind(docs, "Service", FULLNAME)
    assert [p["name"] for p in svc["spec"]["ports"]] == ["litellm"]
    assert "sidecar" in notes("sidecar-defaults")


def test_sidecar_with_grpc_transport_and_a_token() -> None:
    docs = render("sidecar-bundle-init-grpc")
    env = env_of(container(docs, "litellm"))
    assert env["ROUTEIQ_LITELLM_URL"] == "127.0.0.1:50051"
    assert env["ROUTEIQ_LITELLM_TRANSPORT"] == "grpc" and env["ROUTEIQ_LITELLM_PROFILE"] == "eco"
    token = {"secretKeyRef": {"name": "routeiq-token", "key": "t"}}
    assert env["ROUTEIQ_LITELLM_API_KEY"] == token
    assert env_of(container(docs, "routeiq"))["ROUTEIQ_AUTH_TOKEN"] == token
    assert "PYTHONPATH" not in env  # stubFromImage: false
    # metrics: a headless Service naming RouteIQ's REST port, picked by the ServiceMonitor
    metrics = kind(docs, "Service", f"{FULLNAME}-metrics")
    assert metrics["spec"]["clusterIP"] == "None"
    sm = kind(docs, "ServiceMonitor")
    assert sm["spec"]["selector"]["matchLabels"].items() <= metrics["metadata"]["labels"].items()
    assert sm["spec"]["endpoints"][0]["port"] == metrics["spec"]["ports"][0]["name"] == "http"
    policy = kind(docs, "NetworkPolicy")
    assert [p["port"] for p in policy["spec"]["ingress"][0]["ports"]] == ["litellm"]


def test_stub_understands_the_env_the_chart_gives_litellm() -> None:
    from routeiq_litellm.settings import PluginSettings

    for scenario in ("sidecar-defaults", "sidecar-bundle-init-grpc"):
        env = env_of(container(render(scenario), "litellm"))
        plain = {k: v if isinstance(v, str) else "secret" for k, v in env.items()}
        s = PluginSettings.from_env(plain)
        assert s.url == env["ROUTEIQ_LITELLM_URL"] and s.transport in ("http", "grpc")


def test_standalone_mode_is_a_service_with_hpa_and_pdb() -> None:
    docs = render("standalone-everything")
    assert [c["name"] for c in pod_spec(docs)["containers"]] == ["routeiq"]
    deployment = kind(docs, "Deployment")
    assert "replicas" not in deployment["spec"]  # the HPA owns the count
    svc = kind(docs, "Service")
    ports = {p["name"]: p for p in svc["spec"]["ports"]}
    assert ports["http"]["port"] == 8080 and ports["grpc"]["port"] == 50051
    assert ports["grpc"]["appProtocol"] == "grpc"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    hpa = kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert {m["resource"]["name"] for m in hpa["spec"]["metrics"]} == {"cpu", "memory"}
    pdb = kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1 and "maxUnavailable" not in pdb["spec"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    policy = kind(docs, "NetworkPolicy")
    first, metrics = policy["spec"]["ingress"]
    assert [p["port"] for p in first["ports"]] == ["http", "grpc"] and first["from"]
    assert metrics["from"] == [{"namespaceSelector": {"matchLabels": {"team": "monitoring"}}}]
    # catalogue: a ConfigMap file named by ROUTEIQ_CATALOGUE
    env = env_of(container(docs, "routeiq"))
    cm = kind(docs, "ConfigMap", FULLNAME)
    catalogue = yaml.safe_load(cm["data"]["catalogue.yaml"])
    assert [c["id"] for c in catalogue["model_groups"]["auto"]] == ["cheap", "strong"]
    mount = next(m for m in container(docs, "routeiq")["volumeMounts"] if m["name"] == "catalogue")
    assert env["ROUTEIQ_CATALOGUE"] == f"{mount['mountPath']}/catalogue.yaml"
    assert "/v1/route" in notes("standalone-everything")


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_probes_resources_and_a_read_only_non_root_container(scenario: str) -> None:
    docs = render(scenario)
    spec = pod_spec(docs)
    routeiq = container(docs, "routeiq")
    ports = {p["name"]: p["containerPort"] for p in routeiq["ports"]}
    env = env_of(routeiq)
    assert ports == {"http": int(env["ROUTEIQ_HTTP_PORT"]), "grpc": int(env["ROUTEIQ_GRPC_PORT"])}
    paths = {
        p: routeiq[p]["httpGet"]["path"]
        for p in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    assert paths == {
        "startupProbe": "/readyz",
        "readinessProbe": "/readyz",
        "livenessProbe": "/healthz",
    }
    assert all(routeiq[p]["httpGet"]["port"] in ports for p in paths)
    # startup covers loading the bundle: minutes, not seconds
    startup = routeiq["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120
    assert routeiq["resources"]["requests"] and routeiq["resources"]["limits"]["memory"]
    sc = routeiq["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
    image_user = parse_dockerfile()[-1].args("USER")[0].split(":")[0]
    assert str(sc["runAsUser"]) == image_user
    # the only writable mount is /tmp, an emptyDir
    for m in routeiq["volumeMounts"]:
        assert m["mountPath"] == "/tmp" or m.get("readOnly"), m
    (tmp,) = [v for v in spec["volumes"] if v["name"] == "tmp"]
    assert "emptyDir" in tmp
    assert routeiq["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    assert spec["terminationGracePeriodSeconds"] > 10 + 5  # drain grace + preStop
    assert spec["automountServiceAccountToken"] is False


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_routeiq_env_is_valid_settings_and_matches_the_image(scenario: str) -> None:
    env = env_of(container(render(scenario), "routeiq"))
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    assert set(env) <= known, f"unknown settings: {set(env) - known}"
    fake_secrets = {"ROUTEIQ_REDIS_URL": "redis://redis:6379/0", "ROUTEIQ_AUTH_TOKEN": "t0ken"}
    plain = {k: v if isinstance(v, str) else fake_secrets[k] for k, v in env.items()}
    values = {k[len(ENV_PREFIX) :].lower(): v for k, v in plain.items()}
    s = load_settings(**values)
    assert s.http_host == s.grpc_host == "0.0.0.0"
    image_env = parse_dockerfile()[-1].env()
    assert env["ROUTEIQ_HOME"] == image_env["ROUTEIQ_HOME"]
    if SCENARIOS[scenario].get("bundle", {}).get("source", "image") == "image":
        assert env["ROUTEIQ_BUNDLE"] == image_env["ROUTEIQ_BUNDLE"]


def test_bundle_from_a_volume_or_an_init_container() -> None:
    docs = render("standalone-bundle-volume")
    env = env_of(container(docs, "routeiq"))
    assert env["ROUTEIQ_BUNDLE"] == "/opt/routeiq/bundles/mounted/v7"
    (vol,) = [v for v in pod_spec(docs)["volumes"] if v["name"] == "bundle"]
    assert vol["persistentVolumeClaim"] == {"claimName": "routeiq-bundles"}
    assert container(docs, "routeiq")["image"].endswith("@sha256:" + "a" * 64)

    docs = render("sidecar-bundle-init-grpc")
    spec = pod_spec(docs)
    (init,) = spec["initContainers"]  # stubFromImage is off here
    assert init["image"] == "registry.example/routeiq-bundle:7"
    assert init["command"] == ["cp", "-R", "/bundle/.", "/opt/routeiq/bundles/mounted/"]
    assert init["volumeMounts"] == [{"name": "bundle", "mountPath": "/opt/routeiq/bundles/mounted"}]
    (vol,) = [v for v in spec["volumes"] if v["name"] == "bundle"]
    assert "emptyDir" in vol
    assert env_of(container(docs, "routeiq"))["ROUTEIQ_BUNDLE"] == "/opt/routeiq/bundles/mounted"


def test_redis_url_always_comes_from_a_secret() -> None:
    env = env_of(container(render("standalone-everything"), "routeiq"))
    assert env["ROUTEIQ_REDIS_URL"] == {"secretKeyRef": {"name": "shared-redis", "key": "url"}}
    docs = render("standalone-bundle-volume")
    secret = kind(docs, "Secret")
    assert secret["stringData"] == {"redis-url": "redis://redis.llm.svc:6379/0"}
    env = env_of(container(docs, "routeiq"))
    assert env["ROUTEIQ_REDIS_URL"] == {
        "secretKeyRef": {"name": secret["metadata"]["name"], "key": "redis-url"}
    }
    assert "ROUTEIQ_REDIS_URL" not in env_of(container(render("sidecar-defaults"), "routeiq"))


def test_example_values_file_is_a_sidecar_with_the_stub() -> None:
    docs = render("example-values-file")
    assert [c["name"] for c in pod_spec(docs)["containers"]] == ["litellm", "routeiq"]
    config = yaml.safe_load(kind(docs, "ConfigMap")["data"]["litellm-config.yaml"])
    ids = [m["model_info"]["id"] for m in config["model_list"]]
    assert len(ids) == len(set(ids)) == 3
    assert {m["model_name"] for m in config["model_list"]} == {"auto"}
    assert kind(docs, "HorizontalPodAutoscaler")["spec"]["minReplicas"] == 3
    spread = pod_spec(docs)["topologySpreadConstraints"][0]
    assert spread["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"] == RELEASE


def test_alerts_and_dashboard_ship_as_files_and_are_off_by_default() -> None:
    """The PrometheusRule is files/alerts.yaml (promtool-checked, tests/deploy/test_alerts.py)
    and the dashboard ConfigMap holds dashboards/routeiq.json, both byte for byte."""
    docs = render("standalone-everything")
    rule = kind(docs, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    assert rule["spec"] == yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())
    cm = kind(docs, "ConfigMap", f"{FULLNAME}-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "LLM"}
    shipped = (CHART / "dashboards" / "routeiq.json").read_text()
    assert cm["data"]["routeiq.json"] == shipped.rstrip("\n")
    assert json.loads(cm["data"]["routeiq.json"])["uid"] == "routeiq-sidecar"
    for scenario in ("sidecar-defaults", "standalone-bundle-volume"):
        kinds = {(d["kind"], d["metadata"]["name"]) for d in render(scenario)}
        assert not any(k == "PrometheusRule" or n.endswith("-dashboard") for k, n in kinds)
