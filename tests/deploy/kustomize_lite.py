"""The part of kustomize that deploy/k8s uses, in plain Python, so the Kubernetes checks run on
every machine: Debian 12 has no kubectl recent enough to render these manifests (its
kubernetes-client is 1.20, whose kustomize rejects `labels:`).

Supported kustomization fields: resources (files and directories), nameSuffix, namePrefix,
namespace, labels (pairs, includeSelectors, includeTemplates), commonLabels, commonAnnotations,
images, configMapGenerator/secretGenerator (literals; behaviors create, merge, replace). A field
outside this set fails the render by name: extend this module (and its parity test against a real
kustomize) rather than let a check silently ignore part of a manifest. Generated names carry no
content hash (as with `generatorOptions: disableNameSuffixHash: true`); references to them are
renamed consistently, which is what the checks rely on.
"""
import copy
import pathlib

import yaml

KNOWN_FIELDS = {"apiVersion", "kind", "resources", "nameSuffix", "namePrefix", "namespace", "labels",
                "commonLabels", "commonAnnotations", "images", "configMapGenerator", "secretGenerator"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
# Where kustomize puts selector labels (its commonLabels field specs for the kinds used here).
SELECTOR_PATHS = {
    "Deployment": [("spec", "selector", "matchLabels")],
    "StatefulSet": [("spec", "selector", "matchLabels")],
    "DaemonSet": [("spec", "selector", "matchLabels")],
    "ReplicaSet": [("spec", "selector", "matchLabels")],
    "Service": [("spec", "selector")],
    "PodDisruptionBudget": [("spec", "selector", "matchLabels")],
    "NetworkPolicy": [("spec", "podSelector", "matchLabels")],
}
NETWORK_POLICY_PEERS = [("ingress", "from"), ("egress", "to")]
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "PersistentVolume", "StorageClass", "PriorityClass"}


class KustomizeError(AssertionError):
    pass


def render(path):
    """The documents `kubectl kustomize PATH` would print (without name hashes), in order."""
    return [r["doc"] for r in _build(pathlib.Path(path).resolve())]


def _load_kustomization(directory):
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        f = directory / name
        if f.is_file():
            k = yaml.safe_load(f.read_text()) or {}
            unknown = set(k) - KNOWN_FIELDS
            if unknown:
                raise KustomizeError(f"{f}: kustomize_lite does not understand {sorted(unknown)}; "
                                     "extend tests/deploy/kustomize_lite.py")
            return f, k
    raise KustomizeError(f"{directory}: no kustomization.yaml")


def _build(directory):
    """Resources of one kustomization: [{'doc': ..., 'orig': original name}], transformed."""
    kfile, k = _load_kustomization(directory)
    resources = []
    for entry in k.get("resources", []):
        target = (directory / entry).resolve()
        if target.is_dir():
            resources.extend(_build(target))
        elif target.is_file():
            for doc in yaml.safe_load_all(target.read_text()):
                if doc:
                    resources.append({"doc": doc, "orig": doc["metadata"]["name"]})
        else:
            raise KustomizeError(f"{kfile}: resource {entry} does not exist")
    for field, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        for gen in k.get(field, []):
            _generate(resources, gen, kind, kfile)
    renames = {}
    for r in resources:
        doc = r["doc"]
        meta = doc["metadata"]
        old = meta["name"]
        if doc["kind"] != "CustomResourceDefinition":
            meta["name"] = k.get("namePrefix", "") + old + k.get("nameSuffix", "")
        renames[(doc["kind"], old)] = meta["name"]
        if "namespace" in k and doc["kind"] not in CLUSTER_SCOPED:
            meta["namespace"] = k["namespace"]
    for r in resources:
        _rename_references(r["doc"], renames)
    label_sets = [(g.get("pairs", {}), g.get("includeSelectors", False), g.get("includeTemplates", False))
                  for g in k.get("labels", [])]
    if k.get("commonLabels"):
        label_sets.append((k["commonLabels"], True, True))
    for pairs, selectors, templates in label_sets:
        for r in resources:
            _add_labels(r["doc"], pairs, selectors, templates or selectors)
    for r in resources:
        if k.get("commonAnnotations"):
            r["doc"]["metadata"].setdefault("annotations", {}).update(k["commonAnnotations"])
            template = _template(r["doc"])
            if template is not None:
                template.setdefault("metadata", {}).setdefault("annotations", {}).update(k["commonAnnotations"])
        for image in k.get("images", []):
            _set_image(r["doc"], image)
    return resources


