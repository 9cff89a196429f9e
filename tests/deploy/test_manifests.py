"""Proves that every overlay of deploy/k8s renders with kustomize, that every object matches its Kubernetes
or CRD schema, that the policy rules hold (pinned images, no privilege, probes and limits, secrets only
by reference) and that the manifests agree with the code: topics, ACLs, consumer groups, settings (the
four services' and the back office's), scaling bounds, migrations, network reachability (the back office
reaches the four APIs and nothing else: no database, no Kafka), the person tokens' keys. Each checker is
also shown to reject a bad object."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import re

import jsonschema
import pytest

from services.backoffice.settings import SERVICE_NAMES, BackofficeSettings
from shared.events import KEYS_TOPIC, TOPICS, dead_letter_topic
from shared.migrate import SERVICES
from shared.settings import ServiceSettings
from shared.topics import TOPIC_CONFIGS
from tests.deploy import checks
from tests.deploy.checks import K8S, KUBERNETES_VERSIONS, OVERLAYS, by_kind

IMAGE_NAME = "ghcr.io/kz-ledger/settlement-ledger"
KAFKA_CLUSTER = "ledger-kafka"
# What each service reads now or will read (the ACLs grant all of it from the start).
PLANNED_READS = {
    "contracts": {"invoicing", "claims"},
    "metering": {"contracts", "claims"},
    "invoicing": {"contracts", "metering", "claims"},
    "claims": {"contracts", "metering", "invoicing"},
}
OPERATOR_NAMESPACES = {"keda", "cnpg-system", "ingress-nginx", "observability", "kube-system"}
BACKOFFICE = "backoffice"
# what runs from the image: the four services and the back office
DEPLOYABLES = (*SERVICES, BACKOFFICE)


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request) -> tuple[str, list[dict]]:
    return request.param, checks.overlay(request.param)


def objects_of(rendered) -> list[dict]:
    return rendered[1]


def subscriptions_in_code(service: str) -> set[str]:
    """Topics the service's code subscribes to today."""
    definition = importlib.import_module(f"services.{service}.app").definition
    return set(definition.subscriptions)


