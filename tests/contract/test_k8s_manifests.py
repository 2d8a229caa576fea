"""What deploy/k8s promises the SREs: every process of every service is deployed, probed and
scraped on the ports servicekit.config gives it, and every kustomization builds from files that exist."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.k8s import generate
from servicekit.config import GATEWAY_PORT, ORDER_IMPORT_PORT, SERVICES

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
BASE = K8S / "base"


def load_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def base_objects() -> dict[tuple[str, str], dict]:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    objects = {}
    for resource in kustomization["resources"]:
        for doc in load_documents(BASE / resource):
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in objects, f"{key} is declared twice"
            objects[key] = doc
    return objects


OBJECTS = base_objects()


def only_container(doc: dict) -> dict:
    containers = doc["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def port_named(cont: dict, name: str) -> int:
    return next(p["containerPort"] for p in cont["ports"] if p["name"] == name)


def env_names(cont: dict) -> set[str]:
    return {e["name"] for e in cont.get("env", [])}


def kustomizations() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


@pytest.mark.parametrize("path", kustomizations(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_file_a_kustomization_names_exists(path: Path):
    spec = yaml.safe_load(path.read_text())
    listed = list(spec.get("resources", []))
    listed += [p["path"] for p in spec.get("patches", []) if "path" in p]
    assert listed, f"{path} lists nothing"
    for entry in listed:
        target = (path.parent / entry).resolve()
        assert target.exists(), f"{path} lists {entry}, which does not exist"
        if target.is_dir():
            assert (target / "kustomization.yaml").exists(), f"{entry} is not a kustomization"


def test_base_is_what_the_generator_writes():
    rendered = generate.render()
    on_disk = {str(p.relative_to(BASE)) for p in BASE.rglob("*.yaml")}
    assert on_disk == set(rendered), "run `python -m deploy.k8s.generate`"
    for relative, text in rendered.items():
        assert (BASE / relative).read_text() == text, f"{relative} is stale: regenerate it"


@pytest.mark.parametrize("service", SERVICES)
def test_api_deployment_serves_grpc_on_its_port_with_native_probes(service: str):
    grpc_port, api_metrics, _ = SERVICES[service]
    doc = OBJECTS[("Deployment", f"{service}-api")]
    cont = only_container(doc)
    assert cont["command"] == ["python", "-m", "servicekit", "api", service]
    assert port_named(cont, "grpc") == grpc_port
    assert port_named(cont, "metrics") == api_metrics
    assert cont["readinessProbe"]["grpc"]["port"] == grpc_port
    assert cont["livenessProbe"]["grpc"]["port"] == grpc_port
    annotations = doc["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(api_metrics)
    assert cont["resources"]["requests"]["cpu"] and cont["resources"]["requests"]["memory"]

    service_obj = OBJECTS[("Service", f"{service}-api")]
    assert service_obj["spec"]["selector"] == doc["spec"]["selector"]["matchLabels"]
    assert service_obj["spec"]["ports"][0]["port"] == grpc_port


@pytest.mark.parametrize("service", SERVICES)
def test_worker_deployment_is_probed_and_scraped_on_its_metrics_port(service: str):
    _, _, worker_metrics = SERVICES[service]
    doc = OBJECTS[("Deployment", f"{service}-worker")]
    cont = only_container(doc)
    assert cont["command"] == ["python", "-m", "servicekit", "worker", service]
    assert port_named(cont, "metrics") == worker_metrics
    for probe in ("readinessProbe", "livenessProbe"):
        assert cont[probe]["httpGet"]["port"] == "metrics"
    annotations = doc["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(worker_metrics)
    assert cont["resources"]["requests"]["memory"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_process_reads_its_own_database_url_and_the_broker_from_secrets(service: str):
    for kind, name in (("Deployment", f"{service}-api"), ("Deployment", f"{service}-worker"),
                       ("Job", f"{service}-migrate")):
        cont = only_container(OBJECTS[(kind, name)])
        by_name = {e["name"]: e for e in cont["env"]}
        url = by_name[f"MALL_{service.upper()}_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert url == {"name": generate.DATABASE_SECRET, "key": service}
        assert "secretKeyRef" in by_name["MALL_AMQP_URL"]["valueFrom"]
        # HMAC-signed page tokens must verify on whichever replica the next page reaches.
        assert "secretKeyRef" in by_name["MALL_PAGE_TOKEN_SECRET"]["valueFrom"]
        if service == "member":  # issues the JWTs, trades WeChat login codes
            assert {"MALL_JWT_SECRET", "MALL_WECHAT_APPID", "MALL_WECHAT_SECRET"} <= set(by_name)
        assert cont["envFrom"] == [{"configMapRef": {"name": "mall-config"}}]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_a_migration_job(service: str):
    cont = only_container(OBJECTS[("Job", f"{service}-migrate")])
    assert cont["command"] == ["python", "-m", "servicekit", "migrate", service]


def test_the_first_admin_is_bootstrapped_from_a_secret():
    cont = only_container(OBJECTS[("Job", "member-bootstrap-admin")])
    assert cont["command"] == ["python", "-m", "services.member.bootstrap"]
    by_name = {e["name"]: e for e in cont["env"]}
    for key in ("MALL_ADMIN_USERNAME", "MALL_ADMIN_PASSWORD", "MALL_MEMBER_DATABASE_URL"):
        assert "secretKeyRef" in by_name[key]["valueFrom"]


def test_no_stand_in_is_deployed():
    """The providers' stand-ins (standins/) are for `make run` and the tests, never a cluster."""
    for path in sorted(K8S.rglob("*.yaml")):
        text = path.read_text()
        assert "standins" not in text and "STANDIN" not in text, path


