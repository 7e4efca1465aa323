"""The synthesised template has the properties issue 7 asks for (no AWS account needed)."""

from __future__ import annotations

import json

import pytest

from infra import policies
from tests.infra.conftest import ACCOUNT, PINNED_AMIS, REGION, ROOT


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def props(template: dict, kind: str) -> list[dict]:
    return [r.get("Properties", {}) for r in resources(template, kind).values()]


def bucket_named(template: dict, name: str) -> tuple[str, dict]:
    [(logical_id, bucket)] = [(k, r) for k, r in resources(template, "AWS::S3::Bucket").items()
                              if r["Properties"].get("BucketName") == name]
    return logical_id, bucket["Properties"]


def policy_documents(node):
    """Every IAM policy document anywhere in the template (roles, inline and bucket policies)."""
    if isinstance(node, dict):
        if "Statement" in node and "Version" in node:
            yield node
        for value in node.values():
            yield from policy_documents(value)
    elif isinstance(node, list):
        for value in node:
            yield from policy_documents(value)


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


BLOCK_ALL = {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
             "RestrictPublicBuckets": True}
PRIVATE_BUCKETS = [f"twitter-sentiment-{kind}-{ACCOUNT}-{REGION}" for kind in ("datasets", "models")]
OIDC_BUCKET = f"twitter-sentiment-oidc-{ACCOUNT}-{REGION}"


def test_every_bucket_is_encrypted_versioned_and_kept(template):
    buckets = resources(template, "AWS::S3::Bucket")
    assert len(buckets) == 5  # datasets, models, logs, OIDC discovery, etcd snapshots
    for name, bucket in buckets.items():
        rule = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms"), name
        assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}, name


def test_data_buckets_named_from_configuration_block_all_public_access_and_are_retained(template):
    for name in PRIVATE_BUCKETS:
        logical_id, bucket = bucket_named(template, name)
        assert bucket["PublicAccessBlockConfiguration"] == BLOCK_ALL
        assert template["Resources"][logical_id]["DeletionPolicy"] == "Retain"
        assert "LoggingConfiguration" in bucket
    unnamed = [p for p in props(template, "AWS::S3::Bucket") if "BucketName" not in p]
    assert len(unnamed) == 2, "the access logs and the etcd snapshots: names CloudFormation picks"
    assert all(p["PublicAccessBlockConfiguration"] == BLOCK_ALL for p in unnamed)


def test_bucket_names_follow_context(options_template):
    assert bucket_named(options_template, f"my-tweets-{REGION}")


