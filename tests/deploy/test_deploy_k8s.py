"""deploy/k8s: the kustomize base and overlay render (tests/deploy/kustomize_lite.py, the same
output as kustomize, checked against a real one where installed); every framering pod shares one
memory-backed /dev/shm big enough for its ring, and every container has limits, probes on
its metrics port and a command line the binary accepts."""
import json
import re
import shutil
import subprocess

import pytest
import yaml

import kustomize_lite
from deploy_helpers import (DEPLOY, expand_k8s_args, ingest_ring_bytes, kubectl_too_old, kustomize, option,
                            parse_size, shm_needed)

K8S = DEPLOY / "k8s"
LAYOUTS = {"base": 1, "overlays/two-cameras": 2}


def rendered(path):
    docs = kustomize(K8S / path)
    config_maps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    services = [d for d in docs if d["kind"] == "Service"]
    return config_maps, deployments, services


@pytest.mark.parametrize("path,cameras", LAYOUTS.items())
def test_renders_one_deployment_per_camera(path, cameras):
    config_maps, deployments, services = rendered(path)
    assert len(deployments) == cameras and len(services) == cameras
    rings = set()
    for d in deployments:
        assert d["spec"]["replicas"] == 1, "one writer per ring"
        ingest = [c for c in d["spec"]["template"]["spec"]["containers"] if c["args"][0] == "ingest"]
        assert len(ingest) == 1, f"{d['metadata']['name']}: one ingest container per pod"
        rings.add(option(expand_k8s_args(ingest[0], config_maps), "--ring"))
    assert len(rings) == cameras, "each camera needs its own ring"


@pytest.mark.parametrize("path", LAYOUTS)
def test_every_container_shares_a_big_enough_memory_dev_shm(path):
    config_maps, deployments, _ = rendered(path)
    for d in deployments:
        spec = d["spec"]["template"]["spec"]
        name = d["metadata"]["name"]
        shm = [v for v in spec["volumes"] if v.get("emptyDir", {}).get("medium") == "Memory"]
        assert len(shm) == 1, f"{name}: one memory-backed emptyDir"
        containers = spec["containers"]
        assert len(containers) >= 3, f"{name}: ingest and at least two workers"
        for c in containers:
            mounts = [m for m in c.get("volumeMounts", []) if m["name"] == shm[0]["name"]]
            assert [m["mountPath"] for m in mounts] == ["/dev/shm"], f"{name}/{c['name']} lacks /dev/shm"
        # Liveness is by flock on the shared /dev/shm: the containers keep their own PID namespaces.
        assert "shareProcessNamespace" not in spec, f"{name} shares a PID namespace"
        ingest = next(c for c in containers if c["args"][0] == "ingest")
        ring = ingest_ring_bytes(expand_k8s_args(ingest, config_maps), name)
        limit = parse_size(shm[0]["emptyDir"]["sizeLimit"])
        assert limit >= shm_needed(ring), f"{name}: sizeLimit {limit} B < 2 x ring {ring} B + 1 MiB"
        # The ring's pages are charged to the ingest's memory cgroup.
        assert parse_size(ingest["resources"]["limits"]["memory"]) > ring


@pytest.mark.parametrize("path", LAYOUTS)
def test_every_container_has_limits_and_probes_on_its_metrics_port(path):
    config_maps, deployments, _ = rendered(path)
    for d in deployments:
        for c in d["spec"]["template"]["spec"]["containers"]:
            where = f"{d['metadata']['name']}/{c['name']}"
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), f"{where}: {kind}"
            addr = option(expand_k8s_args(c, config_maps), "--metrics-addr")
            assert addr and addr.startswith("0.0.0.0:"), f"{where}: metrics must listen on 0.0.0.0"
            port = int(addr.rsplit(":", 1)[1])
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            for probe in ("livenessProbe", "readinessProbe"):
                get = c[probe]["httpGet"]
                assert get["path"] == "/metrics"
                assert ports.get(get["port"], get["port"]) == port, f"{where}: {probe} is not on {addr}"
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize("path", LAYOUTS)
def test_service_selects_only_its_own_camera(path):
    _, deployments, services = rendered(path)
    for svc in services:
        selector = svc["spec"]["selector"]
        matches = [d for d in deployments
                   if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matches) == 1, f"service {svc['metadata']['name']} selects {len(matches)} deployments"
        container_ports = {p["name"] for c in matches[0]["spec"]["template"]["spec"]["containers"]
                           for p in c["ports"]}
        assert {p["targetPort"] for p in svc["spec"]["ports"]} == container_ports


@pytest.mark.parametrize("path", LAYOUTS)
def test_command_lines_pass_check_config(path, framering_bin):
    config_maps, deployments, _ = rendered(path)
    for d in deployments:
        for c in d["spec"]["template"]["spec"]["containers"]:
            args = expand_k8s_args(c, config_maps)
            out = subprocess.run([framering_bin, *args, "--check-config"], capture_output=True, text=True, timeout=20)
            assert out.returncode == 0, f"{d['metadata']['name']}/{c['name']}: {args}:\n{out.stderr}"


def is_loopback(addr):
    host = addr.rsplit(":", 1)[0] if ":" in addr else "127.0.0.1"
    return host == "localhost" or host.startswith("127.") or host == "[::1]"


