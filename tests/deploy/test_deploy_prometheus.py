"""deploy/prometheus: promtool accepts the configs and rules, the rule unit tests pass, every
framering process of compose.yaml and the k8s pods is scraped, and every PromQL expression of
the dashboard parses."""
import re
import shutil
import subprocess

import pytest
import yaml

from deploy_helpers import (DEPLOY, alert_rules, dashboard_exprs, framering_services, grafana_to_promql,
                            kustomize, option)

PROM = DEPLOY / "prometheus"


def promtool(*args, cwd=None):
    out = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60, cwd=cwd)
    assert out.returncode == 0, f"promtool {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def test_compose_config_is_valid():
    promtool("check", "config", str(PROM / "prometheus.yml"))


def test_rules_are_valid():
    assert "7 rules found" in promtool("check", "rules", str(PROM / "rules" / "framering.yml"))


def test_rule_unit_tests_pass():
    assert "SUCCESS" in promtool("test", "rules", str(PROM / "tests" / "framering_test.yml"))


def test_every_alert_has_a_firing_and_a_quiet_unit_test():
    tests = yaml.safe_load((PROM / "tests" / "framering_test.yml").read_text())["tests"]
    firing, quiet = set(), set()
    for t in tests:
        for case in t.get("alert_rule_test", []):
            (firing if case["exp_alerts"] else quiet).add(case["alertname"])
    names = {r["alert"] for r in alert_rules()}
    assert names - firing == set(), "alerts without a firing test"
    assert names - quiet == set(), "alerts without a not-firing test"


def test_kubernetes_config_is_valid(tmp_path):
    # Debian's promtool is built without Kubernetes service discovery, so the discovery blocks
    # become static targets here; everything else (relabelling, rule files) is checked as is.
    doc = yaml.safe_load((PROM / "prometheus-kubernetes.yml").read_text())
    for job in doc["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}], job["job_name"]
        job["static_configs"] = [{"targets": ["pod:9464"]}]
    (tmp_path / "rules").mkdir()
    shutil.copy(PROM / "rules" / "framering.yml", tmp_path / "rules" / "framering.yml")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(doc))
    out = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert "7 rules found" in out


def test_compose_scrapes_every_framering_service():
    doc = yaml.safe_load((PROM / "prometheus.yml").read_text())
    targets = {job["job_name"]: {t for sc in job.get("static_configs", []) for t in sc["targets"]}
               for job in doc["scrape_configs"]}
    for name, svc in framering_services().items():
        port = option(svc["command"], "--metrics-addr").rsplit(":", 1)[1]
        job = "framering-ingest" if svc["command"][0] == "ingest" else "framering-worker"
        assert f"{name}:{port}" in targets.get(job, set()), f"compose service {name} is not scraped by {job}"


def _keep_regexes(job):
    keep, drop = [], []
    for rc in job["relabel_configs"]:
        if rc.get("source_labels") == ["__meta_kubernetes_pod_container_port_name"]:
            (keep if rc["action"] == "keep" else drop).append(re.compile(rc["regex"]))
    return keep, drop


@pytest.mark.parametrize("path", ["base", "overlays/two-cameras"])
def test_kubernetes_jobs_select_the_pods_metrics_ports(path):
    doc = yaml.safe_load((PROM / "prometheus-kubernetes.yml").read_text())
    jobs = {j["job_name"]: _keep_regexes(j) for j in doc["scrape_configs"]}

    def scraped_by(port_name):
        return {name for name, (keep, drop) in jobs.items()
                if all(r.fullmatch(port_name) for r in keep) and not any(r.fullmatch(port_name) for r in drop)}

    deployments = [d for d in kustomize(DEPLOY / "k8s" / path) if d["kind"] == "Deployment"]
    assert deployments
    for d in deployments:
        pod = d["spec"]["template"]
        assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
        for c in pod["spec"]["containers"]:
            ports = [p["name"] for p in c["ports"]]
            expected = "framering-ingest" if c["args"][0] == "ingest" else "framering-worker"
            assert [scraped_by(p) for p in ports] == [{expected}], f"{d['metadata']['name']}/{c['name']}"


def test_dashboard_and_alert_expressions_parse(tmp_path):
    # promtool parses every expression of a rule file: the dashboard's queries go in as
    # recording rules, Grafana's variables replaced by plain values.
    rules = [{"record": f"dashboard:query_{i}", "expr": grafana_to_promql(expr)}
             for i, (_, expr) in enumerate(dashboard_exprs()) if not expr.startswith("label_values(")]
    assert len(rules) >= 10
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    promtool("check", "rules", str(tmp_path / "dashboard.yml"))


def test_podmonitors_scrape_every_metrics_port_with_the_rules_job_names():
    monitors = [d for d in kustomize(DEPLOY / "k8s" / "monitoring") if d["kind"] == "PodMonitor"]
    job_of_port = {}
    for m in monitors:
        for ep in m["spec"]["podMetricsEndpoints"]:
            jobs = [r["replacement"] for r in ep["relabelings"] if r.get("targetLabel") == "job"]
            job_of_port[ep["port"]] = jobs[0]
    rule_jobs = set(re.findall(r'job="([^"]+)"', " ".join(r["expr"] for r in alert_rules())))
    assert set(job_of_port.values()) == rule_jobs
    for d in kustomize(DEPLOY / "k8s" / "overlays" / "two-cameras"):
        if d["kind"] != "Deployment":
            continue
        labels = d["spec"]["template"]["metadata"]["labels"]
        for m in monitors:
            assert m["spec"]["selector"]["matchLabels"].items() <= labels.items()
        for c in d["spec"]["template"]["spec"]["containers"]:
            expected = "framering-ingest" if c["args"][0] == "ingest" else "framering-worker"
            assert [job_of_port.get(p["name"]) for p in c["ports"]] == [expected], c["name"]
