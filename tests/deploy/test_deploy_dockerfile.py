"""deploy/Dockerfile, checked without a container engine: its build stage installs the package
list of `make deps` (the same file, through deploy/image-packages.sh, run here natively), its
runtime stage gets the libraries the binary loads and nothing the base has
(deploy/runtime-libs.sh, run here on the native build), and the image runs framering as a
non-root user with a health check. tests/deploy/test_containers.py builds and runs the image."""
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
    assert [f.split()[0] for f in froms] == ["debian:bookworm", "debian:bookworm-slim"]
    assert [f.split()[-1] for f in froms] == ["build", "runtime"]


def test_build_stage_installs_the_make_deps_list():
    steps = [(w, r) for s, w, r in instructions(DEPLOY / "Dockerfile") if s == 0]
    copies = [r for w, r in steps if w == "COPY"]
    assert "scripts/debian-packages.txt scripts/" in copies
    assert "deploy/image-packages.sh deploy/" in copies
    runs = [r for w, r in steps if w == "RUN"]
    installs = [r for r in runs if "apt-get install" in r]
    # First what the runtime stage has as well (curl), recorded for runtime-libs.sh; then the list.
    assert len(installs) == 2, "the build stage installs packages in two places"
    assert "--no-install-recommends curl" in installs[0] and "> /runtime-base-packages.txt" in installs[0]
    assert "deploy/image-packages.sh scripts/debian-packages.txt" in installs[1]
    installs = installs[1:]
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


def runtime_libs(framering_bin, tmp_path, *flags):
    """deploy/runtime-libs.sh on the native binary, with Debian's required packages (what a
    minbase root, and so debian:bookworm, holds) as the base; soname -> package."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    base = tmp_path / "base-packages.txt"
    required = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Priority}\n"], capture_output=True,
                              text=True, check=True).stdout
    base.write_text("".join(line.split()[0] + "\n" for line in required.splitlines()
                            if line.split()[1:] == ["required"]))
    dest = tmp_path / "lib"
    out = subprocess.run([str(DEPLOY / "runtime-libs.sh"), *flags, framering_bin, str(base), str(dest)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    paths = dict(line.split() for line in out.stdout.splitlines())
    # Where Debian keeps them, under the name the loader asks for.
    assert sorted(paths) == sorted("/" + str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert all(os.path.dirname(p) == os.path.realpath("/usr/lib/x86_64-linux-gnu") or "/x86_64-linux-gnu" in p
               for p in paths)
    copied = {os.path.basename(p): pkg for p, pkg in paths.items()}
    return copied, base.read_text().split(), dest


def loaded_sonames(path):
    out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    assert "not found" not in out
    return {line.split()[0] for line in out.splitlines() if " => /" in line}


def test_runtime_libs_are_the_loaders_closure_minus_the_base(framering_bin, tmp_path):
    copied, base, dest = runtime_libs(framering_bin, tmp_path)
    owners = {}
    for soname in loaded_sonames(framering_bin):
        if soname not in copied:
            path = subprocess.run(["bash", "-c", f"ldd {framering_bin} | awk '$1 == \"{soname}\" {{print $3}}'"],
                                  capture_output=True, text=True, check=True).stdout.strip()
            owner = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True, text=True)
            if owner.returncode != 0:
                owner = subprocess.run(["dpkg", "-S", os.path.realpath(path).removeprefix("/usr")],
                                       capture_output=True, text=True)
            owners[soname] = owner.stdout.split(":")[0]
    assert all(o in base for o in owners.values()), f"neither copied nor in the base: {owners}"
    needed = subprocess.run(["objdump", "-p", framering_bin], capture_output=True, text=True, check=True).stdout
    for soname in re.findall(r"^\s*NEEDED\s+(\S+)", needed, re.M):
        assert soname in copied or soname in owners, soname
    for soname in copied:
        assert not re.match(r"lib(LLVM|gallium|GLX_mesa|flite|placebo|avfilter|avdevice)", soname), soname
        assert len(list(dest.rglob(soname))) == 1
    assert "libavcodec.so.59" in copied and "libopencv_core.so.406" in copied


def test_runtime_libs_with_avdevice_add_its_closure_for_testsrc(framering_bin, tmp_path):
    plain, _, _ = runtime_libs(framering_bin, tmp_path / "plain")
    with_avdevice, _, _ = runtime_libs(framering_bin, tmp_path / "avdevice", "--with-avdevice")
    extra = set(with_avdevice) - set(plain)
    assert {"libavdevice.so.59", "libavfilter.so.8"} <= extra
    assert set(plain) <= set(with_avdevice)


def test_runtime_stage_copies_the_libraries_and_checks_them():
    steps = [(w, r) for s, w, r in instructions(DEPLOY / "Dockerfile") if s == 1]
    runs = " ".join(r for w, r in steps if w == "RUN")
    installs = re.findall(r"apt-get install -y -q --no-install-recommends ([^&]+)", runs)
    assert [i.split() for i in installs] == [["curl"]], "the runtime stage installs curl and no library package"
    copies = [r for w, r in steps if w == "COPY"]
    assert "--from=build /out/root/ /" in copies
    assert "--from=build /out/runtime-libs.txt /usr/local/share/framering/runtime-libs.txt" in copies
    assert "--from=build /out/framering /usr/local/bin/framering" in copies
    assert "ldconfig" in runs and "grep 'not found'" in runs and "framering --version" in runs
    build = " ".join(r for s, w, r in instructions(DEPLOY / "Dockerfile") if s == 0 and w == "RUN")
    assert "deploy/runtime-libs.sh" in build and "/runtime-base-packages.txt" in build


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


def test_every_source_directory_cmake_builds_is_copied():
    """A directory the top-level CMakeLists.txt adds but the build stage never copies fails the
    image build (CMake: "not an existing directory") only when someone runs `make image`."""
    copied = set()
    for _, word, rest in instructions(DEPLOY / "Dockerfile"):
        if word == "COPY" and not rest.startswith("--from"):
            copied.update(rest.split()[:-1])
    added = re.findall(r"^\s*add_subdirectory\((\w+)\)", (ROOT / "CMakeLists.txt").read_text(),
                       re.M)
    assert added and set(added) <= copied, sorted(set(added) - copied)


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