@pytest.mark.parametrize("path", LAYOUTS)
def test_no_port_serves_camera_pictures(path):
    """Every container port is a metrics port serving /metrics only; a preview, if a container
    enables one, stays on the pod's loopback (reached with kubectl port-forward only)."""
    config_maps, deployments, _ = rendered(path)
    for d in deployments:
        for c in d["spec"]["template"]["spec"]["containers"]:
            where = f"{d['metadata']['name']}/{c['name']}"
            args = expand_k8s_args(c, config_maps)
            preview = option(args, "--preview-addr")
            assert preview is None or is_loopback(preview), f"{where}: preview on {preview}"
            assert all(p["name"].startswith("metrics-") for p in c["ports"]), where


@pytest.mark.parametrize("path", LAYOUTS)
def test_network_policy_admits_only_prometheus_to_the_metrics_ports(path):
    docs = kustomize(K8S / path)
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    assert len(policies) == len(deployments)
    for d in deployments:
        pod = d["spec"]["template"]
        labels = pod["metadata"]["labels"]
        mine = [p for p in policies
                if p["spec"]["podSelector"].get("matchLabels")
                and p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()]
        assert len(mine) == 1, f"{d['metadata']['name']}: {len(mine)} policies select its pod"
        spec = mine[0]["spec"]
        # It selects this camera's pod only, not every pod of the namespace.
        others = [o for o in deployments if o is not d and spec["podSelector"]["matchLabels"].items()
                  <= o["spec"]["template"]["metadata"]["labels"].items()]
        assert not others, "a policy of one camera selects another camera's pod"
        assert "Ingress" in spec["policyTypes"]
        metrics_ports = {p["name"] for c in pod["spec"]["containers"] for p in c["ports"]}
        assert spec["ingress"], "no rule: nothing admitted (Prometheus could not scrape)"
        for rule in spec["ingress"]:
            assert rule.get("from"), "a rule without `from` admits every source"
            for peer in rule["from"]:
                assert "ipBlock" not in peer
                # Only the monitoring namespace. No podSelector: kustomize would add framering's
                # own selector labels to it, and then no Prometheus pod could match.
                assert "podSelector" not in peer, peer
                wanted = [e for e in peer["namespaceSelector"].get("matchExpressions", [])
                          if e["key"] == "framering.io/monitoring"]
                assert wanted and wanted[0]["values"] == ["true"], peer
            ports = {p["port"] for p in rule["ports"]}
            assert ports == metrics_ports, f"rule ports {ports} != metrics ports {metrics_ports}"


def _comparable(docs):
    """Documents sorted by kind and name, generated names without kustomize's content hash."""
    text = json.dumps(docs, sort_keys=True)
    for d in docs:
        if d["kind"] in ("ConfigMap", "Secret"):
            base = re.sub(r"-[a-z0-9]{10}$", "", d["metadata"]["name"])
            text = re.sub(rf'"{re.escape(base)}-[a-z0-9]{{10}}"', lambda _: f'"{base}"', text)
    return sorted(json.loads(text), key=lambda d: (d["kind"], d["metadata"]["name"]))


@pytest.mark.parametrize("path", [*LAYOUTS, "monitoring"])
def test_plain_python_render_is_kustomizes(path):
    # The checks above read kustomize_lite's output; this keeps it honest where a kustomize that
    # can build these manifests exists (an upstream kubectl >= 1.24; Debian 12 has none).
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl to compare with (not a Debian 12 package); the checks above ran on kustomize_lite")
    too_old = kubectl_too_old(kubectl)
    if too_old:
        pytest.skip(f"{too_old}; the checks above ran on kustomize_lite")
    out = subprocess.run([kubectl, "kustomize", str(K8S / path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    real = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert _comparable(kustomize_lite.render(K8S / path)) == _comparable(real)


def test_render_refuses_what_it_does_not_understand(tmp_path):
    # A kustomization field the plain renderer ignored would leave the checks above blind to it.
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(
        {"resources": [str(K8S / "camera")], "patches": [{"path": "p.yaml"}]}))
    with pytest.raises(kustomize_lite.KustomizeError, match="patches"):
        kustomize_lite.render(tmp_path)


def test_render_applies_suffix_labels_and_merged_config():
    config_maps, deployments, services = rendered("overlays/two-cameras")
    assert sorted(config_maps) == ["framering-camera-cam0", "framering-camera-cam1"]
    assert config_maps["framering-camera-cam1"]["data"]["FRAMERING_WIDTH"] == "1280"  # merged over the template
    assert config_maps["framering-camera-cam1"]["data"]["FRAMERING_PIX_FMT"] == "bgr24"  # kept from it
    for d in deployments:
        camera = d["metadata"]["name"].rsplit("-", 1)[1]
        assert d["spec"]["selector"]["matchLabels"]["framering.io/camera"] == camera
        assert d["spec"]["template"]["metadata"]["labels"]["framering.io/camera"] == camera
        refs = {r["configMapRef"]["name"] for c in d["spec"]["template"]["spec"]["containers"]
                for r in c.get("envFrom", [])}
        assert refs == {f"framering-camera-{camera}"}
        assert {c["image"] for c in d["spec"]["template"]["spec"]["containers"]} == {"framering:0.1.0"}
