"""Writes the minimal JSON schemas of the custom resources that deploy/k8s uses (deploy/k8s/schemas/).

The CRDs of Strimzi, CloudNativePG, the Barman Cloud Plugin, KEDA and External Secrets Operator cannot
be downloaded when the tests run (no network), so their schemas are kept here, written for this
repository from the operators' documented API: at each level the manifests use, every documented
field name is listed (a typo fails), the fields the manifests use are typed with their enums, bounds
and required fields (a wrong value fails), and the rest is accepted as is. A manifest that starts
using a new field: type it here, then run

    python deploy/k8s/schemas/generate.py

tests/deploy/test_manifests.py checks that the JSON files are what this script writes.
"""

from __future__ import annotations

import json
import pathlib
import sys

OUT = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent
ANY = {}
STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
OBJ = {"type": "object"}
ARR = {"type": "array"}
STRMAP = {"type": "object", "additionalProperties": {"type": "string"}}
SCALAR_MAP = {"type": "object", "additionalProperties": {"type": ["string", "integer", "number", "boolean"]}}
NAME = {"type": "string", "minLength": 1, "maxLength": 253,
        "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"}
QUANTITY = {"type": ["string", "integer", "number"],
            "pattern": r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$"}
RESOURCES = {"type": "object", "additionalProperties": False, "properties": {
    "requests": {"type": "object", "additionalProperties": QUANTITY},
    "limits": {"type": "object", "additionalProperties": QUANTITY},
    "claims": ARR}}


def obj(props, required=(), strict=True, **extra):
    schema = {"type": "object", "properties": props}
    if required:
        schema["required"] = list(required)
    if strict:
        schema["additionalProperties"] = False
    schema.update(extra)
    return schema


def arr(items, **extra):
    return {"type": "array", "items": items, **extra}


def enum(*values):
    return {"type": "string", "enum": list(values)}


def names(*keys, **detailed):
    """All documented property names at one level: the detailed ones typed, the others accepted as is."""
    props = {key: ANY for key in keys}
    props.update(detailed)
    return props


SECRET_KEY_REF = obj({"name": NAME, "key": {"type": "string", "minLength": 1}}, required=("name", "key"))
LOCAL_REF = obj({"name": NAME}, required=("name",))


def resource(group_version, kind, spec, *, operator, required_labels=(), spec_required=True):
    labels = {"type": "object", "additionalProperties": {"type": "string"}}
    meta_required = ["name"]
    if required_labels:
        labels["required"] = list(required_labels)
        meta_required.append("labels")
    metadata = obj({"name": NAME, "namespace": NAME, "labels": labels, "annotations": STRMAP},
                   required=meta_required, strict=False)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://kz-ledger.example/schemas/{group_version}/{kind.lower()}.json",
        "title": f"{kind} ({group_version})",
        "description": (f"Minimal schema of {kind} for offline validation, written for this repository from the "
                        f"documented fields of {operator}. Every documented field name is accepted at the "
                        f"levels described; the fields this repository uses are typed, so a typo, a wrong "
                        f"type or a missing required field fails. Extend it when a manifest uses a new field."),
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": group_version},
            "kind": {"const": kind},
            "metadata": metadata,
            "spec": spec,
            "status": OBJ,
        },
    }


STRIMZI = "Strimzi 1.2 (kafka.strimzi.io/v1)"
CNPG = "CloudNativePG 1.30 (postgresql.cnpg.io/v1)"
BARMAN = "the CloudNativePG Barman Cloud Plugin 0.16 (barmancloud.cnpg.io/v1)"
KEDA = "KEDA 2.17+ (keda.sh/v1alpha1)"
ESO = "External Secrets Operator (external-secrets.io/v1)"

# ---- Strimzi ---------------------------------------------------------------------------------------
ACL_OPERATIONS = ["Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction", "AlterConfigs",
                  "DescribeConfigs", "IdempotentWrite", "All"]
