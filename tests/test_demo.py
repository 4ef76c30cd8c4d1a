"""`make demo` end to end, and `make demo-cli` where the Pulumi CLI is absent."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from harness.dynamic_host import ROOT


def test_demo_runs_the_whole_flow_and_never_prints_a_token():
    out = subprocess.run([sys.executable, "-m", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=180)
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


@pytest.mark.skipif(shutil.which("pulumi") is not None, reason="the Pulumi CLI is on PATH: `make demo-cli` runs for real there")
def test_demo_cli_says_clearly_that_it_needs_the_pulumi_cli():
    env = dict(os.environ, PATH=os.path.dirname(sys.executable))
    out = subprocess.run([sys.executable, "-m", "demo.cli"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2
    assert "needs the Pulumi CLI" in out.stderr and "make demo" in out.stderr


@pytest.mark.skipif(shutil.which("pulumi") is None, reason="needs the Pulumi CLI on PATH (not installed on this machine)")
def test_demo_cli_applies_and_destroys_trust_with_a_real_pulumi_up():
    out = subprocess.run([sys.executable, "-m", "demo.cli"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "exchanged for a team token" in out.stdout and "exchange is refused" in out.stdout
