"""`make demo` with the real CLI: a real `pulumi up`, `pulumi login --oidc-token` and `pulumi destroy`."""

from __future__ import annotations

import re
import subprocess
import sys

from harness.pulumi_cli import ROOT


def test_the_demo_runs_its_main_job_through_the_real_cli(pulumi_cli):
    out = subprocess.run([sys.executable, "-m", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-4000:]
    assert f"the Pulumi CLI is {pulumi_cli.version}" in text
    assert "$ pulumi up --yes" in text and "+ 4 created" in text  # the engine's own output
    assert "Token type: team: platform" in text  # `pulumi whoami -v` after the real login
    assert "the intruder's exchange is refused" in text
    assert "- 4 deleted" in text and "issuers left in demo-org: 0" in text
    assert not (ROOT / "Pulumi.demo.yaml").exists(), "the demo wrote a stack file into the checkout"
    assert not re.search(r"pul-[0-9a-f]{8,}", text), "an access token was printed"
    assert not re.search(r"eyJ[\w-]{10,}\.[\w-]{10,}\.", text), "a JWT was printed"
    # Every setting is shown as the command a person types (the demo can be repeated by hand), and
    # the CLI's empty console link after the login is explained.
    for line in ("$ pulumi config set organization demo-org", "$ pulumi config set preset kubernetes",
                 "$ pulumi config set grantType team", "$ pulumi config set grantTeam platform",
                 "$ pulumi config set oidc:apiUrl http://127.0.0.1:"):
        assert line in text, line
    assert "they name Pulumi Cloud's web console" in text

