"""A test program: the emulator's test issuer and its policies as one OidcIssuerWithPolicies, whose
display name, granted team and subject pattern come from config."""

import pulumi

from pulumi_oidc_trust import OidcIssuerWithPolicies

config = pulumi.Config()
org = config.require("organization")
trust = OidcIssuerWithPolicies(
    "trust",
    organization=org,
    url=config.require("issuerUrl"),
    name=config.get("issuerName") or "ci",
    adopt=config.get_bool("adopt") or False,
    policies=[{"decision": "allow", "token_type": "team", "team_name": config.get("team") or "platform",
               "rules": {"aud": f"urn:pulumi:org:{org}",
                         "sub": config.get("subject") or "system:serviceaccount:pulumi:deploy"}}],
)
pulumi.export("issuerId", trust.issuer_id)
pulumi.export("policyVersion", trust.version)