kafka_listener = obj(names(
    "configuration",
    name={"type": "string", "pattern": r"^[a-z0-9]{1,11}$"},
    port={"type": "integer", "minimum": 9092},
    type=enum("internal", "route", "loadbalancer", "nodeport", "ingress", "cluster-ip"),
    tls=BOOL,
    authentication=obj(names("listenerConfig", "sasl", type=enum("tls", "scram-sha-512", "custom")),
                       required=("type",), strict=False),
    networkPolicyPeers=arr(obj({"podSelector": OBJ, "namespaceSelector": OBJ, "ipBlock": OBJ})),
), required=("name", "port", "type", "tls"))
entity_operator_part = obj(names(
    "image", "jvmOptions", "livenessProbe", "logging", "readinessProbe", "startupProbe",
    "watchedNamespace", "secretPrefix", reconciliationIntervalMs={"type": "integer", "minimum": 0},
    resources=RESOURCES))
kafka = resource("kafka.strimzi.io/v1", "Kafka", obj(names(
    "clientsCa", "clusterCa", "cruiseControl", "kafkaExporter", "maintenanceTimeWindows",
    kafka=obj(names(
        "brokerRackInitImage", "jmxOptions", "jvmOptions", "livenessProbe", "logging", "metricsConfig",
        "quotas", "rack", "readinessProbe", "template", "tieredStorage",
        version={"type": "string", "pattern": r"^[0-9]+\.[0-9]+\.[0-9]+$"},
        metadataVersion={"type": "string", "pattern": r"^[0-9]+\.[0-9]+(-IV[0-9]+)?$"},
        image=STR,
        listeners=arr(kafka_listener, minItems=1),
        authorization=obj(names("authorizerClass", "supportsAdminApi", type=enum("simple", "custom"),
                                superUsers=arr(STR)), required=("type",)),
        config=SCALAR_MAP,
    ), required=("listeners",)),
    entityOperator=obj(names("template", topicOperator=entity_operator_part, userOperator=entity_operator_part)),
), required=("kafka",)), operator=STRIMZI)

volume_props = dict(
    id={"type": "integer", "minimum": 0}, size=QUANTITY, sizeLimit=QUANTITY, deleteClaim=BOOL,
    kraftMetadata=enum("shared"), **{"class": STR}, selector=STRMAP, volumeAttributesClass=STR)
nodepool = resource("kafka.strimzi.io/v1", "KafkaNodePool", obj(names(
    "jvmOptions", "template",
    replicas={"type": "integer", "minimum": 0},
    roles=arr(enum("controller", "broker"), minItems=1, uniqueItems=True),
    storage=obj(dict(volume_props, type=enum("ephemeral", "persistent-claim", "jbod"),
                     volumes=arr(obj(dict(volume_props, type=enum("ephemeral", "persistent-claim")),
                                     required=("type",)))), required=("type",)),
    resources=RESOURCES,
), required=("replicas", "roles", "storage")), operator=STRIMZI, required_labels=("strimzi.io/cluster",))

topic = resource("kafka.strimzi.io/v1", "KafkaTopic", obj({
    "topicName": {"type": "string", "pattern": r"^[a-zA-Z0-9._-]{1,249}$"},
    "partitions": {"type": "integer", "minimum": 1},
    "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
    "config": SCALAR_MAP,
}), operator=STRIMZI, required_labels=("strimzi.io/cluster",))

acl = obj({
    "resource": obj({"type": enum("topic", "group", "cluster", "transactionalId"), "name": STR,
                     "patternType": enum("literal", "prefix")}, required=("type",)),
    "operations": arr(enum(*ACL_OPERATIONS), minItems=1, uniqueItems=True),
    "host": STR,
    "type": enum("allow", "deny"),
}, required=("resource", "operations"))
user = resource("kafka.strimzi.io/v1", "KafkaUser", obj(names(
    "quotas", "template",
    authentication=obj({"type": enum("tls", "tls-external", "scram-sha-512"), "password": OBJ},
                       required=("type",)),
    authorization=obj({"type": enum("simple"), "acls": arr(acl)}, required=("type", "acls")),
)), operator=STRIMZI, required_labels=("strimzi.io/cluster",))