def _generate(resources, gen, kind, kfile):
    unknown = set(gen) - {"name", "behavior", "literals"}
    if unknown:
        raise KustomizeError(f"{kfile}: generator {gen.get('name')}: kustomize_lite does not "
                             f"understand {sorted(unknown)}; extend tests/deploy/kustomize_lite.py")
    data = {}
    for literal in gen.get("literals", []):
        key, sep, value = literal.partition("=")
        if not sep:
            raise KustomizeError(f"{kfile}: literal {literal!r} is not KEY=VALUE")
        data[key] = value
    behavior = gen.get("behavior", "create")
    existing = [r for r in resources if r["doc"]["kind"] == kind and r["doc"]["metadata"]["name"] == gen["name"]]
    if behavior == "create":
        if existing:
            raise KustomizeError(f"{kfile}: {kind} {gen['name']} exists already; use behavior: merge")
        resources.append({"doc": {"apiVersion": "v1", "kind": kind, "metadata": {"name": gen["name"]},
                                  "data": data}, "orig": gen["name"]})
        return
    if len(existing) != 1:
        raise KustomizeError(f"{kfile}: {behavior} of {kind} {gen['name']}, which no resource below creates")
    doc = existing[0]["doc"]
    doc["data"] = {**doc.get("data", {}), **data} if behavior == "merge" else data


def _template(doc):
    if doc["kind"] in WORKLOADS:
        return doc["spec"].setdefault("template", {})
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"].setdefault("template", {})
    return None


def _pod_spec(doc):
    template = _template(doc)
    return None if template is None else template.get("spec")


def _containers(doc):
    spec = _pod_spec(doc)
    if spec is None:
        return []
    return spec.get("initContainers", []) + spec.get("containers", [])


def _rename_references(doc, renames):
    def cm(name):
        return renames.get(("ConfigMap", name), name)

    def secret(name):
        return renames.get(("Secret", name), name)

    for c in _containers(doc):
        for ref in c.get("envFrom", []):
            if "configMapRef" in ref:
                ref["configMapRef"]["name"] = cm(ref["configMapRef"]["name"])
            if "secretRef" in ref:
                ref["secretRef"]["name"] = secret(ref["secretRef"]["name"])
        for e in c.get("env", []):
            source = e.get("valueFrom", {})
            if "configMapKeyRef" in source:
                source["configMapKeyRef"]["name"] = cm(source["configMapKeyRef"]["name"])
            if "secretKeyRef" in source:
                source["secretKeyRef"]["name"] = secret(source["secretKeyRef"]["name"])
    spec = _pod_spec(doc) or {}
    for v in spec.get("volumes", []):
        if "configMap" in v:
            v["configMap"]["name"] = cm(v["configMap"]["name"])
        if "secret" in v:
            v["secret"]["secretName"] = secret(v["secret"]["secretName"])
    if doc["kind"] == "Service" and doc.get("spec", {}).get("type") == "ExternalName":
        return


def _at(doc, path):
    node = doc
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    if not isinstance(node, dict):
        return None
    if node.get(path[-1]) is None:
        node[path[-1]] = {}
    return node[path[-1]]


def _add_labels(doc, pairs, selectors, templates):
    doc["metadata"].setdefault("labels", {}).update(pairs)
    template = _template(doc)
    if templates and template is not None:
        template.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
    if not selectors:
        return
    for path in SELECTOR_PATHS.get(doc["kind"], []):
        target = _at(doc, path)
        if target is not None:
            target.update(pairs)
    if doc["kind"] == "NetworkPolicy":
        for direction, peer_key in NETWORK_POLICY_PEERS:
            for rule in doc["spec"].get(direction, []) or []:
                for peer in rule.get(peer_key, []) or []:
                    if "podSelector" in peer and peer["podSelector"] is not None:
                        peer["podSelector"].setdefault("matchLabels", {}).update(pairs)


def _set_image(doc, image):
    for c in _containers(doc):
        name, tag = c["image"], None
        if "@" not in name and ":" in name.rsplit("/", 1)[-1]:
            name, tag = name.rsplit(":", 1)
        if name != image["name"]:
            continue
        new_name = image.get("newName", name)
        new_tag = image.get("newTag", tag)
        c["image"] = f"{new_name}@{image['digest']}" if "digest" in image else \
            (f"{new_name}:{new_tag}" if new_tag else new_name)


def deepcopy(docs):
    return copy.deepcopy(docs)
