"""Where the data lives: the dataset bucket, the model bucket, the results table, and their logs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import InfraConfig
from infra.policies import PIPELINE_ROOT_PREFIX
from infra.suppressions import skip_checkov


def private_bucket(scope: Construct, id: str, **props) -> s3.Bucket:
    """Encrypted, versioned, TLS-only, never public, and kept when the stack is deleted."""
    return s3.Bucket(
        scope, id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,  # no ACLs anywhere
        removal_policy=RemovalPolicy.RETAIN,
        **props,
    )


class Storage(Construct):
    def __init__(self, scope: Construct, id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)  # plain text once `cdk deploy` knows the account and region
        names = {"account": stack.account, "region": stack.region}

        # S3 server access logs and VPC flow logs: who read the data, what talked to what.
        self.logs = private_bucket(
            self, "Logs",
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90),
                                              noncurrent_version_expiration=Duration.days(7))],
        )
        skip_checkov(self.logs, CKV_AWS_18="The access-log bucket: logging it into itself would loop.")

        self.datasets = private_bucket(
            self, "Datasets",
            bucket_name=config.dataset_bucket.format(**names),
            server_access_logs_bucket=self.logs, server_access_logs_prefix="s3/datasets/",
        )
        self.models = private_bucket(
            self, "Models",
            bucket_name=config.model_bucket.format(**names),
            server_access_logs_bucket=self.logs, server_access_logs_prefix="s3/models/",
            # A run's intermediate artifacts are worth a month, not forever.
            lifecycle_rules=[s3.LifecycleRule(
                id="ExpirePipelineArtifacts", prefix=f"{PIPELINE_ROOT_PREFIX}/",
                expiration=Duration.days(30), noncurrent_version_expiration=Duration.days(1),
            )],
        )

        # The control plane's etcd snapshots: the whole cluster state, Secrets included. Only the control
        # plane's role reads or writes them; old ones expire after k3s's own retention would have pruned them.
        self.etcd_snapshots = private_bucket(
            self, "EtcdSnapshots",
            server_access_logs_bucket=self.logs, server_access_logs_prefix="s3/etcd-snapshots/",
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(30),
                                              noncurrent_version_expiration=Duration.days(7))],
        )

        self.results = dynamodb.Table(
            self, "Results",
            table_name=config.results_table,
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),  # tweet id
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            time_to_live_attribute=config.results_ttl_attribute or None,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        skip_checkov(self.results, CKV_AWS_119=(
            "Encrypted with the AWS-managed DynamoDB key; a customer key adds cost and a key policy to keep "
            "in step with the streamer's role, for no gain while one account owns the data."))
