"""Scanner findings accepted on purpose, recorded on the resource itself with the reason."""

from __future__ import annotations

from aws_cdk import CfnResource
from constructs import IConstruct


def skip_checkov(construct: IConstruct, **reasons: str) -> None:
    """Write checkov's in-place skips (``Metadata: checkov: skip``) on the construct's CFN resource."""
    resource = _cfn_resource(construct)
    existing = resource.get_metadata("checkov") or {"skip": []}
    existing["skip"] += [{"id": check, "comment": reason} for check, reason in reasons.items()]
    resource.add_metadata("checkov", existing)


def skip_cfn_lint(construct: IConstruct, *rules: str) -> None:
    """Ignore cfn-lint rules on this one resource (``Metadata: cfn-lint: config: ignore_checks``)."""
    _cfn_resource(construct).add_metadata("cfn-lint", {"config": {"ignore_checks": list(rules)}})


def _cfn_resource(construct: IConstruct) -> CfnResource:
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    return resource
