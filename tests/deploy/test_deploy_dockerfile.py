"""deploy/Dockerfile, checked without a Docker daemon: its build stage installs the package
list of `make deps` (the same file, through deploy/image-packages.sh, run here natively), its
runtime stage installs exactly the packages owning the libraries the binary links
(deploy/runtime-packages.sh, run here on the native build), and the image runs framering as a
non-root user with a health check."""
import fnmatch
import os
import re
import shlex
import subprocess

from deploy_helpers import DEPLOY, ROOT, free_port, wait_for

PACKAGES = ROOT / "scripts" / "debian-packages.txt"


def instructions(path):
    """(stage index, INSTRUCTION, argument text) with line continuations joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stage, out = -1, []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            stage += 1
        out.append((stage, word, rest.strip()))
    return out


def deps_packages():
    """What scripts/deps.sh installs (its own parsing: first word of each non-comment line)."""
    script = "grep -v '^\\s*#' scripts/debian-packages.txt | awk 'NF{print $1}'"
    deps_sh = (ROOT / "scripts" / "deps.sh").read_text()
    assert script.split("|")[0].strip() in deps_sh, "scripts/deps.sh changed how it reads the list"
    out = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


def image_packages():
    out = subprocess.run([str(DEPLOY / "image-packages.sh"), str(PACKAGES)], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_both_stages_are_debian_bookworm():
    froms = [rest for _, word, rest in instructions(DEPLOY / "Dockerfile") if word == "FROM"]
    assert [f.split()[0] for f in froms] == ["debian:bookworm", "debian:bookworm"]
    assert [f.split()[-1] for f in froms] == ["build", "runtime"]


def test_build_stage_installs_the_make_deps_list():
    steps = [(w, r) for s, w, r in instructions(DEPLOY / "Dockerfile") if s == 0]
    copies = [r for w, r in steps if w == "COPY"]
    assert "scripts/debian-packages.txt scripts/" in copies
    assert "deploy/image-packages.sh deploy/" in copies
    runs = [r for w, r in steps if w == "RUN"]
    installs = [r for r in runs if "apt-get install" in r]
    assert len(installs) == 1, "the build stage installs packages in one place"
    assert "deploy/image-packages.sh scripts/debian-packages.txt" in installs[0]
    assert "| xargs apt-get install" in installs[0], "the list is piped into apt-get, no package is named"


def test_image_list_is_the_deps_list_minus_host_only_tools():
    deps, image = deps_packages(), image_packages()
    assert image == [p for p in deps if p in image], "image-packages.sh reorders or invents packages"
    skipped = set(deps) - set(image)
    lines = PACKAGES.read_text().splitlines()
    for p in skipped:
        line = next(ln for ln in lines if ln.split() and ln.split()[0] == p)
        assert "not-in-image" in line, f"{p} is in `make deps` but not in the image, and not marked not-in-image"
    # The build needs every library and tool of the first sections; none may be skipped.
    build_section = lines[:next(i for i, ln in enumerate(lines) if ln.startswith("# tools"))]
    needed = {ln.split()[0] for ln in build_section if ln.split() and not ln.startswith("#")}
    assert needed and needed <= set(image)
    assert {"cmake", "ninja-build", "libavcodec-dev", "prometheus-cpp-dev", "libopencv-dev"} <= needed


def test_runtime_packages_cover_the_binary(framering_bin):
    out = subprocess.run([str(DEPLOY / "runtime-packages.sh"), framering_bin], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    packages = out.stdout.split()
    assert "libc6" in packages and "libstdc++6" in packages
    for p in packages:
        assert not p.endswith("-dev"), f"runtime would install {p}"
    files = subprocess.run(["dpkg", "-L", *packages], capture_output=True, text=True, check=True).stdout
    needed = subprocess.run(["objdump", "-p", framering_bin], capture_output=True, text=True, check=True).stdout
    for soname in re.findall(r"^\s*NEEDED\s+(\S+)", needed, re.M):
        assert f"/{soname}\n" in files, f"{soname} is provided by none of {packages}"


def test_runtime_stage_installs_the_computed_list_and_no_dev_package():
    steps = [(w, r) for s, w, r in instructions(DEPLOY / "Dockerfile") if s == 1]
    runs = " ".join(r for w, r in steps if w == "RUN")
    assert "xargs -a /tmp/runtime-packages.txt apt-get install" in runs
    assert not re.search(r"\S+-dev\b", runs)
    assert "--from=build /out/runtime-packages.txt /tmp/runtime-packages.txt" in [r for w, r in steps if w == "COPY"]


def test_image_runs_framering_as_non_root_with_a_health_check():
    steps = {w: r for s, w, r in instructions(DEPLOY / "Dockerfile") if s == 1}
    assert steps["ENTRYPOINT"] == '["framering"]'
    uid, _, gid = steps["USER"].partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0
    health = steps["HEALTHCHECK"]
    assert "curl -fsS" in health and "127.0.0.1:${FRAMERING_HEALTH_PORT}/metrics" in health
    assert "FRAMERING_HEALTH_PORT=9464" in steps["ENV"]
    labels = dict(tok.split("=", 1) for tok in shlex.split(steps["LABEL"]))
    project = re.search(r"project\(framering VERSION (\S+)", (ROOT / "CMakeLists.txt").read_text()).group(1)
    assert labels["org.opencontainers.image.version"] == project
    assert labels["org.opencontainers.image.title"] == "framering"


def test_copied_sources_exist_and_are_not_ignored():
    ignored = [ln.strip() for ln in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
               if ln.strip() and not ln.startswith("#")]
    for _, word, rest in instructions(DEPLOY / "Dockerfile"):
        if word != "COPY" or rest.startswith("--from"):
            continue
        for src in rest.split()[:-1]:
            assert (ROOT / src).exists(), f"COPY {src}: no such file in the repository"
            assert not any(fnmatch.fnmatch(src, pat) or src.startswith(pat + "/") for pat in ignored), src
    assert "build" in ignored and ".git" in ignored


def test_camera_image_packages_are_in_the_deps_list():
    # The simulator is tested natively with the packages of `make deps`; its image must not
    # need anything else.
    text = re.sub(r"\\\n", " ", (DEPLOY / "camera-sim" / "Dockerfile").read_text())
    install = re.search(r"apt-get install ([^&]+)", text).group(1).split()
    wanted = [w for w in install if not w.startswith("-")]
    assert "gir1.2-gst-rtsp-server-1.0" in wanted
    assert set(wanted) <= set(deps_packages())


def test_health_check_command_tells_a_live_ingest_from_a_dead_port(framering_bin, ring_name, procs):
    steps = {w: r for s, w, r in instructions(DEPLOY / "Dockerfile") if s == 1}
    command = steps["HEALTHCHECK"].split(" CMD ", 1)[1]  # shell form: Docker runs it with /bin/sh -c
    port, dead = free_port(), free_port()
    procs.start([framering_bin, "ingest", "--ring", ring_name, "--source", "testsrc:testsrc2=size=64x48:rate=10",
                 "--realtime", "--metrics-addr", f"0.0.0.0:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def health(p):
        return subprocess.run(["sh", "-c", command], env={"PATH": os.environ["PATH"], "FRAMERING_HEALTH_PORT": str(p)},
                              capture_output=True, timeout=10).returncode

    wait_for(lambda: health(port) == 0, timeout=30, what="the health check to pass on a live ingest")
    assert health(dead) == 1