# ---- CloudNativePG --------------------------------------------------------------------------------
CLUSTER_FIELDS = ["affinity", "backup", "bootstrap", "certificates", "description", "enablePDB",
                  "enableSuperuserAccess", "env", "envFrom", "ephemeralVolumeSource", "ephemeralVolumesSizeLimit",
                  "externalClusters", "failoverDelay", "imageCatalogRef", "imageName", "imagePullPolicy",
                  "imagePullSecrets", "inheritedMetadata", "instances", "livenessProbeTimeout", "logLevel",
                  "managed", "maxSyncReplicas", "minSyncReplicas", "monitoring", "nodeMaintenanceWindow", "plugins",
                  "podSecurityContext", "podSelectorRefs", "postgresGID", "postgresUID", "postgresql",
                  "primaryUpdateMethod", "primaryUpdateStrategy", "priorityClassName", "probes",
                  "projectedVolumeTemplate", "replica", "replicationSlots", "resources", "schedulerName",
                  "seccompProfile", "securityContext", "serviceAccountName", "serviceAccountTemplate",
                  "smartShutdownTimeout", "startDelay", "stopDelay", "storage", "superuserSecret",
                  "switchoverDelay", "tablespaces", "topologySpreadConstraints", "walStorage"]
storage = obj(names("pvcTemplate", size=QUANTITY, storageClass=STR, resizeInUseVolumes=BOOL))
cluster = resource("postgresql.cnpg.io/v1", "Cluster", obj(names(
    *CLUSTER_FIELDS,
    instances={"type": "integer", "minimum": 1},
    imageName={"type": "string", "minLength": 1},
    primaryUpdateStrategy=enum("unsupervised", "supervised"),
    primaryUpdateMethod=enum("switchover", "restart"),
    enableSuperuserAccess=BOOL,
    enablePDB=BOOL,
    logLevel=enum("error", "warning", "info", "debug", "trace"),
    postgresql=obj(names(
        "enableAlterSystem", "extensions", "ldap", "pg_hba", "pg_ident", "promotionTimeout",
        "shared_preload_libraries", "syncReplicaElectionConstraint",
        parameters=STRMAP,
        synchronous=obj(names("failoverQuorum", "maxStandbyNamesFromCluster", "standbyNamesPost",
                              "standbyNamesPre", method=enum("any", "first"), number={"type": "integer", "minimum": 1},
                              dataDurability=enum("required", "preferred")), required=("method", "number")),
    )),
    bootstrap=obj(names(
        "pg_basebackup", "recovery",
        initdb=obj(names(
            "builtinLocale", "encoding", "icuLocale", "icuRules", "import", "locale", "localeCType",
            "localeCollate", "localeProvider", "options", "postInitApplicationSQL", "postInitApplicationSQLRefs",
            "postInitSQL", "postInitSQLRefs", "postInitTemplateSQL", "postInitTemplateSQLRefs", "walSegmentSize",
            database=STR, owner=STR, dataChecksums=BOOL, secret=LOCAL_REF)),
    )),
    managed=obj(names("services", roles=arr(obj(names(
        "bypassrls", "comment", "connectionLimit", "createdb", "createrole", "disablePassword", "inRoles",
        "inherit", "replication", "superuser", "validUntil",
        name=STR, ensure=enum("present", "absent"), login=BOOL, passwordSecret=LOCAL_REF), required=("name",))))),
    storage=storage,
    walStorage=storage,
    resources=RESOURCES,
    affinity=obj(names("additionalPodAffinity", "additionalPodAntiAffinity", "nodeAffinity", "nodeSelector",
                       "tolerations", enablePodAntiAffinity=BOOL, topologyKey=STR,
                       podAntiAffinityType=enum("preferred", "required"))),
    plugins=arr(obj({"name": {"type": "string", "minLength": 1}, "enabled": BOOL, "isWALArchiver": BOOL,
                     "parameters": STRMAP}, required=("name",))),
), required=("instances",)), operator=CNPG)