def test_every_manifest_is_yaml_with_a_kind():
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in load_documents(path):
            assert doc.get("apiVersion") and doc.get("kind"), f"{path} holds a document without kind"


def test_gateway_is_probed_over_http_and_finds_every_api_through_the_config_map():
    cont = only_container(OBJECTS[("Deployment", "gateway")])
    assert port_named(cont, "http") == GATEWAY_PORT
    assert cont["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert cont["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "MALL_JWT_SECRET" in env_names(cont)
    config = OBJECTS[("ConfigMap", "mall-config")]["data"]
    for service, (port, _, _) in SERVICES.items():
        assert config[f"MALL_{service.upper()}_GRPC_TARGET"] == f"{service}-api:{port}"
    assert OBJECTS[("Service", "gateway")]["spec"]["ports"][0]["port"] == GATEWAY_PORT


def test_media_writers_and_gateway_share_the_media_volume_at_the_media_root():
    media_root = OBJECTS[("ConfigMap", "mall-config")]["data"]["MALL_MEDIA_ROOT"]
    claim = OBJECTS[("PersistentVolumeClaim", generate.MEDIA_CLAIM)]
    assert "ReadWriteMany" in claim["spec"]["accessModes"]
    for name in ("catalog-api", "support-api", "support-worker", "gateway"):
        pod = OBJECTS[("Deployment", name)]["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mount = only_container(OBJECTS[("Deployment", name)])["volumeMounts"][0]
        assert mount["mountPath"] == media_root
        assert volumes[mount["name"]]["persistentVolumeClaim"]["claimName"] == generate.MEDIA_CLAIM


def test_order_import_runs_apart_on_its_own_port():
    cont = only_container(OBJECTS[("Deployment", "order-import")])
    assert cont["command"] == ["python", "-m", "servicekit", "api", "order", "--part", "import"]
    assert port_named(cont, "grpc") == ORDER_IMPORT_PORT
    assert cont["readinessProbe"]["grpc"]["port"] == ORDER_IMPORT_PORT
    assert OBJECTS[("Service", "order-import")]["spec"]["ports"][0]["port"] == ORDER_IMPORT_PORT


@pytest.mark.parametrize("overlay", ["staging", "production"])
def test_overlays_scale_and_tag_only_what_exists(overlay: str):
    spec = yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())
    deployments = {name for kind, name in OBJECTS if kind == "Deployment"}
    for entry in spec.get("replicas", []):
        assert entry["name"] in deployments
        assert entry["count"] >= 1
    assert [image["name"] for image in spec["images"]] == [generate.IMAGE]
    assert spec["images"][0]["newTag"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("overlay", ["staging", "production"])
def test_overlay_builds_with_kustomize(overlay: str):
    built = subprocess.run(["kubectl", "kustomize", str(K8S / "overlays" / overlay)],
                           capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    kinds = [doc["kind"] for doc in yaml.safe_load_all(built.stdout) if doc]
    # api + worker per service, order-import, gateway
    assert kinds.count("Deployment") == 2 * len(SERVICES) + 2
    assert kinds.count("Job") == len(SERVICES) + 1  # migrations, and the first admin
