"""`pulumi login --oidc-token file://...` with the real CLI against the emulator serving https with a
certificate from a test CA: the CLI trusts that CA only through `SSL_CERT_FILE`
(`harness.pulumi_cli.trust_ca_environment`), which is how the runner's pod trusts the emulator.
"""

from __future__ import annotations

import subprocess

from pulumi_oidc_trust.provider.wire import audience_for

from harness.pulumi_cli import cli_environment, trust_ca_environment

ORG = "acme"
SUB = "repo:acme/infra:ref:refs/heads/main"


def _pulumi(cli, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(cli.bin_dir / "pulumi"), *args, "--non-interactive"], env=env,
                          capture_output=True, text=True, timeout=180)


def test_the_cli_logs_in_over_https_trusting_the_ca_through_ssl_cert_file(pulumi_cli, start_emulator,
                                                                          emulator_tls, tmp_path):
    emulator = start_emulator(*emulator_tls.args, ca_path=emulator_tls.ca_path)
    assert emulator.base_url.startswith("https://127.0.0.1:")
    emulator.trust_test_issuer(ORG)
    token_file = tmp_path / "token.jwt"
    token = emulator.mint({"sub": SUB, "aud": audience_for(ORG)})
    token_file.write_text(token + "\n")
    login = ("login", emulator.base_url, "--oidc-token", f"file://{token_file}", "--oidc-org", ORG)

    # Without the CA the CLI refuses the emulator's certificate (the system's roots do not hold it).
    (tmp_path / "untrusting").mkdir()
    untrusting = cli_environment(pulumi_cli, tmp_path / "untrusting", tmp_path / "untrusting" / ".pulumi")
    assert "SSL_CERT_FILE" not in untrusting
    refused = _pulumi(pulumi_cli, untrusting, *login)
    assert refused.returncode != 0
    assert "certificate signed by unknown authority" in refused.stderr, refused.stderr
    assert not (tmp_path / "untrusting" / ".pulumi" / "credentials.json").exists()

    (tmp_path / "trusting").mkdir()
    trusting = cli_environment(pulumi_cli, tmp_path / "trusting", tmp_path / "trusting" / ".pulumi",
                               extra=trust_ca_environment(emulator_tls.ca_path))
    logged_in = _pulumi(pulumi_cli, trusting, *login)
    assert logged_in.returncode == 0, logged_in.stderr
    assert f"Logged in to {emulator.base_url}" in logged_in.stdout

    whoami = _pulumi(pulumi_cli, trusting, "whoami", "-v")
    assert whoami.returncode == 0, whoami.stderr
    assert f"Token type: organization: {ORG}" in whoami.stdout

    printed = refused.stdout + refused.stderr + logged_in.stdout + logged_in.stderr + whoami.stdout + whoami.stderr
    assert token not in printed
    assert emulator.stats()["counts"].get("POST /api/oauth/token")