scheduled = resource("postgresql.cnpg.io/v1", "ScheduledBackup", obj(names(
    "onlineConfiguration",
    # six fields (seconds first), unlike a CronJob, or a descriptor such as @daily
    schedule={"type": "string", "pattern": r"^(@[a-z]+|@every \S+|\S+( \S+){5})$"},
    cluster=LOCAL_REF,
    immediate=BOOL, suspend=BOOL, online=BOOL,
    backupOwnerReference=enum("none", "self", "cluster"),
    method=enum("barmanObjectStore", "volumeSnapshot", "plugin"),
    pluginConfiguration=obj({"name": STR, "parameters": STRMAP}, required=("name",)),
    target=enum("primary", "prefer-standby"),
), required=("cluster", "schedule")), operator=CNPG)

objectstore = resource("barmancloud.cnpg.io/v1", "ObjectStore", obj({
    "retentionPolicy": {"type": "string", "pattern": r"^[1-9][0-9]*[dwm]$"},
    "configuration": obj(names(
        "azureCredentials", "endpointCA", "googleCredentials", "historyTags", "tags",
        destinationPath={"type": "string", "pattern": r"^(s3|gs|https?)://\S+$"},
        endpointURL={"type": "string", "pattern": r"^https?://\S+$"},
        serverName={"const": ""},
        s3Credentials=obj({"accessKeyId": SECRET_KEY_REF, "secretAccessKey": SECRET_KEY_REF,
                           "region": SECRET_KEY_REF, "sessionToken": SECRET_KEY_REF, "inheritFromIAMRole": BOOL}),
        wal=obj(names("archiveAdditionalCommandArgs", "restoreAdditionalCommandArgs",
                      compression=enum("bzip2", "gzip", "lz4", "snappy", "xz", "zstd"),
                      encryption=enum("AES256", "aws:kms"), maxParallel={"type": "integer", "minimum": 1})),
        data=obj(names("additionalCommandArgs", "immediateCheckpoint",
                       compression=enum("bzip2", "gzip", "snappy"), encryption=enum("AES256", "aws:kms"),
                       jobs={"type": "integer", "minimum": 1})),
    ), required=("destinationPath",)),
    "instanceSidecarConfiguration": obj({"env": ARR, "resources": RESOURCES,
                                         "retentionPolicyIntervalSeconds": INT}),
}, required=("configuration",)), operator=BARMAN)

# ---- KEDA -----------------------------------------------------------------------------------------
KAFKA_TRIGGER_METADATA = {
    "type": "object",
    "required": ["bootstrapServers", "consumerGroup"],
    "properties": {
        "lagThreshold": {"type": "string", "pattern": r"^[0-9]+$"},
        "activationLagThreshold": {"type": "string", "pattern": r"^[0-9]+$"},
        "offsetResetPolicy": enum("earliest", "latest"),
        "allowIdleConsumers": enum("true", "false"),
        "scaleToZeroOnInvalidOffset": enum("true", "false"),
        "excludePersistentLag": enum("true", "false"),
        "limitToPartitionsWithLag": enum("true", "false"),
        "tls": enum("enable", "disable"),
    },
}
trigger = obj({
    "type": {"type": "string", "minLength": 1},
    "name": STR,
    "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    "authenticationRef": obj({"name": NAME, "kind": enum("TriggerAuthentication", "ClusterTriggerAuthentication")},
                             required=("name",)),
    "metricType": enum("AverageValue", "Value", "Utilization"),
    "useCachedMetrics": BOOL,
}, required=("type", "metadata"))
trigger["allOf"] = [{"if": {"properties": {"type": {"const": "kafka"}}},
                     "then": {"properties": {"metadata": KAFKA_TRIGGER_METADATA}}}]