def backoffice_settings(config: dict[str, str]) -> BackofficeSettings:
    """The back office's settings from its ConfigMap, with stand-ins for the two the Secret brings (production
    refuses to start without them)."""
    secrets = {"signing_key": "a key from the store", "people": [{
        "name": "aigul", "display_name": "Айгуль", "roles": ["treasury"],
        "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}]}
    return BackofficeSettings(**{k.removeprefix("BACKOFFICE_").lower(): v for k, v in config.items()}, **secrets)


def config_of(objects: list[dict], deployable: str) -> dict[str, str]:
    deployment = by_kind(objects, "Deployment")[deployable]
    name = deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"]
    return by_kind(objects, "ConfigMap")[name]["data"]


# ---- rendering and schemas ----------------------------------------------------------------------------
def test_base_and_overlays_render():
    base = checks.render(K8S / "base")
    assert base, "the base renders to nothing"
    for name in OVERLAYS:
        kinds = {}
        for obj in checks.overlay(name):
            kinds[obj["kind"]] = kinds.get(obj["kind"], 0) + 1
        for kind in ("Deployment", "Service", "ConfigMap", "PodDisruptionBudget"):
            assert kinds.get(kind) == len(DEPLOYABLES), (name, kind, kinds.get(kind))
        for kind in ("Job", "Cluster", "KafkaUser"):   # the back office has no database and no Kafka
            assert kinds.get(kind) == len(SERVICES), (name, kind, kinds.get(kind))
        # one account per deployable and one for the scheduled runs (periodic/runs.yaml): day close, prepayment
        # demands, month close, reconciliation acts, the ESF register
        assert kinds["ServiceAccount"] == len(DEPLOYABLES) + 1 and kinds["CronJob"] == 5, kinds
        assert kinds["KafkaTopic"] == 2 * len(SERVICES) + 2   # and the personal-data keys topic with its .dlq
        assert kinds["Kafka"] == 1 and kinds["Ingress"] == 1 and kinds["ObjectStore"] == 1
        assert kinds.get("Secret", 0) == 0


def test_kustomize_fails_on_a_broken_overlay(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - does-not-exist.yaml\n")
    with pytest.raises(RuntimeError, match="kustomize"):
        checks.render(tmp_path)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_matches_its_schema(rendered, version):
    errors = [e for obj in objects_of(rendered) for e in checks.schema_errors(obj, version)]
    assert errors == []


def test_base_objects_match_their_schemas():
    errors = [e for obj in checks.render(K8S / "base") for e in checks.schema_errors(obj, KUBERNETES_VERSIONS[-1])]
    assert errors == []


def _prod(kind: str, name: str) -> dict:
    return copy.deepcopy(by_kind(checks.overlay("prod"), kind)[name])


def _set(obj: dict, path: str, value) -> dict:
    *parents, leaf = path.split(".")
    node = obj
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if value is _DELETE:
        del node[leaf]
    else:
        node[int(leaf) if leaf.isdigit() else leaf] = value
    return obj


_DELETE = object()

BAD_OBJECTS = [
    # (kind, name, path, bad value, what the error mentions)
    ("Deployment", "contracts", "spec.replica", 2, "replica"),
    ("Deployment", "contracts", "spec.template.spec.containers.0.ports.0.containerPort", "8000", "containerPort"),
    ("Service", "contracts", "spec.ports.0.port", "eighty", "port"),
    ("KafkaTopic", "contracts-events-v1", "spec.partitions", "6", "partitions"),
    ("KafkaTopic", "contracts-events-v1", "metadata.labels", {}, "strimzi.io/cluster"),
    ("KafkaUser", "claims-kafka", "spec.authorization.acls.0.operation", "Write", "operation"),
    ("KafkaUser", "claims-kafka", "spec.authorization.acls.0.operations", ["Publish"], "Publish"),
    ("Kafka", KAFKA_CLUSTER, "spec.kafka.listeners.0.name", "tls-listener-1", "tls-listener-1"),
    ("KafkaNodePool", "dual-role", "spec.roles", ["broker", "zookeeper"], "zookeeper"),
    ("Cluster", "contracts-db", "spec.instance", 3, "instance"),
    ("Cluster", "contracts-db", "spec.postgresql.parameters.max_connections", 200, "max_connections"),
    ("ScheduledBackup", "contracts-db-nightly", "spec.schedule", "0 2 * * *", "schedule"),
    ("ObjectStore", "ledger-postgres-backups", "spec.retentionPolicy", "30 days", "retentionPolicy"),
    ("ScaledObject", "metering", "spec.triggers.0.metadata.allowIdleConsumers", False, "allowIdleConsumers"),
    ("ScaledObject", "metering", "spec.triggers.0.metadata.consumerGroup", _DELETE, "consumerGroup"),
    ("TriggerAuthentication", "metering-kafka", "spec.secretTargetRef.0.key", _DELETE, "key"),
    ("ExternalSecret", "contracts-app", "spec.refreshInterval", "hourly", "refreshInterval"),
    ("ExternalSecret", "contracts-app", "spec.secretStoreRef.kind", "Vault", "Vault"),
]


@pytest.mark.parametrize(("kind", "name", "path", "value", "mention"), BAD_OBJECTS,
                         ids=[f"{k}-{p}" for k, _, p, _, _ in BAD_OBJECTS])
def test_schema_validation_rejects_a_bad_object(kind, name, path, value, mention):
    good = _prod(kind, name)
    assert checks.schema_errors(good, KUBERNETES_VERSIONS[-1]) == []
    errors = checks.schema_errors(_set(good, path, value), KUBERNETES_VERSIONS[-1])
    assert errors and any(mention in e for e in errors), errors


def test_a_kind_without_a_schema_is_an_error():
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    assert "no schema" in checks.schema_errors(unknown, KUBERNETES_VERSIONS[-1])[0]
    future = {"apiVersion": "apps/v9", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {}}
    assert "no Kubernetes" in checks.schema_errors(future, KUBERNETES_VERSIONS[-1])[0]


def test_vendored_schemas_are_what_the_generator_writes():
    spec = importlib.util.spec_from_file_location("schema_generator", K8S / "schemas" / "generate.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    on_disk = {p.relative_to(K8S / "schemas").as_posix() for p in (K8S / "schemas").rglob("*.json")}
    assert on_disk == set(generator.FILES)
    for rel, schema in generator.FILES.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert (K8S / "schemas" / rel).read_text(encoding="utf-8") == generator.render(schema), rel


# ---- policy -------------------------------------------------------------------------------------------
def test_policy_holds(rendered):
    assert checks.policy_violations(objects_of(rendered)) == []


def _deployment() -> dict:
    return _prod("Deployment", "invoicing")


def _container(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]["containers"][0]


POLICY_BREACHES = {
    "latest tag": (lambda d: _container(d).update(image=f"{IMAGE_NAME}:latest"), "moving tag 'latest'"),
    "no tag": (lambda d: _container(d).update(image=IMAGE_NAME), "no tag"),
    "branch tag": (lambda d: _container(d).update(image=f"{IMAGE_NAME}:main"), "moving tag 'main'"),
    "privileged": (lambda d: _container(d)["securityContext"].update(privileged=True), "privileged"),
    "escalation": (lambda d: _container(d)["securityContext"].update(allowPrivilegeEscalation=True),
                   "allowPrivilegeEscalation"),
    "writable root": (lambda d: _container(d)["securityContext"].pop("readOnlyRootFilesystem"),
                      "readOnlyRootFilesystem"),
    "root user": (lambda d: (_container(d)["securityContext"].pop("runAsNonRoot"),
                             d["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot")), "runAsNonRoot"),
    "uid 0": (lambda d: _container(d)["securityContext"].update(runAsUser=0), "uid 0"),
    "capabilities": (lambda d: _container(d)["securityContext"]["capabilities"].update(add=["NET_ADMIN"]),
                     "adds capabilities"),
    "host network": (lambda d: d["spec"]["template"]["spec"].update(hostNetwork=True), "hostNetwork"),
    "host path": (lambda d: d["spec"]["template"]["spec"]["volumes"].append(
        {"name": "h", "hostPath": {"path": "/"}}), "hostPath"),
    "no liveness": (lambda d: _container(d).pop("livenessProbe"), "no livenessProbe"),
    "no readiness": (lambda d: _container(d).pop("readinessProbe"), "no readinessProbe"),
    "no memory limit": (lambda d: _container(d)["resources"]["limits"].pop("memory"), "no limits.memory"),
    "no cpu request": (lambda d: _container(d)["resources"]["requests"].pop("cpu"), "no requests.cpu"),
    "token mounted": (lambda d: d["spec"]["template"]["spec"].pop("automountServiceAccountToken"),
                      "automountServiceAccountToken"),
    "init container unsized": (lambda d: d["spec"]["template"]["spec"].__setitem__("initContainers", [
        {"name": "wait", "image": f"{IMAGE_NAME}:0.1.0", "securityContext": _container(d)["securityContext"]}]),
        "initContainer wait: no requests.cpu"),
}


def test_policy_accepts_the_unmodified_control():
    assert checks.policy_violations([_deployment()]) == []


@pytest.mark.parametrize("breach", sorted(POLICY_BREACHES))
def test_policy_rejects(breach):
    mutate, message = POLICY_BREACHES[breach]
    deployment = _deployment()
    mutate(deployment)
    problems = checks.policy_violations([deployment])
    assert any(message in p for p in problems), problems


def test_policy_rejects_secrets_in_clear_and_unpinned_operator_images():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"TOKENS": "{}"}}
    assert "secret values in a manifest" in checks.policy_violations([secret])[0]
    cluster = _prod("Cluster", "claims-db")
    cluster["spec"]["imageName"] = "ghcr.io/cloudnative-pg/postgresql:18"
    assert "is not a version" in checks.policy_violations([cluster])[0]
    cluster["spec"]["imageName"] = "ghcr.io/cloudnative-pg/postgresql"
    assert "no tag" in checks.policy_violations([cluster])[0]
    pool = _prod("KafkaNodePool", "dual-role")
    del pool["spec"]["resources"]["limits"]
    assert any("no limits.memory" in p for p in checks.policy_violations([pool]))


def test_probes_hit_the_health_endpoints(rendered):
    for name, deployment in by_kind(objects_of(rendered), "Deployment").items():
        container = _container(deployment)
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready", name
        assert container["startupProbe"]["httpGet"]["path"] == "/health/live", name
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert ports[container[probe]["httpGet"]["port"]] == 8000, (name, probe)


# ---- the manifests agree with the code -----------------------------------------------------------------
def test_one_workload_per_deployable_running_its_own_command(rendered):
    objects = objects_of(rendered)
    deployments, jobs = by_kind(objects, "Deployment"), by_kind(objects, "Job")
    assert set(deployments) == set(DEPLOYABLES)
    for deployable in DEPLOYABLES:
        container = _container(deployments[deployable])
        assert container["command"] == ["python", "-m", f"services.{deployable}"]
        assert container["image"] == _container(deployments[SERVICES[0]])["image"], "one image for all"
    assert f"{BACKOFFICE}-migrate" not in jobs, "the back office has no database to migrate"
    for service in SERVICES:
        container = _container(deployments[service])
        assert container["command"] == ["python", "-m", f"services.{service}"]
        assert container["image"].startswith(f"{IMAGE_NAME}:")
        migrate = jobs[f"{service}-migrate"]
        job_container = migrate["spec"]["template"]["spec"]["containers"][0]
        assert job_container["command"] == ["python", "-m", "shared.migrate", service]
        assert job_container["image"] == container["image"], "migrations must come from the release being rolled out"
        annotations = migrate["metadata"]["annotations"]
        assert annotations["argocd.argoproj.io/hook"] == "PreSync"
        assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
        assert migrate["spec"]["template"]["spec"]["restartPolicy"] == "Never"
        assert migrate["spec"]["backoffLimit"] <= 5 and migrate["spec"]["activeDeadlineSeconds"] > 0


def test_settings_are_the_services_settings(rendered):
    objects = objects_of(rendered)
    known = {name.upper() for name in ServiceSettings.model_fields}
    for service in SERVICES:
        prefix = f"{service.upper()}_"
        config = config_of(objects, service)
        container = _container(by_kind(objects, "Deployment")[service])
        secret_env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
        names = set(config) | set(secret_env)
        assert all(n.startswith(prefix) for n in names), names
        unknown = {n.removeprefix(prefix) for n in names} - known
        assert unknown == set(), f"{service}: settings the code does not read: {unknown}"
        from_store = {f"{prefix}DATABASE_URL", f"{prefix}TOKENS", f"{prefix}PERSON_TOKEN_PUBLIC_KEYS"}
        assert from_store <= set(secret_env)
        assert not from_store & set(config), "secrets (and the per-environment keys) in a ConfigMap"
        assert config[f"{prefix}HTTP_HOST"] == "0.0.0.0"
        assert int(config[f"{prefix}HTTP_PORT"]) == container["ports"][0]["containerPort"] == 8000
        assert config[f"{prefix}KAFKA_SECURITY_PROTOCOL"] == "SSL"
        assert config[f"{prefix}CREATE_TOPICS"] == "false", "topics are KafkaTopics; the KafkaUser may not create"
        # the values themselves pass the settings' own validation
        ServiceSettings(**{k.removeprefix(prefix).lower(): v for k, v in config.items()})


def test_settings_are_the_back_offices_settings(rendered):
    objects = objects_of(rendered)
    namespace = next(o["metadata"]["name"] for o in objects if o["kind"] == "Namespace")
    config = config_of(objects, BACKOFFICE)
    container = _container(by_kind(objects, "Deployment")[BACKOFFICE])
    secret_env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    names = set(config) | set(secret_env)
    assert all(n.startswith("BACKOFFICE_") for n in names), names
    # BackofficeSettings ignores unknown variables (extra="ignore"): a misspelt name would pass silently
    assert _unknown_settings(names, "BACKOFFICE_", BackofficeSettings) == set()
    assert secret_env == {"BACKOFFICE_SIGNING_KEY": {"name": "backoffice-app", "key": "SIGNING_KEY"},
                          "BACKOFFICE_PEOPLE": {"name": "backoffice-app", "key": "PEOPLE"}}
    assert not set(secret_env) & set(config), "secrets in a ConfigMap"
    assert config["BACKOFFICE_HOST"] == "0.0.0.0"
    assert int(config["BACKOFFICE_PORT"]) == container["ports"][0]["containerPort"] == 8000
    assert config["BACKOFFICE_ENVIRONMENT"] == "production"
    assert config["BACKOFFICE_SECURE_COOKIES"] == "true", "the session cookie over HTTPS only"
    # the values themselves pass the settings' own validation, with the Secret's two (production requires both)
    settings = backoffice_settings(config)
    assert settings.secure_cookies is True
    # each service by its Service's name in this namespace, on the Service's port 80, which leads to the API
    services = by_kind(objects, "Service")
    for service in SERVICE_NAMES:
        assert settings.service_url(service) == f"http://{service}.{namespace}.svc"
        assert [(p["port"], p["targetPort"]) for p in services[service]["spec"]["ports"]] == [(80, "http")]


def _unknown_settings(names: set[str], prefix: str, settings_class) -> set[str]:
    return {n.removeprefix(prefix) for n in names} - {name.upper() for name in settings_class.model_fields}


def test_the_back_offices_settings_check_catches_a_misspelt_setting():
    config = dict(config_of(checks.overlay("prod"), BACKOFFICE))
    assert _unknown_settings(set(config), "BACKOFFICE_", BackofficeSettings) == set()
    config["BACKOFFICE_SECURE_COOKIE"] = "true"
    assert _unknown_settings(set(config), "BACKOFFICE_", BackofficeSettings) == {"SECURE_COOKIE"}
    with pytest.raises(ValueError, match="environment"):
        BackofficeSettings(environment="staging")


def test_the_services_trust_the_key_the_back_office_signs_with(rendered):
    """The person tokens' private key (the back office's) and the public keys the four services trust come
    from the one entry of the secret store, so the pair is kept and rotated in one place."""
    objects = objects_of(rendered)
    external = by_kind(objects, "ExternalSecret")
    backoffice = external["backoffice-app"]["spec"]
    remote = {d["secretKey"]: d["remoteRef"] for d in backoffice["data"]}
    assert set(remote) == {"SIGNING_KEY", "PEOPLE"}
    entry = remote["SIGNING_KEY"]["key"]
    assert entry.endswith(f"/{BACKOFFICE}") and remote["PEOPLE"]["key"] == entry
    for service in SERVICES:
        prefix = service.upper()
        env = {e["name"]: e["valueFrom"]["secretKeyRef"]
               for e in _container(by_kind(objects, "Deployment")[service])["env"]}
        assert env[f"{prefix}_PERSON_TOKEN_PUBLIC_KEYS"] == {"name": f"{service}-app", "key": "PERSON_TOKEN_PUBLIC_KEYS"}
        spec = external[f"{service}-app"]["spec"]
        variable = re.fullmatch(r"\{\{ \.(\w+) \}\}", spec["target"]["template"]["data"]["PERSON_TOKEN_PUBLIC_KEYS"])
        assert variable, "the keys as stored, untouched"
        source = {d["secretKey"]: d["remoteRef"] for d in spec["data"]}[variable.group(1)]
        assert source == {"key": entry, "property": "public-keys"}, service
        assert source["property"] != remote["SIGNING_KEY"]["property"], "the services never hold the private key"


def test_settings_check_catches_a_misspelt_or_invalid_setting():
    config = dict(config_of(checks.overlay("prod"), "claims"))
    known = {name.upper() for name in ServiceSettings.model_fields}
    assert {k.removeprefix("CLAIMS_") for k in config} <= known
    config["CLAIMS_RELAY_BATCHSIZE"] = "100"
    assert {k.removeprefix("CLAIMS_") for k in config} - known == {"RELAY_BATCHSIZE"}
    with pytest.raises(ValueError, match="log_level"):
        ServiceSettings(log_level="VERBOSE")


def _mounts(deployment: dict) -> tuple[dict[str, tuple[str, str]], dict[str, dict]]:
    """({file path: (Secret, key)} of the secret files mounted, {mount path: volume}) of a Deployment."""
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    files, paths = {}, {}
    for mount in _container(deployment)["volumeMounts"]:
        volume = volumes[mount["name"]]
        paths[mount["mountPath"]] = volume
        for item in (volume.get("secret") or {}).get("items", []):
            files[f"{mount['mountPath']}/{item['path']}"] = (volume["secret"]["secretName"], item["key"])
    return files, paths


def test_kafka_files_are_mounted_where_the_settings_say(rendered):
    objects = objects_of(rendered)
    for service in SERVICES:
        prefix = service.upper()
        config = config_of(objects, service)
        mounted, _ = _mounts(by_kind(objects, "Deployment")[service])
        assert mounted[config[f"{prefix}_KAFKA_SSL_CAFILE"]] == (f"{KAFKA_CLUSTER}-cluster-ca-cert", "ca.crt")
        assert mounted[config[f"{prefix}_KAFKA_SSL_CERTFILE"]] == (f"{service}-kafka", "user.crt")
        assert mounted[config[f"{prefix}_KAFKA_SSL_KEYFILE"]] == (f"{service}-kafka", "user.key")


def test_topics_are_the_codes_topics_kept_for_replay(rendered):
    objects = objects_of(rendered)
    topics = {t["spec"]["topicName"]: t for t in by_kind(objects, "KafkaTopic").values()}
    expected = {*TOPICS.values(), KEYS_TOPIC}
    assert set(topics) == expected | {dead_letter_topic(t) for t in expected}
    for name, topic in topics.items():
        spec, config = topic["spec"], topic["spec"]["config"]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == KAFKA_CLUSTER
        assert spec["replicas"] == 3 and config["min.insync.replicas"] == 2, name
        assert config["unclean.leader.election.enable"] is False
        if name == KEYS_TOPIC:
            # one record per contract: compacted so a deleted key leaves the log, as the code creates it
            assert {k: str(v) for k, v in config.items() if k in TOPIC_CONFIGS[KEYS_TOPIC]} == TOPIC_CONFIGS[KEYS_TOPIC]
            continue
        assert config["cleanup.policy"] == "delete", f"{name}: compaction would drop all but the last event per contract"
        assert config["retention.ms"] == -1 and config["retention.bytes"] == -1, f"{name}: events must not expire"
    for service in SERVICES:
        partitions = int(config_of(objects, service)[f"{service.upper()}_TOPIC_PARTITIONS"])
        assert partitions == topics[TOPICS[service]]["spec"]["partitions"], service


def test_kafka_cluster_is_tls_only_with_acls_and_three_replicas(rendered):
    objects = objects_of(rendered)
    kafka = by_kind(objects, "Kafka")[KAFKA_CLUSTER]["spec"]["kafka"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", kafka["version"]) and kafka["metadataVersion"]
    assert [(listener["tls"], listener["authentication"]["type"]) for listener in kafka["listeners"]] == [(True, "tls")]
    assert kafka["authorization"]["type"] == "simple"
    assert kafka["config"]["auto.create.topics.enable"] is False
    assert kafka["config"]["min.insync.replicas"] == 2 and kafka["config"]["default.replication.factor"] == 3
    brokers = sum(p["spec"]["replicas"] for p in by_kind(objects, "KafkaNodePool").values() if "broker" in p["spec"]["roles"])
    controllers = sum(p["spec"]["replicas"] for p in by_kind(objects, "KafkaNodePool").values()
                      if "controller" in p["spec"]["roles"])
    assert brokers >= 3 and controllers % 2 == 1
    for kind in ("KafkaNodePool", "KafkaTopic", "KafkaUser"):
        for obj in by_kind(objects, kind).values():
            assert obj["metadata"]["labels"]["strimzi.io/cluster"] == KAFKA_CLUSTER, checks.ident(obj)
    port = kafka["listeners"][0]["port"]
    for service in SERVICES:
        bootstrap = config_of(objects, service)[f"{service.upper()}_KAFKA_BOOTSTRAP"]
        assert bootstrap.startswith(f"{KAFKA_CLUSTER}-kafka-bootstrap.") and bootstrap.endswith(f":{port}")


def acl_grants(user: dict) -> dict[str, set[tuple[str, str]]]:
    grants: dict[str, set[tuple[str, str]]] = {}
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        assert resource.get("patternType", "literal") == "literal", "no prefix or wildcard grants"
        assert acl.get("type", "allow") == "allow" and acl.get("host", "*") == "*"
        for operation in acl["operations"]:
            grants.setdefault(operation, set()).add((resource["type"], resource["name"]))
    return grants


def expected_grants(service: str) -> dict[str, set[tuple[str, str]]]:
    reads = {TOPICS[r] for r in PLANNED_READS[service]}
    # the personal-data keys: contracts owns and publishes them, the others keep copies
    keys_read = {KEYS_TOPIC} if importlib.import_module(f"services.{service}.app").definition.key_copies else set()
    reads |= keys_read
    writes = {TOPICS[service]} | {dead_letter_topic(t) for t in reads}
    writes |= {KEYS_TOPIC} if importlib.import_module(f"services.{service}.app").definition.owns_personal_keys else set()
    return {
        "Write": {("topic", t) for t in writes},
        "Read": {("topic", t) for t in reads} | {("group", service)},
        "Describe": {("topic", t) for t in writes | reads} | {("group", service)},
    }


def test_each_service_writes_only_its_topic_and_reads_what_it_subscribes(rendered):
    users = by_kind(objects_of(rendered), "KafkaUser")
    assert set(users) == {f"{s}-kafka" for s in SERVICES}
    for service in SERVICES:
        user = users[f"{service}-kafka"]
        assert user["spec"]["authentication"]["type"] == "tls"
        grants = acl_grants(user)
        assert grants == expected_grants(service), service
        read_topics = {name for kind, name in grants["Read"] if kind == "topic"}
        missing = subscriptions_in_code(service) - read_topics
        assert not missing, f"{service} subscribes to {missing} without a Read ACL"


def test_acl_check_catches_an_extra_grant():
    user = _prod("KafkaUser", "claims-kafka")
    user["spec"]["authorization"]["acls"].append(
        {"resource": {"type": "topic", "name": TOPICS["invoicing"], "patternType": "literal"}, "operations": ["Write"]})
    assert acl_grants(user) != expected_grants("claims")
    user["spec"]["authorization"]["acls"][-1]["resource"]["patternType"] = "prefix"
    with pytest.raises(AssertionError, match="prefix"):
        acl_grants(user)


def test_consumers_scale_by_lag_never_beyond_partitions(rendered):
    objects = objects_of(rendered)
    scaled = by_kind(objects, "ScaledObject")
    deployments = by_kind(objects, "Deployment")
    partitions = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in by_kind(objects, "KafkaTopic").values()}
    auths = by_kind(objects, "TriggerAuthentication")
    consumers = {s for s in SERVICES if subscriptions_in_code(s)}
    assert set(scaled) == consumers, "a service that consumes scales by lag; one that does not has fixed replicas"
    for service, obj in scaled.items():
        spec = obj["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": service}
        assert "replicas" not in deployments[service]["spec"], f"{service}: replicas would fight the autoscaler"
        topics = set()
        for trigger in spec["triggers"]:
            meta = trigger["metadata"]
            assert trigger["type"] == "kafka"
            assert meta["consumerGroup"] == service
            assert meta["allowIdleConsumers"] == "false" and meta["offsetResetPolicy"] == "earliest"
            assert meta["bootstrapServers"] == config_of(objects, service)[f"{service.upper()}_KAFKA_BOOTSTRAP"]
            assert meta["tls"] == "enable"
            refs = {r["parameter"]: r["name"] for r in auths[trigger["authenticationRef"]["name"]]["spec"]["secretTargetRef"]}
            assert refs == {"ca": f"{KAFKA_CLUSTER}-cluster-ca-cert", "cert": f"{service}-kafka", "key": f"{service}-kafka"}
            topics.add(meta["topic"])
        assert topics == subscriptions_in_code(service), f"{service}: scale on exactly the topics it consumes"
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= min(partitions[t] for t in topics)
        assert spec["fallback"]["replicas"] <= spec["maxReplicaCount"]
    for service in set(SERVICES) - consumers:
        assert deployments[service]["spec"]["replicas"] >= 1


def test_the_back_office_runs_one_replica_that_rolls_without_a_gap(rendered):
    """Its sessions live in its process: a second replica would not know the first one's sessions."""
    objects = objects_of(rendered)
    deployment = by_kind(objects, "Deployment")[BACKOFFICE]
    assert deployment["spec"]["replicas"] == 1
    assert not [s for s in by_kind(objects, "ScaledObject").values()
                if s["spec"]["scaleTargetRef"]["name"] == BACKOFFICE], "KEDA would add replicas"
    assert not [h for h in objects if h["kind"] == "HorizontalPodAutoscaler"]
    strategy = deployment["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate" and strategy["rollingUpdate"]["maxUnavailable"] == 0
    # not labelled as an API: the patches, the Kafka listener and the first deploy's steps that select the
    # services' API pods leave it out
    assert checks.pod_labels(deployment)["app.kubernetes.io/component"] != "api"


def test_every_deployment_has_a_disruption_budget_and_a_service(rendered):
    objects = objects_of(rendered)
    budgets, services = by_kind(objects, "PodDisruptionBudget"), by_kind(objects, "Service")
    for name, deployment in by_kind(objects, "Deployment").items():
        labels = checks.pod_labels(deployment)
        assert any(checks.selector_matches(b["spec"]["selector"], labels) for b in budgets.values()), name
        assert checks.selector_matches(deployment["spec"]["selector"], labels)
        service = services[name]
        assert checks.selector_matches({"matchLabels": service["spec"]["selector"]}, labels)
        assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_databases_one_per_service_with_backups(rendered):
    name, objects = rendered
    clusters = by_kind(objects, "Cluster")
    store = by_kind(objects, "ObjectStore")
    backups = by_kind(objects, "ScheduledBackup")
    assert set(clusters) == {f"{s}-db" for s in SERVICES}
    for service in SERVICES:
        spec = clusters[f"{service}-db"]["spec"]
        assert spec["bootstrap"]["initdb"]["database"] == spec["bootstrap"]["initdb"]["owner"] == service
        assert re.search(r":\d+\.\d+-", spec["imageName"]), "PostgreSQL minor version pinned"
        plugins = {p["name"]: p for p in spec["plugins"]}
        archiver = plugins["barman-cloud.cloudnative-pg.io"]
        assert archiver["isWALArchiver"] and archiver["parameters"]["barmanObjectName"] in store
        sync = spec["postgresql"].get("synchronous")
        if sync:
            assert sync["number"] < spec["instances"], "a synchronous standby needs an instance to be on"
        if name == "prod":
            assert spec["instances"] >= 3 and sync and sync["dataDurability"] == "required"
        nightly = [b for b in backups.values() if b["spec"]["cluster"]["name"] == f"{service}-db"]
        assert nightly and nightly[0]["spec"]["method"] == "plugin", service
    for obj in store.values():
        assert obj["spec"]["configuration"]["destinationPath"].startswith("s3://")


def test_dev_and_prod_back_up_to_different_buckets():
    paths = {name: {o["spec"]["configuration"]["destinationPath"]
                    for o in by_kind(checks.overlay(name), "ObjectStore").values()} for name in OVERLAYS}
    assert not paths["dev"] & paths["prod"]


def test_database_urls_point_at_each_services_own_database(rendered):
    objects = objects_of(rendered)
    external = by_kind(objects, "ExternalSecret")
    for service in SERVICES:
        # the pods as the app role, the migration Job as the owner, each with its own password
        for secret, role, password in ((f"{service}-app", f"{service}_app", "app-db-password"),
                                       (f"{service}-migrate", service, "db-password")):
            spec = external[secret]["spec"]
            assert re.fullmatch(rf"postgresql\+asyncpg://{role}:\{{\{{ \.password \| urlquery \}}\}}"
                                rf"@{service}-db-rw:5432/{service}\?ssl=require",
                                spec["target"]["template"]["data"]["DATABASE_URL"]), secret
            assert {d["secretKey"]: d["remoteRef"]["property"] for d in spec["data"]}["password"] == password, secret
        for secret, role in ((f"{service}-db-credentials", service), (f"{service}-app-db-credentials", f"{service}_app")):
            credentials = external[secret]["spec"]["target"]["template"]
            assert credentials["type"] == "kubernetes.io/basic-auth" and credentials["data"]["username"] == role


def test_the_pods_connect_as_the_app_role_and_only_the_migration_as_the_owner(rendered):
    objects = objects_of(rendered)
    deployments, jobs, clusters = by_kind(objects, "Deployment"), by_kind(objects, "Job"), by_kind(objects, "Cluster")
    for service in SERVICES:
        prefix = service.upper()
        env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in _container(deployments[service])["env"]}
        assert env[f"{prefix}_DATABASE_URL"] == {"name": f"{service}-app", "key": "DATABASE_URL"}
        assert f"{prefix}_MIGRATION_DATABASE_URL" not in env, "the pods never hold the owner's password"
        job_env = {e["name"]: e["valueFrom"]["secretKeyRef"]
                   for e in _container(jobs[f"{service}-migrate"])["env"] if "valueFrom" in e}
        assert job_env == {f"{prefix}_MIGRATION_DATABASE_URL": {"name": f"{service}-migrate", "key": "DATABASE_URL"}}
        # the app role exists before the migration (the owner may not create roles), with no power of its own
        roles = {r["name"]: r for r in clusters[f"{service}-db"]["spec"]["managed"]["roles"]}
        app = roles[f"{service}_app"]
        assert app["login"] and app["ensure"] == "present"
        assert not any(app.get(a) for a in ("superuser", "createdb", "createrole", "replication", "bypassrls"))
        assert app["passwordSecret"]["name"] == f"{service}-app-db-credentials"


def test_checkpoints_are_signed_with_a_mounted_key_onto_a_shared_volume(rendered):
    objects = objects_of(rendered)
    claims = by_kind(objects, "PersistentVolumeClaim")
    for service in SERVICES:
        prefix = service.upper()
        config = config_of(objects, service)
        files, paths = _mounts(by_kind(objects, "Deployment")[service])
        assert files[config[f"{prefix}_ANCHOR_SIGNING_KEY"]] == (f"{service}-anchor-key", "signing-key.pem")
        volume = paths[config[f"{prefix}_ANCHOR_DIR"]]
        claim = claims[volume["persistentVolumeClaim"]["claimName"]]
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"], "every replica may become the anchoring leader"


# ---- secrets ------------------------------------------------------------------------------------------
def test_every_secret_used_is_written_by_an_operator_from_a_reference(rendered):
    objects = objects_of(rendered)
    provided = checks.secrets_provided(objects)
    missing = [f"{where} -> {secret}" for obj in objects for where, secret in checks.secret_references(obj)
               if secret not in provided]
    assert missing == []
    for obj in by_kind(objects, "ExternalSecret").values():
        assert obj["spec"]["secretStoreRef"]["kind"] == "ClusterSecretStore"
        assert all(d["remoteRef"]["key"] for d in obj["spec"]["data"])


def test_secret_reference_check_catches_a_missing_secret():
    objects = checks.overlay("prod")
    objects = [o for o in objects if not (o["kind"] == "ExternalSecret" and o["metadata"]["name"] == "claims-app")]
    provided = checks.secrets_provided(objects)
    missing = {secret for obj in objects for _, secret in checks.secret_references(obj) if secret not in provided}
    assert missing == {"claims-app"}


def test_overlays_read_different_secret_stores():
    stores = {name: {o["spec"]["secretStoreRef"]["name"] for o in by_kind(checks.overlay(name), "ExternalSecret").values()}
              for name in OVERLAYS}
    assert all(len(s) == 1 for s in stores.values()) and stores["dev"] != stores["prod"]


# ---- network ------------------------------------------------------------------------------------------
NAMESPACES = {name: {"kubernetes.io/metadata.name": name} for name in OPERATOR_NAMESPACES}


def _pods(objects: list[dict]) -> dict[str, dict[str, str]]:
    return {checks.ident(o): checks.pod_labels(o) for o in objects if checks.pod_spec(o) is not None}


def test_every_pod_of_ours_is_fenced_in_both_directions(rendered):
    objects = objects_of(rendered)
    policies = list(by_kind(objects, "NetworkPolicy").values())
    for name, labels in _pods(objects).items():
        for direction in ("Ingress", "Egress"):
            assert any(checks.selector_matches(p["spec"]["podSelector"], labels)
                       and direction in p["spec"]["policyTypes"] for p in policies), f"{name}: no {direction} policy"


def test_each_service_reaches_only_its_database_kafka_and_the_collector(rendered):
    objects = objects_of(rendered)
    policies = list(by_kind(objects, "NetworkPolicy").values())
    broker = {"strimzi.io/cluster": KAFKA_CLUSTER, "strimzi.io/kind": "Kafka", "strimzi.io/broker-role": "true"}
    collector = {"app.kubernetes.io/component": "opentelemetry-collector"}
    dns = {"k8s-app": "kube-dns"}
    for service in SERVICES:
        api = checks.pod_labels(by_kind(objects, "Deployment")[service])
        migration = checks.pod_labels(by_kind(objects, "Job")[f"{service}-migrate"])
        for other in SERVICES:
            database = {"cnpg.io/cluster": f"{other}-db", "cnpg.io/instanceRole": "primary"}
            own = other == service
            assert checks.egress_allows(policies, api, database, 5432) is own, (service, other)
            assert checks.egress_allows(policies, migration, database, 5432) is own, (service, other)
            # and the database side agrees
            assert checks.ingress_allows(policies, database, api, 5432) is own, (service, other)
            assert checks.ingress_allows(policies, database, migration, 5432) is own, (service, other)
        assert checks.egress_allows(policies, api, broker, 9093)
        assert not checks.egress_allows(policies, api, broker, 9092), "only the TLS listener"
        assert not checks.egress_allows(policies, migration, broker, 9093), "migrations need no Kafka"
        assert checks.egress_allows(policies, api, collector, 4318, NAMESPACES["observability"])
        assert checks.egress_allows(policies, api, dns, 53, NAMESPACES["kube-system"])
        assert not checks.egress_allows(policies, api, {"app": "anything"}, 443, {"kubernetes.io/metadata.name": "x"})
        others = [checks.pod_labels(by_kind(objects, "Deployment")[o]) for o in SERVICES if o != service]
        assert not any(checks.egress_allows(policies, api, o, 8000) for o in others), "no service calls another"
        assert checks.ingress_allows(policies, api, {"app.kubernetes.io/name": "ingress-nginx"}, 8000,
                                     NAMESPACES["ingress-nginx"])
        assert not checks.ingress_allows(policies, api, others[0], 8000)
        backoffice = checks.pod_labels(by_kind(objects, "Deployment")[BACKOFFICE])
        assert checks.ingress_allows(policies, api, backoffice, 8000), "the back office calls every API"
        assert not checks.ingress_allows(policies, api, backoffice, 5432)


def _service_pods(objects: list[dict], url: str, namespace: str) -> tuple[dict[str, str], int]:
    """(labels of the pods, container port) a URL `http://<service>.<namespace>.svc[:port]` reaches."""
    match = re.fullmatch(rf"http://([a-z0-9-]+)\.{namespace}\.svc(?::(\d+))?", url)
    assert match, url
    service = by_kind(objects, "Service")[match.group(1)]
    port = next(p for p in service["spec"]["ports"] if p["port"] == int(match.group(2) or 80))
    pods = [d for d in by_kind(objects, "Deployment").values()
            if checks.selector_matches({"matchLabels": service["spec"]["selector"]}, checks.pod_labels(d))]
    assert len(pods) == 1, url
    container_ports = {p["name"]: p["containerPort"] for p in _container(pods[0])["ports"]}
    return checks.pod_labels(pods[0]), container_ports[port["targetPort"]]


def test_the_back_office_reaches_the_four_apis_and_nothing_else(rendered):
    objects = objects_of(rendered)
    namespace = next(o["metadata"]["name"] for o in objects if o["kind"] == "Namespace")
    policies = list(by_kind(objects, "NetworkPolicy").values())
    deployments = by_kind(objects, "Deployment")
    backoffice = checks.pod_labels(deployments[BACKOFFICE])
    settings = backoffice_settings(config_of(objects, BACKOFFICE))
    for service in SERVICE_NAMES:
        # the address it is configured with leads to pods and a port its policy and theirs both open
        api, port = _service_pods(objects, settings.service_url(service), namespace)
        assert api == checks.pod_labels(deployments[service]) and port == 8000
        assert checks.egress_allows(policies, backoffice, api, port), service
        assert checks.ingress_allows(policies, api, backoffice, port), service
        assert not checks.egress_allows(policies, backoffice, api, 9000), "the API's port only"
        migration = checks.pod_labels(by_kind(objects, "Job")[f"{service}-migrate"])
        assert not checks.egress_allows(policies, backoffice, migration, 8000)
    assert checks.egress_allows(policies, backoffice, {"k8s-app": "kube-dns"}, 53, NAMESPACES["kube-system"])
    collector = {"app.kubernetes.io/component": "opentelemetry-collector"}
    assert not checks.egress_allows(policies, backoffice, collector, 4318, NAMESPACES["observability"]), \
        "it exports no traces"
    assert not checks.egress_allows(policies, backoffice, {"app": "anything"}, 443, {"kubernetes.io/metadata.name": "x"})
    assert not checks.egress_allows(policies, backoffice, {"app.kubernetes.io/component": "api"}, 8000,
                                    {"kubernetes.io/metadata.name": "elsewhere"}), "the APIs of this namespace only"
    # only the ingress controller reaches it, on its port
    controller = {"app.kubernetes.io/name": "ingress-nginx"}
    assert checks.ingress_allows(policies, backoffice, controller, 8000, NAMESPACES["ingress-nginx"])
    assert not checks.ingress_allows(policies, backoffice, controller, 9000, NAMESPACES["ingress-nginx"])
    assert not any(checks.ingress_allows(policies, backoffice, checks.pod_labels(deployments[s]), 8000)
                   for s in SERVICES)
    # and the namespace's default deny holds it too, should its own policy be removed
    deny = by_kind(objects, "NetworkPolicy")["ledger-default-deny"]
    assert checks.selector_matches(deny["spec"]["podSelector"], backoffice)


def test_the_back_office_cannot_reach_any_database_or_kafka(rendered):
    objects = objects_of(rendered)
    policies = list(by_kind(objects, "NetworkPolicy").values())
    backoffice_deployment = by_kind(objects, "Deployment")[BACKOFFICE]
    backoffice = checks.pod_labels(backoffice_deployment)
    for cluster in by_kind(objects, "Cluster"):
        for role in ("primary", "replica"):
            database = {"cnpg.io/cluster": cluster, "cnpg.io/instanceRole": role}
            assert not checks.egress_allows(policies, backoffice, database, 5432), cluster
            assert not checks.ingress_allows(policies, database, backoffice, 5432), cluster
    broker = {"strimzi.io/cluster": KAFKA_CLUSTER, "strimzi.io/kind": "Kafka", "strimzi.io/broker-role": "true"}
    for port in (9092, 9093):
        assert not checks.egress_allows(policies, backoffice, broker, port)
    # the brokers' side (the NetworkPolicy Strimzi writes from networkPolicyPeers) does not admit it either
    peers = by_kind(objects, "Kafka")[KAFKA_CLUSTER]["spec"]["kafka"]["listeners"][0]["networkPolicyPeers"]
    listener = [{"spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                          "ingress": [{"from": peers, "ports": [{"port": 9093}]}]}}]
    assert not checks.ingress_allows(listener, {}, backoffice, 9093)
    # ... which it would, were its pods labelled like the APIs': the check can fail
    assert checks.ingress_allows(listener, {}, {**backoffice, "app.kubernetes.io/component": "api"}, 9093)
    # nor does it hold anything to connect with: no database URL, no Kafka setting, no certificate
    names = set(config_of(objects, BACKOFFICE)) | {e["name"] for e in _container(backoffice_deployment)["env"]}
    assert not [n for n in names if "DATABASE" in n or "KAFKA" in n]
    assert {secret for _, secret in checks.secret_references(backoffice_deployment)} == {"backoffice-app"}


def test_the_back_office_fence_check_catches_an_opening():
    objects = checks.overlay("prod")
    policy = by_kind(objects, "NetworkPolicy")["backoffice-web"]
    backoffice = checks.pod_labels(by_kind(objects, "Deployment")[BACKOFFICE])
    database = {"cnpg.io/cluster": "invoicing-db", "cnpg.io/instanceRole": "primary"}
    assert not checks.egress_allows([policy], backoffice, database, 5432)
    policy["spec"]["egress"][0]["ports"].append({"protocol": "TCP", "port": 5432})
    policy["spec"]["egress"][0]["to"].append({"podSelector": {"matchLabels": {"cnpg.io/cluster": "invoicing-db"}}})
    assert checks.egress_allows([policy], backoffice, database, 5432)


def test_the_scheduled_runs_call_ledger_run_in_astana_time_and_reach_only_the_services_apis(rendered):
    from ledger_cli.main import periodic

    objects = objects_of(rendered)
    policies = list(by_kind(objects, "NetworkPolicy").values())
    scheduled = by_kind(objects, "CronJob")
    assert set(scheduled) == {"day-close", "prepayment-demands", "month-close", "reconciliation-acts", "esf-register"}
    commands = {command.name for command in periodic.registered_commands}
    for job in scheduled.values():
        assert (job["spec"]["timeZone"], job["spec"]["concurrencyPolicy"]) == ("Asia/Almaty", "Forbid")
        container = checks.pod_spec(job)["containers"][0]
        assert container["command"][:4] == ["python", "-m", "ledger_cli.main", "run"]
        assert container["command"][4] in commands and "--json" in container["command"]
        env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container["env"]}
        assert env["LEDGER_TOKEN"] == {"name": "ledger-runs", "key": "TOKEN"}
    run = checks.pod_labels(scheduled["day-close"])
    for service in SERVICES:
        api = checks.pod_labels(by_kind(objects, "Deployment")[service])
        database = {"cnpg.io/cluster": f"{service}-db", "cnpg.io/instanceRole": "primary"}
        assert checks.egress_allows(policies, run, api, 8000) and checks.ingress_allows(policies, api, run, 8000)
        assert not checks.egress_allows(policies, run, database, 5432), "a run talks to the APIs only"
    assert not checks.egress_allows(policies, run, {"strimzi.io/cluster": KAFKA_CLUSTER}, 9093)


def test_the_esf_register_is_reported_on_the_15th_and_the_19th_before_the_20th_deadline(rendered):
    """§5.5 the ESFs of a month are due by the 20th of the next: the register of the last month over is printed
    twice before that day (the 15th, the 19th) in Astana's working morning, as a report that records nothing."""
    job = by_kind(objects_of(rendered), "CronJob")["esf-register"]
    minute, hour, days, month, weekday = job["spec"]["schedule"].split()
    assert (minute, hour, sorted(int(d) for d in days.split(",")), month, weekday) == ("0", "9", [15, 19], "*", "*")
    assert all(int(day) < 20 for day in days.split(","))
    container = checks.pod_spec(job)["containers"][0]
    assert container["command"][4:] == ["esf-register", "--json"]   # the last month over, judged today
    assert "volumeMounts" not in container or all(m["name"] == "tmp" for m in container["volumeMounts"])


def test_network_check_catches_an_open_egress():
    objects = checks.overlay("prod")
    policy = by_kind(objects, "NetworkPolicy")["claims-api"]
    api = checks.pod_labels(by_kind(objects, "Deployment")["claims"])
    other_db = {"cnpg.io/cluster": "invoicing-db"}
    assert not checks.egress_allows([policy], api, other_db, 5432)
    policy["spec"]["egress"].append({"ports": [{"protocol": "TCP", "port": 5432}]})
    assert checks.egress_allows([policy], api, other_db, 5432)


def test_kafka_listener_admits_only_the_services_and_keda(rendered):
    objects = objects_of(rendered)
    peers = by_kind(objects, "Kafka")[KAFKA_CLUSTER]["spec"]["kafka"]["listeners"][0]["networkPolicyPeers"]
    fake_policy = [{"spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                             "ingress": [{"from": peers, "ports": [{"port": 9093}]}]}}]
    for service in SERVICES:
        api = checks.pod_labels(by_kind(objects, "Deployment")[service])
        migration = checks.pod_labels(by_kind(objects, "Job")[f"{service}-migrate"])
        assert checks.ingress_allows(fake_policy, {}, api, 9093)
        assert not checks.ingress_allows(fake_policy, {}, migration, 9093)
    keda = {"app.kubernetes.io/name": "keda-operator"}
    assert checks.ingress_allows(fake_policy, {}, keda, 9093, {"kubernetes.io/metadata.name": "keda"})
    assert not checks.ingress_allows(fake_policy, {}, {"app": "x"}, 9093)


def test_namespace_is_one_and_service_addresses_name_it(rendered):
    objects = objects_of(rendered)
    namespaces = [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"]
    assert len(namespaces) == 1
    namespace = namespaces[0]
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == namespace, checks.ident(obj)
    text = json.dumps(objects)
    for host in set(re.findall(r"[a-z0-9-]+\.([a-z0-9-]+)\.svc\b", text)):
        assert host == namespace or host in OPERATOR_NAMESPACES, f"an address names the namespace {host!r}"


# ---- the back office's entry point ---------------------------------------------------------------------
def test_ingress_serves_the_back_office_and_every_api_over_tls(rendered):
    objects = objects_of(rendered)
    ingress = by_kind(objects, "Ingress")["back-office"]
    services = by_kind(objects, "Service")
    tls_hosts = {h for t in ingress["spec"]["tls"] for h in t["hosts"]}
    routed = {}
    for rule in ingress["spec"]["rules"]:
        assert rule["host"] in tls_hosts, f"{rule['host']} is served without TLS"
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            port_names = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
            assert backend["port"]["name"] in port_names
            assert path["path"] == "/" and path["pathType"] == "Prefix", "docs and openapi.json live at the root"
            routed[backend["name"]] = rule["host"]
    assert set(routed) == set(DEPLOYABLES)
    assert len(set(routed.values())) == len(DEPLOYABLES), "a host each"
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"


def test_sizes_differ_where_they_should():
    dev, prod = checks.overlay("dev"), checks.overlay("prod")
    # every service consumes since contracts reads the ledger's notices: all four scale by lag; the back
    # office does not (one replica)
    assert set(by_kind(prod, "ScaledObject")) == set(SERVICES)
    assert set(by_kind(prod, "Deployment")) == set(DEPLOYABLES)
    assert all(s["spec"]["minReplicaCount"] >= 3 for s in by_kind(prod, "ScaledObject").values())
    assert all(s["spec"]["minReplicaCount"] < 3 for s in by_kind(dev, "ScaledObject").values())
    assert all(c["spec"]["instances"] == 1 for c in by_kind(dev, "Cluster").values())
    hosts = {name: {r["host"] for r in by_kind(checks.overlay(name), "Ingress")["back-office"]["spec"]["rules"]}
             for name in OVERLAYS}
    assert not hosts["dev"] & hosts["prod"]
    # the back office is sized per environment, apart from the services (it is not an API pod)
    sizes = {name: {d: _container(o)["resources"] for d, o in by_kind(checks.overlay(name), "Deployment").items()}
             for name in OVERLAYS}
    for name in OVERLAYS:
        assert sizes[name][BACKOFFICE] != sizes[name]["contracts"], name
    assert sizes["dev"][BACKOFFICE] != sizes["prod"][BACKOFFICE]
