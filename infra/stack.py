"""The whole AWS side in one stack: storage, pod identities, the cluster, and what the rest needs to know."""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Stack, Tags
from constructs import Construct

from infra.cluster import Cluster
from infra.config import InfraConfig
from infra.identities import PodIdentities
from infra.policies import MODEL_PREFIX, PIPELINE_ROOT_PREFIX
from infra.storage import Storage


class TwitterSentimentStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: InfraConfig, **kwargs) -> None:
        super().__init__(scope, id, description="twitter-sentiment: buckets, results table, k3s cluster",
                         **kwargs)
        Tags.of(self).add("project", "twitter-sentiment")
        self.storage = Storage(self, "Storage", config=config)
        self.identities = PodIdentities(self, "PodIdentities", config=config, storage=self.storage)
        self.cluster = Cluster(self, "Cluster", config=config, storage=self.storage,
                               identities=self.identities)
        self._outputs()

    def _outputs(self) -> None:
        storage, roles, cluster = self.storage, self.identities.roles, self.cluster
        control_plane = cluster.control_plane.instance_id
        outputs = {
            "Region": (Aws.REGION, "AWS_REGION for every part"),
            "DatasetBucket": (storage.datasets.bucket_name, "upload sentiment140 here; DATASET_URI=s3://…"),
            "ModelBucket": (storage.models.bucket_name, "model bundles and KFP artifacts"),
            "ModelStoreUri": (f"s3://{storage.models.bucket_name}/{MODEL_PREFIX}",
                              "MODEL_STORE_URI, and STORAGE_URI's prefix"),
            "PipelineRoot": (f"s3://{storage.models.bucket_name}/{PIPELINE_ROOT_PREFIX}",
                             "KFP defaultPipelineRoot (infra/addons.sh sets it)"),
            "ResultsTable": (storage.results.table_name, "DYNAMODB_TABLE for the streamer"),
            "EtcdSnapshotBucket": (storage.etcd_snapshots.bucket_name,
                                   "k3s etcd snapshots (etcd-snapshots/); infra/README.md: restore"),
            "OidcIssuer": (self.identities.issuer_url, "the cluster's service-account token issuer"),
            "ControlPlaneInstanceId": (control_plane, "target of SSM sessions"),
            "KubeconfigCommand": (
                f"aws secretsmanager get-secret-value --region {Aws.REGION} --secret-id "
                f"{cluster.kubeconfig.secret_arn} --query SecretString --output text > kubeconfig",
                "writes the admin kubeconfig (server https://127.0.0.1:6443); keep it out of the repo"),
            "ApiTunnelCommand": (
                f"aws ssm start-session --region {Aws.REGION} --target {control_plane} "
                "--document-name AWS-StartPortForwardingSession "
                "--parameters portNumber=6443,localPortNumber=6443",
                "forwards the API server to localhost:6443; leave it running while you use kubectl"),
        }
        for app, role in roles.items():
            outputs[f"{app.title()}RoleArn"] = (
                role.role_arn, f"annotate the {app} ServiceAccount: eks.amazonaws.com/role-arn")
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)
