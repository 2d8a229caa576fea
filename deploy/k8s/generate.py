"""Writes deploy/k8s/base from servicekit.config, so manifests and ports never drift apart.

    .venv/bin/python -m deploy.k8s.generate

The output is committed (SREs read and diff plain YAML); tests/contract/test_k8s_manifests.py
fails when the committed files differ from what this script writes. Overlays are hand-written.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

from servicekit.config import GATEWAY_PORT, ORDER_IMPORT_PORT, PARTS, SERVICES
from servicekit.sealing import EVENT_KEY_HOLDERS

BASE = Path(__file__).resolve().parent / "base"
IMAGE = "mall"  # one image for every process; overlays set the registry and tag
CONFIG_MAP = "mall-config"
# Secrets are referenced, never written here: the cluster's secret store creates them.
DATABASE_SECRET = "mall-database-urls"  # one key per service, e.g. `catalog`
AMQP_SECRET = "mall-amqp"  # key `url`
JWT_SECRET = "mall-jwt"  # key `secret`
# Page tokens are HMAC-signed: every replica of a service must share the key.
PAGE_TOKEN_SECRET = "mall-page-tokens"  # key `secret`
WECHAT_SECRET = "mall-wechat"  # keys `appid`, `secret`: the mini-program's, for member's login
ADMIN_SECRET = "mall-admin"  # keys `username`, `password`: the first admin's
# Personal data at rest (servicekit.pii): one AES-GCM key ring per service that seals any, keys
# `<service>-keys` ("k2:<base64>,k1:<base64>", the first seals); member's phone look-up HMAC key
# `member-phone-hash`. Rotating adds a key in front and keeps the old ones until re-sealed.
PII_SECRET = "mall-pii"
PII_SERVICES = {"member", "order", "logistics"}
# Personal fields of events (servicekit.sealing): one ring, key `event-keys`, given only to the
# services that read them (sealing.EVENT_KEY_HOLDERS); analytics and support never get it.
EVENT_KEY_SECRET_KEY = "event-keys"
# Carriers' credentials for logistics, keys `<code>-url`, `<code>-partner-id`, `<code>-checkword`.
CARRIER_SECRET = "mall-carriers"
CARRIERS = ("sf", "zto")
# Who signs or verifies JWTs: the gateway checks them, member issues them at login.
JWT_USERS = {"gateway", "member"}
# Catalog's api writes product media, the gateway serves it: one volume both mount.
MEDIA_CLAIM = "mall-media"
MEDIA_ROOT = "/var/lib/mall/media"
# The services that write files under the media root (catalog's product media, support's review
# photos): their processes mount the shared volume the gateway serves /media/ from.
MEDIA_WRITERS = ("catalog", "support")
MEDIA_WORKERS = ("support",)  # support's worker deletes an erased member's review photos

API_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
WORKER_RESOURCES = {"requests": {"cpu": "50m", "memory": "192Mi"}, "limits": {"memory": "384Mi"}}
GATEWAY_RESOURCES = {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
JOB_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}


def secret_env(name: str, secret: str, key: str) -> dict:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def service_env(service: str) -> list[dict]:
    env = [
        secret_env(f"MALL_{service.upper()}_DATABASE_URL", DATABASE_SECRET, service),
        secret_env("MALL_AMQP_URL", AMQP_SECRET, "url"),
    ]
    env.append(secret_env("MALL_PAGE_TOKEN_SECRET", PAGE_TOKEN_SECRET, "secret"))
    if service in JWT_USERS:
        env.append(secret_env("MALL_JWT_SECRET", JWT_SECRET, "secret"))
    if service in PII_SERVICES:
        env.append(secret_env(f"MALL_{service.upper()}_PII_KEYS", PII_SECRET, f"{service}-keys"))
    if service in EVENT_KEY_HOLDERS:
        env.append(secret_env("MALL_EVENT_PII_KEYS", PII_SECRET, EVENT_KEY_SECRET_KEY))
    if service == "logistics":
        env += [secret_env(f"MALL_LOGISTICS_CARRIER_{code.upper()}_{setting}", CARRIER_SECRET,
                           f"{code}-{setting.lower().replace('_', '-')}")
                for code in CARRIERS for setting in ("URL", "PARTNER_ID", "CHECKWORD")]
    if service == "member":
        env.append(secret_env("MALL_MEMBER_PHONE_HASH_KEY", PII_SECRET, "member-phone-hash"))
        env.append(secret_env("MALL_WECHAT_APPID", WECHAT_SECRET, "appid"))
        env.append(secret_env("MALL_WECHAT_SECRET", WECHAT_SECRET, "secret"))
    return env


def grpc_probe(port: int, *, period: int, failures: int, initial: int = 5) -> dict:
    # Native gRPC probe: asks the standard health service for the server's overall status ("").
    return {"grpc": {"port": port}, "initialDelaySeconds": initial, "periodSeconds": period,
            "failureThreshold": failures, "timeoutSeconds": 3}


def http_probe(path: str, port: str, *, period: int, failures: int, initial: int = 5) -> dict:
    return {"httpGet": {"path": path, "port": port}, "initialDelaySeconds": initial,
            "periodSeconds": period, "failureThreshold": failures, "timeoutSeconds": 3}


def metrics_annotations(port: int) -> dict:
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics"}


def container(name: str, command: list[str], *, ports: list[dict], env: list[dict],
              resources: dict, readiness: dict | None = None, liveness: dict | None = None) -> dict:
    spec = {
        "name": name,
        "image": IMAGE,
        "command": command,
        "envFrom": [{"configMapRef": {"name": CONFIG_MAP}}],
        "env": env,
        "resources": resources,
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    if ports:
        spec["ports"] = ports
    if readiness:
        spec["readinessProbe"] = readiness
    if liveness:
        spec["livenessProbe"] = liveness
    return spec


def mount_media(deployment_doc: dict) -> dict:
    pod = deployment_doc["spec"]["template"]["spec"]
    pod["containers"][0]["volumeMounts"] = [{"name": "media", "mountPath": MEDIA_ROOT}]
    pod["volumes"] = [{"name": "media", "persistentVolumeClaim": {"claimName": MEDIA_CLAIM}}]
    return deployment_doc


def media_claim() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": MEDIA_CLAIM},
        # Many pods on many nodes: needs a ReadWriteMany storage class (NFS, CephFS, EFS ...).
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "50Gi"}}},
    }


def deployment(name: str, *, component: str, service: str, cont: dict, metrics_port: int,
               grace: int = 30) -> dict:
    labels = {"app": name, "app.kubernetes.io/component": component,
              "app.kubernetes.io/part-of": "mall", "mall/service": service}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels, "annotations": metrics_annotations(metrics_port)},
                # Longer than the server's drain (MALL_DRAIN_SECONDS) so SIGTERM can finish calls.
                "spec": {"terminationGracePeriodSeconds": grace, "containers": [cont]},
            },
        },
    }


def cluster_service(name: str, port: int, port_name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"app": name, "app.kubernetes.io/part-of": "mall"}},
        "spec": {"selector": {"app": name},
                 "ports": [{"name": port_name, "port": port, "targetPort": port_name}]},
    }


def api_manifests(service: str, *, name: str | None = None, port: int | None = None,
                  command: list[str] | None = None, metrics: int | None = None) -> list[dict]:
    grpc_port, api_metrics, _ = SERVICES[service]
    api_metrics = metrics or api_metrics
    name = name or f"{service}-api"
    port = port or grpc_port
    command = command or ["python", "-m", "servicekit", "api", service]
    cont = container(
        "api", command,
        ports=[{"name": "grpc", "containerPort": port},
               {"name": "metrics", "containerPort": api_metrics}],
        env=service_env(service), resources=API_RESOURCES,
        readiness=grpc_probe(port, period=5, failures=3),
        # Liveness is lenient: NOT_SERVING while the database is briefly away must not restart.
        liveness=grpc_probe(port, period=20, failures=6, initial=15),
    )
    api = deployment(name, component="api", service=service, cont=cont, metrics_port=api_metrics)
    if service in MEDIA_WRITERS and name == f"{service}-api":
        mount_media(api)
    return [api, cluster_service(name, port, "grpc")]


def worker_manifests(service: str) -> list[dict]:
    _, _, worker_metrics = SERVICES[service]
    name = f"{service}-worker"
    cont = container(
        "worker", ["python", "-m", "servicekit", "worker", service],
        ports=[{"name": "metrics", "containerPort": worker_metrics}],
        env=service_env(service), resources=WORKER_RESOURCES,
        # A worker answers no requests; its metrics endpoint shows the process is alive.
        readiness=http_probe("/metrics", "metrics", period=10, failures=3),
        liveness=http_probe("/metrics", "metrics", period=20, failures=6, initial=15),
    )
    worker = deployment(name, component="worker", service=service, cont=cont,
                        metrics_port=worker_metrics)
    if service in MEDIA_WORKERS:
        mount_media(worker)
    return [worker]


def migrate_job(service: str) -> dict:
    cont = container("migrate", ["python", "-m", "servicekit", "migrate", service], ports=[],
                     env=service_env(service), resources=JOB_RESOURCES)
    return job(f"{service}-migrate", service, "migration", cont)


def bootstrap_admin_job() -> dict:
    """The shop's first admin (services/member/bootstrap.py): idempotent, so it can run on
    every release; it runs after member's migration has (it retries until the table exists)."""
    env = service_env("member") + [secret_env("MALL_ADMIN_USERNAME", ADMIN_SECRET, "username"),
                                   secret_env("MALL_ADMIN_PASSWORD", ADMIN_SECRET, "password")]
    cont = container("bootstrap", ["python", "-m", "services.member.bootstrap"], ports=[],
                     env=env, resources=JOB_RESOURCES)
    return job("member-bootstrap-admin", "member", "bootstrap", cont)