def test_every_bucket_policy_denies_plain_http(template):
    bucket_policies = {p["Bucket"]["Ref"]: p["PolicyDocument"]
                       for p in props(template, "AWS::S3::BucketPolicy")}
    assert set(bucket_policies) == set(resources(template, "AWS::S3::Bucket"))
    tls_only = {"Effect": "Deny", "Action": "s3:*", "Principal": {"AWS": "*"},
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    for document in bucket_policies.values():
        denials = [{k: v for k, v in s.items() if k != "Resource"} for s in document["Statement"]]
        assert tls_only in denials


def test_the_only_public_objects_are_the_oidc_discovery_documents(template):
    _, bucket = bucket_named(template, OIDC_BUCKET)
    # Stated exception: ACLs stay blocked, the bucket policy may grant anonymous reads.
    assert bucket["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
    assert bucket["PublicAccessBlockConfiguration"]["IgnorePublicAcls"] is True
    public = [s for p in props(template, "AWS::S3::BucketPolicy") for s in p["PolicyDocument"]["Statement"]
              if s["Effect"] == "Allow" and s.get("Principal") in ("*", {"AWS": "*"})]
    assert len(public) == 1
    assert public[0]["Action"] == "s3:GetObject"
    keys = [json.dumps(r) for r in public[0]["Resource"]]
    assert len(keys) == 2
    assert any(".well-known/openid-configuration" in k for k in keys) and any("/keys.json" in k for k in keys)


def test_results_table(template, options_template):
    [table] = props(template, "AWS::DynamoDB::Table")
    assert table["TableName"] == "twitter-sentiment-results"
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionProtectionEnabled"] is True
    assert "TimeToLiveSpecification" not in table  # TTL is optional and off by default
    [with_ttl] = props(options_template, "AWS::DynamoDB::Table")
    assert with_ttl["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


@pytest.mark.parametrize("which", ["template", "options_template"])
def test_no_statement_allows_every_action_or_a_whole_service(which, request):
    documents = list(policy_documents(request.getfixturevalue(which)["Resources"]))
    assert documents
    for document in documents:
        for statement in as_list(document["Statement"]):
            if statement["Effect"] != "Allow":
                continue
            actions = as_list(statement.get("Action", []))
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), statement
            if "*" in as_list(statement.get("Resource", [])):  # only harmless read-only describe calls
                assert all(":Describe" in a or ":Get" in a for a in actions), statement


def test_each_application_role_carries_its_policy_and_trusts_one_service_account(synthesized):
    config, template = synthesized["default"]
    roles = {r["Properties"]["Description"].split()[1].rstrip(":"): r["Properties"]
             for r in resources(template.to_json(), "AWS::IAM::Role").values()
             if r["Properties"].get("Description", "").startswith("twitter-sentiment ")}
    assert set(roles) == set(policies.APPLICATIONS)
    placeholders = policies.placeholder_resources(config)
    for app, role in roles.items():
        [inline] = role["Policies"]
        expected = policies.POLICIES[app](placeholders)["Statement"]
        got = inline["PolicyDocument"]["Statement"]
        # Same statements as manifests/iam: names differ only by being CloudFormation references.
        assert [(s["Sid"], as_list(s["Action"])) for s in got] == [(s["Sid"], s["Action"]) for s in expected]
        [trust] = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
        namespace, name = getattr(config, f"{app}_service_account").split(":")
        conditions = trust["Condition"]["StringEquals"]
        host = f"{OIDC_BUCKET}.s3.{REGION}.amazonaws.com"
        assert conditions == {f"{host}:sub": f"system:serviceaccount:{namespace}:{name}",
                              f"{host}:aud": "sts.amazonaws.com"}


def test_security_groups_open_only_cluster_ports_between_nodes(template):
    for group in props(template, "AWS::EC2::SecurityGroup"):
        # Inline rules would be the only other way in; stated exception: all egress (images, X API, AWS).
        assert "SecurityGroupIngress" not in group
    rules = props(template, "AWS::EC2::SecurityGroupIngress")
    assert {(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in rules} == {
        ("tcp", 6443, 6443), ("tcp", 10250, 10250), ("udp", 8472, 8472)}
    for rule in rules:
        assert "CidrIp" not in rule and "CidrIpv6" not in rule
        assert rule["SourceSecurityGroupId"] == rule["GroupId"]  # from other nodes only
        assert rule["Description"]


def test_nodes_use_ssm_not_ssh_keys(synthesized):
    for name, (config, template) in synthesized.items():
        t = template.to_json()
        instances = props(t, "AWS::EC2::Instance")
        expected = 1 + config.worker_count + int(config.gpu_worker)
        assert len(instances) == expected, name
        for instance in instances:
            assert "KeyName" not in instance
            assert instance["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
            # Pinned: the id looked up once (cdk.context.json), not "resolve:ssm:…/latest" at each launch,
            # which boots whatever AMI is newest when a node is replaced.
            assert instance["ImageId"] in PINNED_AMIS.values()
            assert instance["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}
        ssm_policies = [json.dumps(r["Properties"].get("ManagedPolicyArns", []))
                        for r in resources(t, "AWS::IAM::Role").values()
                        if "ec2.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])]
        assert len(ssm_policies) == expected
        assert all("AmazonSSMManagedInstanceCore" in p for p in ssm_policies)


def test_optional_gpu_worker(options_template):
    types = {i["InstanceType"] for i in props(options_template, "AWS::EC2::Instance")}
    assert "g4dn.xlarge" in types
    [gpu] = [i for i in props(options_template, "AWS::EC2::Instance") if i["InstanceType"] == "g4dn.xlarge"]
    assert gpu["ImageId"] == PINNED_AMIS["AL2023_NVIDIA"]
    assert "NODE_KIND=gpu" in json.dumps(gpu["UserData"])


def test_user_data_pins_k3s_and_carries_no_secret(synthesized):
    config, template = synthesized["default"]
    for instance in props(template.to_json(), "AWS::EC2::Instance"):
        user_data = instance["UserData"]["Fn::Base64"]
        literal = "".join(p for p in user_data["Fn::Join"][1] if isinstance(p, str))
        assert f"K3S_VERSION={config.k3s_version}" in literal
        assert "K3S_TOKEN=\"$(join_token)\"" in literal  # read from Secrets Manager at boot
        assert len(literal.encode()) < 12_000  # EC2 takes 16 KB of user data; leave room for the references


def test_outputs_tell_the_rest_what_it_needs(template):
    assert set(template["Outputs"]) >= {
        "Region", "DatasetBucket", "ModelBucket", "ModelStoreUri", "PipelineRoot", "ResultsTable",
        "TrainingRoleArn", "PredictorRoleArn", "StreamerRoleArn", "OidcIssuer",
        "ControlPlaneInstanceId", "KubeconfigCommand", "ApiTunnelCommand"}
    assert f"/{policies.MODEL_PREFIX}" in json.dumps(template["Outputs"]["ModelStoreUri"])
    assert "secretsmanager get-secret-value" in json.dumps(template["Outputs"]["KubeconfigCommand"])


def test_the_control_plane_snapshots_etcd_to_its_own_bucket(template):
    """k3s snapshots only its embedded etcd (--cluster-init), on --etcd-snapshot-schedule-cron, to S3 with
    --etcd-s3, keeping --etcd-snapshot-retention of them; with no keys it signs with the instance's IAM
    role (docs.k3s.io/cli/etcd-snapshot; k3s pkg/etcd/s3)."""
    from infra.cluster import ETCD_SNAPSHOT_FOLDER

    script = (ROOT / "infra" / "userdata" / "control_plane.sh").read_text()
    for flag in ("--cluster-init", "--etcd-s3 ", '--etcd-s3-bucket "$ETCD_S3_BUCKET"', '--etcd-s3-region "$AWS_REGION"',
                 '--etcd-s3-folder "$ETCD_S3_FOLDER"', '--etcd-snapshot-schedule-cron "$ETCD_SNAPSHOT_CRON"',
                 '--etcd-snapshot-retention "$ETCD_SNAPSHOT_RETENTION"'):
        assert flag in script, flag
    [control_plane] = [r for name, r in resources(template, "AWS::EC2::Instance").items() if "ControlPlane" in name]
    user_data = json.dumps(control_plane["Properties"]["UserData"])
    [bucket] = [name for name in resources(template, "AWS::S3::Bucket") if "EtcdSnapshots" in name]
    assert "ETCD_S3_BUCKET=" in user_data and bucket in user_data
    assert f"ETCD_S3_FOLDER={ETCD_SNAPSHOT_FOLDER}" in user_data and "ETCD_SNAPSHOT_CRON=" in user_data
    props_of_bucket = resources(template, "AWS::S3::Bucket")[bucket]["Properties"]
    assert props_of_bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    writers = [p for p in resources(template, "AWS::IAM::Policy").values()
               if bucket in json.dumps(p["Properties"]["PolicyDocument"])]
    assert len(writers) == 1 and "ControlPlane" in json.dumps(writers[0]["Properties"]["Roles"]), \
        "only the control plane's role touches the snapshots"
    granted = json.dumps(writers[0]["Properties"]["PolicyDocument"])
    assert "s3:PutObject" in granted and f"/{ETCD_SNAPSHOT_FOLDER}/*" in granted
    assert "EtcdSnapshotBucket" in template["Outputs"]