scaledobject = resource("keda.sh/v1alpha1", "ScaledObject", obj(names(
    "idleReplicaCount", "initialCooldownPeriod",
    scaleTargetRef=obj({"apiVersion": STR, "kind": STR, "name": NAME, "envSourceContainerName": STR},
                       required=("name",)),
    minReplicaCount={"type": "integer", "minimum": 0},
    maxReplicaCount={"type": "integer", "minimum": 1},
    pollingInterval={"type": "integer", "minimum": 1},
    cooldownPeriod={"type": "integer", "minimum": 0},
    fallback=obj({"failureThreshold": {"type": "integer", "minimum": 1}, "replicas": {"type": "integer", "minimum": 0},
                  "behavior": enum("static", "currentReplicas", "currentReplicasIfHigher", "currentReplicasIfLower")},
                 required=("failureThreshold", "replicas")),
    advanced=obj(names("restoreToOriginalReplicaCount", "scalingModifiers",
                       horizontalPodAutoscalerConfig=obj({"name": STR, "behavior": OBJ}))),
    triggers=arr(trigger, minItems=1),
), required=("scaleTargetRef", "triggers")), operator=KEDA)

triggerauth = resource("keda.sh/v1alpha1", "TriggerAuthentication", obj(names(
    "awsSecretManager", "azureKeyVault", "boundServiceAccountToken", "configMapTargetRef", "env",
    "gcpSecretManager", "hashiCorpVault", "podIdentity",
    secretTargetRef=arr(obj({"parameter": {"type": "string", "minLength": 1}, "name": NAME,
                             "key": {"type": "string", "minLength": 1}}, required=("parameter", "name", "key"))),
)), operator=KEDA)

# ---- External Secrets Operator --------------------------------------------------------------------
STORE_REF = obj({"kind": enum("SecretStore", "ClusterSecretStore"), "name": NAME}, required=("name",))
externalsecret = resource("external-secrets.io/v1", "ExternalSecret", obj(names(
    "dataFrom",
    refreshInterval={"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"},
    refreshPolicy=enum("CreatedOnce", "Periodic", "OnChange"),
    secretStoreRef=STORE_REF,
    target=obj(names(
        "manifest",
        name=NAME,
        creationPolicy=enum("Owner", "Orphan", "Merge", "None"),
        deletionPolicy=enum("Delete", "Merge", "Retain"),
        immutable=BOOL,
        template=obj(names("templateFrom", engineVersion=enum("v2"), mergePolicy=enum("Replace", "Merge"),
                           type=STR, data=STRMAP,
                           metadata=obj({"labels": STRMAP, "annotations": STRMAP, "finalizers": arr(STR)}))),
    )),
    data=arr(obj(names(
        "sourceRef",
        secretKey={"type": "string", "pattern": r"^[-._a-zA-Z0-9]+$"},
        remoteRef=obj(names("conversionStrategy", "decodingStrategy", "metadataPolicy", "nullBytePolicy", "version",
                            key={"type": "string", "minLength": 1}, property=STR), required=("key",)),
    ), required=("secretKey", "remoteRef"))),
)), operator=ESO)

FILES = {
    "kafka.strimzi.io/v1/kafka.json": kafka,
    "kafka.strimzi.io/v1/kafkanodepool.json": nodepool,
    "kafka.strimzi.io/v1/kafkatopic.json": topic,
    "kafka.strimzi.io/v1/kafkauser.json": user,
    "postgresql.cnpg.io/v1/cluster.json": cluster,
    "postgresql.cnpg.io/v1/scheduledbackup.json": scheduled,
    "barmancloud.cnpg.io/v1/objectstore.json": objectstore,
    "keda.sh/v1alpha1/scaledobject.json": scaledobject,
    "keda.sh/v1alpha1/triggerauthentication.json": triggerauth,
    "external-secrets.io/v1/externalsecret.json": externalsecret,
}


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    for rel, schema in FILES.items():
        path = OUT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(schema), encoding="utf-8")
    print(f"{len(FILES)} schemas written under {OUT}")