def job(name: str, service: str, component: str, cont: dict) -> dict:
    labels = {"app": name, "app.kubernetes.io/component": component,
              "app.kubernetes.io/part-of": "mall", "mall/service": service}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "backoffLimit": 6,
            # Jobs are immutable: removing the finished one lets the next release apply anew.
            "ttlSecondsAfterFinished": 600,
            "template": {"metadata": {"labels": labels},
                         "spec": {"restartPolicy": "OnFailure", "containers": [cont]}},
        },
    }


def gateway_manifests() -> list[dict]:
    env = [secret_env("MALL_AMQP_URL", AMQP_SECRET, "url"),
           secret_env("MALL_JWT_SECRET", JWT_SECRET, "secret")]
    cont = container(
        "gateway", ["python", "-m", "gateway"],
        ports=[{"name": "http", "containerPort": GATEWAY_PORT}], env=env,
        resources=GATEWAY_RESOURCES,
        readiness=http_probe("/readyz", "http", period=5, failures=3),
        liveness=http_probe("/healthz", "http", period=20, failures=3, initial=10),
    )
    return [mount_media(deployment("gateway", component="gateway", service="gateway", cont=cont,
                                   metrics_port=GATEWAY_PORT)),
            cluster_service("gateway", GATEWAY_PORT, "http")]


