"""The Kubernetes cluster: a VPC, one k3s control plane and the workers, reached through SSM only."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.capacity import kubelet_args
from infra.config import InfraConfig
from infra.identities import DISCOVERY_KEYS, PodIdentities
from infra.storage import Storage
from infra.suppressions import skip_cfn_lint, skip_checkov

USERDATA = Path(__file__).parent / "userdata"
LIB = "/usr/local/lib/twitter-sentiment"
AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
# AL2023 with the NVIDIA driver and container toolkit, for the optional GPU worker.
AL2023_NVIDIA = ("/aws/service/deeplearning/ami/x86_64/"
                 "base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id")
# The k3s control plane's etcd snapshots (k3s --etcd-s3): every 6 hours, the last 28 (a week) kept.
ETCD_SNAPSHOT_FOLDER = "etcd-snapshots"
ETCD_SNAPSHOT_CRON = "0 */6 * * *"
ETCD_SNAPSHOT_RETENTION = 28

# k3s traffic between nodes, and nothing else: API server, kubelet, flannel VXLAN (the pod network).
CLUSTER_PORTS = [
    (ec2.Port.tcp(6443), "Kubernetes API server (agents and kubelets)"),
    (ec2.Port.tcp(10250), "kubelet API (logs, exec, metrics)"),
    (ec2.Port.udp(8472), "flannel VXLAN: pod-to-pod traffic"),
]


class Cluster(Construct):
    def __init__(self, scope: Construct, id: str, *, config: InfraConfig, storage: Storage,
                 identities: PodIdentities) -> None:
        super().__init__(scope, id)
        self.vpc = ec2.Vpc(
            self, "Vpc",
            max_azs=2,
            nat_gateways=1,  # nodes pull images and reach the X API; one NAT keeps the bill down
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="nodes", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                                        cidr_mask=20),
            ],
            # S3 and DynamoDB traffic stays off the NAT gateway (and its per-GB charge).
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDB": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
            },
            flow_logs={"ToLogsBucket": ec2.FlowLogOptions(
                destination=ec2.FlowLogDestination.to_s3(storage.logs, "vpc-flow-logs/"))},
        )
        for subnet in self.vpc.public_subnets + self.vpc.private_subnets:
            skip_cfn_lint(subnet, "W3010")  # AZ names come from CDK's per-account lookup (cdk.context.json)

        self.nodes_sg = ec2.SecurityGroup(
            self, "Nodes", vpc=self.vpc, allow_all_outbound=True,
            description="k3s nodes: cluster ports from each other only; no inbound from anywhere else")
        for port, why in CLUSTER_PORTS:
            self.nodes_sg.add_ingress_rule(self.nodes_sg, port, why)

        self.join_token = secretsmanager.Secret(
            self, "JoinToken", description="k3s join token, read by the nodes at boot",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=48))
        self.kubeconfig = secretsmanager.Secret(
            self, "Kubeconfig", description="k3s admin kubeconfig, written by the control plane at boot",
            removal_policy=RemovalPolicy.DESTROY)
        for secret in (self.join_token, self.kubeconfig):
            skip_checkov(secret, CKV_AWS_149="Encrypted with the AWS-managed Secrets Manager key; "
                                             "only the node roles and admins read it.")

        every_node = {"K3S_VERSION": config.k3s_version, "AWS_REGION": Stack.of(self).region,
                      "JOIN_TOKEN_SECRET": self.join_token.secret_arn, "KUBELET_ARGS": " ".join(kubelet_args())}
        self.control_plane = self._node(
            "ControlPlane", config.control_plane_instance_type, AL2023, 30, "control_plane.sh",
            **every_node, KUBECONFIG_SECRET=self.kubeconfig.secret_arn,
            OIDC_BUCKET=identities.discovery.bucket_name, OIDC_ISSUER_URL=identities.issuer_url,
            ETCD_S3_BUCKET=storage.etcd_snapshots.bucket_name, ETCD_S3_FOLDER=ETCD_SNAPSHOT_FOLDER,
            ETCD_SNAPSHOT_CRON=ETCD_SNAPSHOT_CRON, ETCD_SNAPSHOT_RETENTION=str(ETCD_SNAPSHOT_RETENTION),
        )
        # k3s uploads with the instance's role when given no keys (k3s pkg/etcd/s3: credentials.NewIAM),
        # lists and prunes beyond the retention, and reads a snapshot back to restore.
        storage.etcd_snapshots.grant_read_write(self.control_plane, f"{ETCD_SNAPSHOT_FOLDER}/*")
        self.join_token.grant_read(self.control_plane)
        self.kubeconfig.grant_write(self.control_plane)
        self.control_plane.add_to_role_policy(iam.PolicyStatement(
            sid="PublishOidcDiscovery", actions=["s3:PutObject"],
            resources=[identities.discovery.arn_for_objects(key) for key in DISCOVERY_KEYS]))

        workers = [(f"Worker{i + 1}", config.worker_instance_type, AL2023, 50, "cpu")
                   for i in range(config.worker_count)]
        if config.gpu_worker:
            workers.append(("GpuWorker", config.gpu_instance_type, AL2023_NVIDIA, 100, "gpu"))
        self.workers = []
        for name, instance_type, image, disk_gib, kind in workers:
            worker = self._node(name, instance_type, image, disk_gib, "worker.sh", **every_node,
                                CONTROL_PLANE_IP=self.control_plane.instance_private_ip, NODE_KIND=kind)
            self.join_token.grant_read(worker)
            self.workers.append(worker)

    def _node(self, name: str, instance_type: str, image_parameter: str, disk_gib: int, script: str,
              **env: str) -> ec2.Instance:
        node = ec2.Instance(
            self, name,
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            instance_type=ec2.InstanceType(instance_type),
            # Resolved by EC2 at launch: a newer AMI never replaces a running node on redeploy.
            # The AMI is looked up once and pinned in cdk.context.json (commit it): a node replaced later
            # boots the same image. `cdk context --reset <key>` and a redeploy move to a newer one.
            machine_image=ec2.MachineImage.from_ssm_parameter(image_parameter, cached_in_context=True),
            security_group=self.nodes_sg,
            ssm_session_permissions=True,  # shell and port forwarding through Session Manager, no SSH key
            http_tokens=ec2.HttpTokens.REQUIRED,  # IMDSv2 only
            http_put_response_hop_limit=1,  # pods cannot borrow the node's role; they use their own
            ebs_optimized=True,
            block_devices=[ec2.BlockDevice(device_name="/dev/xvda", volume=ec2.BlockDeviceVolume.ebs(
                disk_gib, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3))],
            user_data=_user_data(script, env),
            user_data_causes_replacement=False,  # a changed boot script must not wipe a running cluster
        )
        skip_cfn_lint(node, "W3010")  # the node's AZ comes from its subnet's lookup
        return node


def _user_data(script: str, env: dict[str, str]) -> ec2.UserData:
    """node.env with this node's settings, the shared helpers, then the node's own script."""
    user_data = ec2.UserData.for_linux()
    env_lines = "\n".join(f"{key}={value}" for key, value in env.items())
    user_data.add_commands(
        f"install -d -m 0700 /etc/twitter-sentiment {LIB}",
        f"cat > /etc/twitter-sentiment/node.env <<'NODE_ENV'\n{env_lines}\nNODE_ENV",
        _file(f"{LIB}/install_k3s.sh", "install_k3s.sh"),
    )
    if script == "control_plane.sh":
        user_data.add_commands(_file(f"{LIB}/publish_oidc.py", "publish_oidc.py"))
    user_data.add_commands((USERDATA / script).read_text())
    return user_data


def _file(path: str, source: str) -> str:
    return f"cat > {path} <<'TWITTER_SENTIMENT_EOF'\n{(USERDATA / source).read_text()}TWITTER_SENTIMENT_EOF"
