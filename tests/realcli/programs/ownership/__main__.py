"""A test program: one issuer (the emulator's test issuer) and its policy document, whose resource
name and aliases come from config, so a test can rename the policy or add a second owner."""

import pulumi

from pulumi_oidc_trust import OidcIssuer, OidcIssuerPolicy

config = pulumi.Config()
org = config.require("organization")
audience = f"urn:pulumi:org:{org}"
issuer_id = config.get("issuerId")  # a second stack: reference an issuer another stack owns

if issuer_id is None:
    issuer = OidcIssuer("issuer", organization=org, url=config.require("issuerUrl"), name="ci")
    issuer_id = issuer.issuer_id

aliases = [pulumi.Alias(name=old) for old in (config.get_object("aliases") or [])]
OidcIssuerPolicy(
    config.get("policyName") or "policy",
    organization=org,
    issuer_id=issuer_id,
    adopt=config.get_bool("adopt") or False,
    policies=[{"decision": "allow", "token_type": "team", "team_name": config.get("team") or "platform",
               "rules": {"aud": audience, "sub": "system:serviceaccount:pulumi:deploy"}}],
    opts=pulumi.ResourceOptions(aliases=aliases),
)
pulumi.export("issuerId", issuer_id)
