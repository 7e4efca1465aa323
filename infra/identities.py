"""One IAM role per application, assumed by its pods' service account (IRSA on a self-managed cluster).

The cluster signs service-account tokens; its OIDC discovery document and public keys are published
in a small bucket whose only public objects are those two files; IAM trusts that issuer, and each
role only for one namespace:serviceaccount. The pods get credentials from the pod identity webhook
(infra/addons.sh), which injects AWS_ROLE_ARN and a projected token for roles annotated on their
ServiceAccount with `eks.amazonaws.com/role-arn`.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import policies
from infra.config import InfraConfig, service_account
from infra.storage import Storage
from infra.suppressions import skip_checkov

AUDIENCE = "sts.amazonaws.com"
DISCOVERY_KEYS = (".well-known/openid-configuration", "keys.json")


class PodIdentities(Construct):
    def __init__(self, scope: Construct, id: str, *, config: InfraConfig, storage: Storage) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        bucket_name = config.oidc_bucket.format(account=stack.account, region=stack.region)
        if Token.is_unresolved(bucket_name):  # IAM condition keys below cannot be CloudFormation expressions
            raise ValueError("the stack needs an explicit account and region (see infra/app.py)")
        # Stated exception to "no public bucket": STS fetches these two documents anonymously.
        self.discovery = s3.Bucket(
            self, "OidcDiscovery",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.S3_MANAGED,  # anonymous readers cannot use a KMS key
            block_public_access=s3.BlockPublicAccess(
                block_public_acls=True, ignore_public_acls=True,
                block_public_policy=False, restrict_public_buckets=False),
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=storage.logs, server_access_logs_prefix="s3/oidc/",
            removal_policy=RemovalPolicy.DESTROY,  # holds only public keys, republished at boot
        )
        self.discovery.add_to_resource_policy(iam.PolicyStatement(
            sid="PublicOidcDiscovery",
            principals=[iam.AnyPrincipal()],
            actions=["s3:GetObject"],
            resources=[self.discovery.arn_for_objects(key) for key in DISCOVERY_KEYS],
        ))
        skip_checkov(self.discovery, CKV_AWS_54=_PUBLIC, CKV_AWS_56=_PUBLIC)

        # Built from the name, not read back: with a known account and region it is plain text.
        self.issuer_host = f"{bucket_name}.s3.{stack.region}.amazonaws.com"
        self.issuer_url = f"https://{self.issuer_host}"
        self.provider = iam.OidcProviderNative(self, "Issuer", url=self.issuer_url, client_ids=[AUDIENCE])

        res = policies.Resources(
            dataset_bucket=storage.datasets.bucket_name,
            model_bucket=storage.models.bucket_name,
            results_table=storage.results.table_name,
            region=stack.region,
            account=stack.account,
            partition=stack.partition,
        )
        self.roles = {
            app: self._role(app, getattr(config, f"{app}_service_account"), policies.POLICIES[app](res))
            for app in policies.APPLICATIONS
        }

    def _role(self, app: str, subject: str, document: dict) -> iam.Role:
        namespace, name = service_account(subject)
        conditions = {
            f"{self.issuer_host}:sub": f"system:serviceaccount:{namespace}:{name}",
            f"{self.issuer_host}:aud": AUDIENCE,
        }
        return iam.Role(
            self, f"{app.title()}Role",
            description=f"twitter-sentiment {app}: pods of {namespace}/{name}",
            assumed_by=iam.WebIdentityPrincipal(self.provider.oidc_provider_arn,
                                                conditions={"StringEquals": conditions}),
            inline_policies={app: iam.PolicyDocument.from_json(document)},
        )


_PUBLIC = ("Stated exception: the OIDC discovery bucket must let STS read two objects anonymously; its "
           "policy grants s3:GetObject on exactly those keys, which hold only the cluster's public keys.")
