"""deploy/compose.yaml: docker-compose accepts it, the ingest and its workers share one IPC
namespace (so one /dev/shm) owned by a service of its own that outlives any ingest container,
but no PID namespace, shm_size holds the ring by the documented formula, the files it mounts
exist, and every framering command line passes the binary's --check-config."""
import subprocess

import yaml

from deploy_helpers import (DEPLOY, DOCKER_DEFAULT_SHM, compose, dashboard, framering_services,
                            ingest_ring_bytes, ipc_owners, parse_size, shm_needed, option)


def test_docker_compose_accepts_the_file():
    out = subprocess.run(["docker-compose", "-f", str(DEPLOY / "compose.yaml"), "config", "-q"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_ingest_and_workers_share_the_ring_namespaces():
    services = framering_services()
    ingests = [n for n, s in services.items() if s["command"][0] == "ingest"]
    workers = [n for n, s in services.items() if s["command"][0] == "worker"]
    assert len(ingests) >= 1 and len(workers) >= 2
    owners = ipc_owners()
    for name in ingests:
        # Not the ingest's own namespace: its /dev/shm would go with a stopped ingest container.
        owner = services[name]["ipc"].removeprefix("service:")
        assert owner in owners, f"ingest {name} joins {services[name]['ipc']}, not an IPC owner"
        assert owners[owner]["entrypoint"] == ["sleep", "infinity"] and owners[owner]["init"] is True
    for name in workers:
        ring = option(services[name]["command"], "--ring")
        writer = [i for i in ingests if option(services[i]["command"], "--ring") == ring]
        assert len(writer) == 1, f"worker {name} reads ring {ring}, which {len(writer)} ingests write"
        assert services[name]["ipc"] == services[writer[0]]["ipc"]
    # Liveness is by flock on the shared /dev/shm: no container joins another's PID namespace.
    for name, svc in services.items():
        assert "pid" not in svc, f"{name} shares a PID namespace"


def test_shm_size_holds_the_ring():
    for name, svc in framering_services().items():
        if svc["command"][0] != "ingest":
            continue
        ring = ingest_ring_bytes(svc["command"], f"compose service {name}")
        owner = svc["ipc"].removeprefix("service:")
        shm = parse_size(ipc_owners()[owner]["shm_size"])
        assert shm >= shm_needed(ring), f"{name}: shm_size {shm} B < 2 x ring {ring} B + 1 MiB"
        # The point of setting it: this ring does not fit Docker's default.
        assert ring > DOCKER_DEFAULT_SHM


def test_every_framering_service_listens_on_all_interfaces_and_is_health_checked():
    for name, svc in framering_services().items():
        addr = option(svc["command"], "--metrics-addr")
        assert addr and addr.startswith("0.0.0.0:"), f"{name}: --metrics-addr must be 0.0.0.0:PORT in a container"
        assert svc["environment"]["FRAMERING_HEALTH_PORT"] == addr.rsplit(":", 1)[1], name


def test_mounted_files_exist():
    for name, svc in compose()["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
        build = svc.get("build")
        if build:
            context = DEPLOY / (build if isinstance(build, str) else build["context"])
            dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
            assert (context / dockerfile).is_file(), f"{name}: no {dockerfile} in {context}"


def test_grafana_datasource_uid_is_the_dashboards():
    ds = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "framering.yaml").read_text())
    uids = {d["uid"] for d in ds["datasources"]}
    used = {p["datasource"]["uid"] for p in dashboard()["panels"]}
    used |= {t["datasource"]["uid"] for p in dashboard()["panels"] for t in p["targets"]}
    assert used and used <= uids
    assert dashboard()["uid"] == "framering-overview"
    providers = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "framering.yaml").read_text())
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose()["services"]["grafana"]["volumes"]}
    path = providers["providers"][0]["options"]["path"]
    assert (DEPLOY / mounts[path] / "framering.json").is_file()


def test_command_lines_pass_check_config(framering_bin):
    for name, svc in framering_services().items():
        args = [str(a) for a in svc["command"]]
        out = subprocess.run([framering_bin, *args, "--check-config"], capture_output=True, text=True, timeout=20)
        assert out.returncode == 0, f"compose service {name}: {args}:\n{out.stderr}"


def test_check_config_rejects_a_bad_flag(framering_bin):
    # The check above would mean nothing if --check-config accepted anything.
    svc = next(s for s in framering_services().values() if s["command"][0] == "ingest")
    args = [str(a) for a in svc["command"]]
    args[args.index("--pix-fmt") + 1] = "yuv9"
    out = subprocess.run([framering_bin, *args, "--check-config"], capture_output=True, text=True, timeout=20)
    assert out.returncode == 2 and "--pix-fmt" in out.stderr and "yuv9" in out.stderr


def test_dashboard_panels_fit_the_grid_without_overlap():
    cells = {}
    for p in dashboard()["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]
    assert len({p["id"] for p in dashboard()["panels"]}) == len(dashboard()["panels"])


def test_ingest_ring_geometry_is_the_simulated_cameras():
    # The ring is pinned to the camera's size, so frames are not rescaled on the way in.
    services = compose()["services"]
    camera = services["camera"]["command"]
    ingest = services["ingest"]["command"]
    assert option(ingest, "--source") == f"rtsp://camera:{option(camera, '--port')}{option(camera, '--path')}"
    assert (option(ingest, "--width"), option(ingest, "--height")) == (option(camera, "--width"), option(camera, "--height"))