def config_map() -> dict:
    data = {
        "MALL_LOG_LEVEL": "INFO",
        "MALL_DRAIN_SECONDS": "5",
        "MALL_GATEWAY_HOST": "0.0.0.0",  # the gateway binds to loopback unless told
        "MALL_GATEWAY_PORT": str(GATEWAY_PORT),
        # Behind the ingress every request comes from it: the client is the address it appends
        # to X-Forwarded-For (rate limits per shopper, not one bucket for everyone).
        "MALL_GATEWAY_TRUST_FORWARDED_FOR": "1",
        "MALL_MEDIA_ROOT": MEDIA_ROOT,
        "MALL_VAR_DIR": "/tmp/mall",  # nothing durable: every database is PostgreSQL here
        "PYTHONUNBUFFERED": "1",
    }
    for service, (port, _, _) in SERVICES.items():
        data[f"MALL_{service.upper()}_GRPC_TARGET"] = f"{service}-api:{port}"
    for (service, part), (port, _) in PARTS.items():  # the gateway calls order's import part
        data[f"MALL_{service.upper()}_{part.upper()}_GRPC_TARGET"] = f"{service}-{part}:{port}"
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CONFIG_MAP},
            "data": data}


def kustomization(resources: list[str]) -> dict:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "labels": [{"pairs": {"app.kubernetes.io/managed-by": "kustomize"}}],
        "resources": resources,
    }


def render() -> dict[str, str]:
    """Relative path under base/ -> YAML text."""
    files: dict[str, list[dict]] = {"configmap.yaml": [config_map()],
                                    "media-pvc.yaml": [media_claim()],
                                    "gateway.yaml": gateway_manifests()}
    for service in SERVICES:
        files[f"{service}/api.yaml"] = api_manifests(service)
        files[f"{service}/worker.yaml"] = worker_manifests(service)
        files[f"{service}/migrate-job.yaml"] = [migrate_job(service)]
    files["member/bootstrap-admin-job.yaml"] = [bootstrap_admin_job()]
    files["order/import.yaml"] = api_manifests(
        "order", name="order-import", port=ORDER_IMPORT_PORT, metrics=PARTS[("order", "import")][1],
        command=["python", "-m", "servicekit", "api", "order", "--part", "import"])
    files["kustomization.yaml"] = [kustomization(sorted(files))]
    header = "# Generated by `python -m deploy.k8s.generate` from servicekit/config.py. Do not edit.\n"
    return {path: header + yaml.dump_all(docs, Dumper=_PlainDumper, sort_keys=False,
                                         default_flow_style=False)
            for path, docs in files.items()}


class _PlainDumper(yaml.SafeDumper):
    """Writes a repeated dict out again instead of as a YAML anchor and alias."""

    def ignore_aliases(self, data) -> bool:
        return True


def main() -> int:
    for relative, text in render().items():
        path = BASE / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {BASE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
