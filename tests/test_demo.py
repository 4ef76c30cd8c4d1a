"""`make demo` end to end through the dynamic-provider host (`--host`; what runs where no Pulumi
CLI can be had). The real-CLI demo is tests/realcli/test_demo.py."""

from __future__ import annotations

import re
import subprocess
import sys


from harness.dynamic_host import ROOT


def test_demo_runs_the_whole_flow_and_never_prints_a_token():
    out = subprocess.run([sys.executable, "-m", "demo", "--host"], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr + out.stdout
    text = out.stdout + out.stderr
    for step in range(1, 11):
        assert f"[{step}]" in text
    assert "ALLOWED by policy 0" in text and "DENIED: no policy matched" in text
    assert "got a team token" in text and "the intruder's exchange is refused" in text
    assert "after the policy is deleted the runner's exchange is refused too" in text
    assert "issuers left in demo-org: 0" in text
    assert not re.search(r"pul-[0-9a-f]{8,}", text), "an access token was printed"
    assert not re.search(r"eyJ[\w-]{10,}\.[\w-]{10,}\.", text), "a JWT was printed"
    assert (ROOT / "demo-output" / "runner.yaml").is_file()
    assert not (ROOT / "demo-output" / "pod-token").exists()


def test_without_a_cli_the_demo_says_so_and_why(monkeypatch, tmp_path):
    from harness import pulumi_cli

    monkeypatch.setattr(pulumi_cli, "TOOLS_BIN", tmp_path / "none")
    monkeypatch.setenv("PATH", str(tmp_path))
    cli, why = pulumi_cli.find_cli()
    assert cli is None and "make pulumi" in why
