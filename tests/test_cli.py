"""``oidc-trust``: every subcommand, exit codes, JSON shapes, inputs in both key forms, bad inputs."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pulumi_oidc_trust.cli.main import main
from pulumi_oidc_trust.provider.lint import RULES
from pulumi_oidc_trust.provider.wire import audience_for

ROOT = Path(__file__).resolve().parents[1]

WIRE = [
    {"decision": "deny", "tokenType": "organization", "authorizedPermissions": [], "rules": {"aud": audience_for("acme"), "sub": "repo:acme/infra:pull_request"}},
    {"decision": "allow", "tokenType": "team", "teamName": "platform", "authorizedPermissions": [], "rules": {"aud": audience_for("acme"), "repository_owner_id": "4242", "sub": "repo:acme/infra:ref:refs/heads/main"}},
]
SNAKE = [
    {"decision": "deny", "token_type": "organization", "rules": {"aud": audience_for("acme"), "sub": "repo:acme/infra:pull_request"}},
    {"decision": "allow", "token_type": "team", "team_name": "platform", "rules": {"aud": audience_for("acme"), "repository_owner_id": "4242", "sub": "repo:acme/infra:ref:refs/heads/main"}},
]
MAIN_CLAIMS = {"aud": audience_for("acme"), "sub": "repo:acme/infra:ref:refs/heads/main", "repository_owner_id": 4242}
GH = "https://token.actions.githubusercontent.com"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """In-process ``oidc-trust`` (argparse's own exits are caught and returned too)."""
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


def cli(*argv: str) -> subprocess.CompletedProcess:
    """``python -m pulumi_oidc_trust.cli`` as a user runs it."""
    return subprocess.run([sys.executable, "-m", "pulumi_oidc_trust.cli", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.fixture
def files(tmp_path):
    """Policies and claims in every accepted form."""
    paths = {
        "wire.json": json.dumps(WIRE),
        "snake.yaml": yaml.safe_dump(SNAKE),
        "api.json": json.dumps({"id": "pol-1", "version": 3, "policies": WIRE}),
        "api.yaml": yaml.safe_dump({"id": "pol-1", "version": 3, "policies": SNAKE}),
        "claims.json": json.dumps(MAIN_CLAIMS),
        "claims.yaml": yaml.safe_dump(MAIN_CLAIMS | {"sub": "repo:acme/infra:ref:refs/heads/dev"}),
    }
    for name, text in paths.items():
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.fixture(scope="module")
def issuer():
    from pulumi_oidc_trust.emulator import TestIssuer, new_rsa_key

    return TestIssuer("https://issuer.example.com", key=new_rsa_key())


@pytest.fixture
def token(issuer) -> str:
    return issuer.mint(MAIN_CLAIMS)


# -- help -----------------------------------------------------------------------------------------


def test_help_on_the_command_and_every_subcommand():
    top = cli("--help")
    assert top.returncode == 0
    for sub in ("simulate", "lint", "exchange", "claims", "render"):
        assert sub in top.stdout
        out = cli(sub, "--help")
        assert out.returncode == 0 and "--format" in out.stdout, sub
    lint_help = cli("lint", "--help").stdout
    assert all(rule_id in lint_help for rule_id in RULES)


def test_the_docs_rule_list_is_the_one_lint_help_prints():
    readme = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    rules = [line for line in cli("lint", "--help").stdout.splitlines() if line.startswith("  OIDC")]
    assert len(rules) == len(RULES)
    assert "\n".join(rules) in readme


def test_no_subcommand_is_a_usage_error():
    out = cli()
    assert out.returncode == 2 and "oidc-trust: error:" in out.stderr


# -- simulate ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("policies", ["wire.json", "snake.yaml", "api.json", "api.yaml"])
def test_simulate_reads_every_form(capsys, files, policies):
    code, out, _ = run(capsys, "simulate", "--policies", str(files / policies), "--claims", str(files / "claims.json"), "--team", "platform")
    assert code == 0 and out.startswith("ALLOWED by policy 1")


def test_simulate_denied_exits_1_with_reasons(capsys, files):
    code, out, _ = run(capsys, "simulate", "--policies", str(files / "snake.yaml"), "--claims", str(files / "claims.yaml"), "--team", "platform")
    assert code == 1
    assert out.startswith("DENIED: no policy matched")
    assert "FAIL claim sub='repo:acme/infra:ref:refs/heads/dev' does not match 'repo:acme/infra:ref:refs/heads/main'" in out


def test_simulate_json_shape(capsys, files):
    code, out, _ = run(capsys, "simulate", "--policies", str(files / "wire.json"), "--claims", str(files / "claims.json"), "--token-type", "team", "--team", "platform", "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert {"allowed", "policy_index", "token_type", "reasons", "request"} <= set(data)
    assert (data["allowed"], data["policy_index"], data["token_type"]) == (True, 1, "team")
    assert data["reasons"][0]["applies"] is False and "rules" in data["reasons"][0]


def test_simulate_organization_request_by_default(capsys, files):
    code, out, _ = run(capsys, "simulate", "--policies", str(files / "wire.json"), "--claims", str(files / "claims.json"), "--format", "json")
    assert code == 1 and json.loads(out)["token_type"] == "organization"


def test_simulate_with_a_token_never_prints_it(capsys, files, token, tmp_path):
    (tmp_path / "token").write_text(token + "\n")
    for value in (token, f"file://{tmp_path}/token"):
        for fmt in ("text", "json"):
            code, out, err = run(capsys, "simulate", "--policies", str(files / "wire.json"), "--token", value, "--team", "platform", "--format", fmt)
            assert code == 0
            assert token not in out + err
            assert "unverified" in out


def test_simulate_verifies_with_a_jwks_file(capsys, files, token, issuer, tmp_path):
    (tmp_path / "jwks.json").write_text(json.dumps(issuer.jwks()))
    code, out, _ = run(capsys, "simulate", "--policies", str(files / "wire.json"), "--token", token, "--jwks", str(tmp_path / "jwks.json"), "--issuer", issuer.url, "--org", "acme", "--team", "platform", "--format", "json")
    assert code == 0 and json.loads(out)["token"]["verified"] is True


def test_simulate_verification_failure_is_an_input_error(capsys, files, token, tmp_path):
    from pulumi_oidc_trust.emulator import TestIssuer

    (tmp_path / "jwks.json").write_text(json.dumps(TestIssuer("https://x", kid="other").jwks()))
    code, out, err = run(capsys, "simulate", "--policies", str(files / "wire.json"), "--token", token, "--jwks", str(tmp_path / "jwks.json"), "--issuer", "https://issuer.example.com", "--org", "acme")
    assert code == 2 and out == ""
    assert "unknown key id" in err and token not in err
    assert len(err.strip().splitlines()) == 1


def test_simulate_verifies_with_discovery(capsys, files, inproc_emulator):
    token = inproc_emulator.test_issuer.mint(MAIN_CLAIMS)
    code, out, _ = run(capsys, "simulate", "--policies", str(files / "wire.json"), "--token", token, "--discovery", inproc_emulator.test_issuer_url, "--org", "acme", "--team", "platform", "--format", "json")
    assert code == 0
    assert json.loads(out)["token"]["verified"] is True and "discovery" in json.loads(out)["token"]["note"]


def documented_simulate_lines() -> list[str]:
    """The usage lines of docs/cli.md that run ``oidc-trust simulate`` on a real token."""
    readme = (ROOT / "docs" / "cli.md").read_text()
    return [line.split("#")[0].strip() for line in readme.splitlines()
            if line.startswith("    oidc-trust simulate ") and "--token" in line]  # fmt: skip


def test_the_documented_simulate_lines_run_as_written(capsys, files, inproc_emulator, tmp_path):
    """Each documented invocation, with its placeholders replaced by real files, a token and the issuer,
    runs: no usage error (exit 2), e.g. a ``--jwks`` without the ``--issuer`` and ``--org`` it needs."""
    lines = documented_simulate_lines()
    assert any("--jwks" in line for line in lines) and any("--discovery" in line for line in lines)
    (tmp_path / "token.jwt").write_text(inproc_emulator.test_issuer.mint(MAIN_CLAIMS))
    (tmp_path / "jwks.json").write_text(json.dumps(inproc_emulator.test_issuer.jwks()))
    names = {"policies.yaml": str(files / "wire.json"), "jwks.json": str(tmp_path / "jwks.json"),
             "https://ISSUER": inproc_emulator.test_issuer_url}  # fmt: skip
    for line in lines:
        argv = [names.get(a, a) for a in shlex.split(line)[2:]]
        argv = [f"file://{tmp_path / 'token.jwt'}" if a.startswith("file://") else a for a in argv]
        code, _, err = run(capsys, "simulate", *argv, "--team", "platform")
        assert code == 0, (line, err)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--policies", "{d}/missing.yaml", "--claims", "{d}/claims.json"], "policies file '{d}/missing.yaml': No such file or directory"),
        (["--policies", "{d}/bad.yaml", "--claims", "{d}/claims.json"], "policies file '{d}/bad.yaml' is neither JSON nor YAML (line"),
        (["--policies", "{d}/scalar.yaml", "--claims", "{d}/claims.json"], "holds no list of policies"),
        (["--policies", "{d}/invalid.json", "--claims", "{d}/claims.json"], "policies[0].token_type: must be one of organization, team, personal, runner, got 'robot'"),
        (["--policies", "{d}/wire.json", "--claims", "{d}/list.json"], "claims file '{d}/list.json' must hold one JSON/YAML object"),
        (["--policies", "{d}/wire.json", "--claims", "{d}/claims.json", "--token-type", "organization", "--team", "t"], "request: an organization token names no team"),
        (["--policies", "{d}/wire.json", "--claims", "{d}/claims.json", "--team", "a", "--user", "b"], "name only one of team, user or runner"),
        (["--policies", "{d}/wire.json", "--token", "nonsense"], "--token: must be JWT or 'file://filepath'. Got 'nonsense'"),
        (["--policies", "{d}/wire.json", "--token", "file://{d}/missing"], "reading token from file '{d}/missing'"),
        (["--policies", "{d}/wire.json", "--claims", "{d}/claims.json", "--jwks", "{d}/claims.json"], "--jwks, --discovery, --issuer and --org verify a --token"),
        (["--policies", "{d}/wire.json"], "one of the arguments --claims --token is required"),
    ],
)
def test_simulate_bad_inputs_exit_2_with_one_line(capsys, files, argv, message):
    (files / "bad.yaml").write_text("policies: [\n  - {decision: allow\n")
    (files / "scalar.yaml").write_text("just text\n")
    (files / "invalid.json").write_text(json.dumps([{"decision": "allow", "tokenType": "robot", "rules": {"sub": "x"}}]))
    (files / "list.json").write_text("[1, 2]")
    d = str(files)
    code, out, err = run(capsys, "simulate", *[a.replace("{d}", d) for a in argv])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert message.replace("{d}", d) in err


def test_simulate_from_stdin(files):
    out = subprocess.run(
        [sys.executable, "-m", "pulumi_oidc_trust.cli", "simulate", "--policies", "-", "--claims", str(files / "claims.json"), "--team", "platform"],
        cwd=ROOT, input=yaml.safe_dump(SNAKE), capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr


# -- lint -------------------------------------------------------------------------------------------


def test_lint_clean_exits_0(capsys, files):
    code, out, _ = run(capsys, "lint", "--issuer", GH, "--policies", str(files / "wire.json"), "--org", "acme")
    assert code == 0
    assert "OIDC008 warning" in out and "0 error(s)" in out


def test_lint_errors_exit_1_and_name_policy_claim_fix(capsys, tmp_path):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump([{"decision": "allow", "token_type": "organization", "rules": {"aud": audience_for("acme"), "sub": "repo:*"}}]))
    code, out, _ = run(capsys, "lint", "--issuer", GH, "--policies", str(tmp_path / "p.yaml"))
    assert code == 1
    assert "OIDC002 error   policy 0" in out and "OIDC003 error   policy 0 (allow organization token): sub 'repo:*'" in out
    assert "    fix: " in out


def test_lint_json_shape_and_waivers(capsys, tmp_path):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump([{"decision": "allow", "token_type": "organization", "rules": {"aud": audience_for("acme"), "repository_owner_id": "1", "sub": "repo:acme/site.io:ref:refs/heads/main"}}]))
    code, out, _ = run(capsys, "lint", "--issuer", GH, "--policies", str(tmp_path / "p.yaml"), "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["errors"] == 0
    for finding in data["findings"]:
        assert {"id", "severity", "policy", "claim", "message", "fix"} <= set(finding)
    assert {f["id"] for f in data["findings"]} == {"OIDC008", "OIDC012"}
    code, out, _ = run(capsys, "lint", "--issuer", GH, "--policies", str(tmp_path / "p.yaml"), "--format", "json", "--waive", "OIDC012=the repository is really called site.io")
    data = json.loads(out)
    assert [f["id"] for f in data["waived"]] == ["OIDC012"] and data["waived"][0]["waived"].startswith("the repository")


def test_lint_waiving_an_error_exits_0(capsys, tmp_path):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump([{"decision": "allow", "token_type": "organization", "rules": {"aud": audience_for("acme")}}]))
    assert run(capsys, "lint", "--policies", str(tmp_path / "p.yaml"))[0] == 1
    assert run(capsys, "lint", "--policies", str(tmp_path / "p.yaml"), "--waive", "OIDC001=a single-purpose private issuer")[0] == 0


@pytest.mark.parametrize(
    "waiver,message",
    [
        ("OIDC001", "--waive 'OIDC001': write RULE_ID=REASON"),
        ("OIDC001=", "lint waiver 'OIDC001' has no reason"),
        ("OIDC1=x", "lint waiver 'OIDC1' names no lint rule"),
    ],
)
def test_lint_bad_waivers_exit_2(capsys, files, waiver, message):
    code, out, err = run(capsys, "lint", "--policies", str(files / "wire.json"), "--waive", waiver)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1


def test_lint_issuer_settings(capsys):
    code, out, _ = run(capsys, "lint", "--issuer", "http://127.0.0.1:8080/test-issuer", "--format", "json")
    assert code == 0 and [f["severity"] for f in json.loads(out)["findings"]] == ["warning"]
    code, out, _ = run(capsys, "lint", "--issuer", GH, "--max-expiration", "2h", "--format", "json")
    assert code == 0 and [f["id"] for f in json.loads(out)["findings"]] == ["OIDC016"]
    code, out, _ = run(capsys, "lint", "--issuer", "http://issuer.example.com")
    assert code == 1 and "OIDC017 error" in out


def test_lint_without_issuer_says_what_was_skipped(capsys, files):
    code, out, _ = run(capsys, "lint", "--policies", str(files / "wire.json"), "--format", "json")
    assert code == 0 and "OIDC002" in {s["id"] for s in json.loads(out)["skipped"]}


def test_lint_needs_something_to_lint(capsys):
    code, out, err = run(capsys, "lint")
    assert code == 2 and "give --policies FILE" in err


def test_lint_bad_max_expiration(capsys):
    code, _, err = run(capsys, "lint", "--issuer", GH, "--max-expiration", "forever")
    assert code == 2 and "--max-expiration: 'forever' is not a duration" in err


# -- claims -----------------------------------------------------------------------------------------


def test_claims_text_is_labelled_unverified(capsys, token):
    code, out, err = run(capsys, "claims", token)
    assert code == 0 and err == ""
    assert out.startswith("# unverified")
    assert '"sub": "repo:acme/infra:ref:refs/heads/main"' in out and '"alg": "RS256"' in out
    assert "exp: " in out and token not in out


def test_claims_json(capsys, token, tmp_path):
    (tmp_path / "t").write_text(token)
    code, out, _ = run(capsys, "claims", f"file://{tmp_path}/t", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["verified"] is False and data["claims"]["repository_owner_id"] == 4242
    assert set(data) == {"verified", "note", "header", "claims"}
    assert token not in out


@pytest.mark.parametrize("value", ["abc", "eyJhbGciOiJSUzI1NiJ9.bm90LWpzb24.c2ln", "x" * 64])
def test_claims_bad_token_exit_2_without_echo(capsys, value):
    code, out, err = run(capsys, "claims", value)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    if len(value) > 24:
        assert value not in err


# -- render -----------------------------------------------------------------------------------------


def test_render_yaml_to_stdout(capsys):
    code, out, _ = run(capsys, "render", "--organization", "acme", "--namespace", "ci", "--team", "platform", "--expiration", "1h", "--command", "pulumi whoami", "--command", "pulumi preview")
    assert code == 0
    kinds = [doc["kind"] for doc in yaml.safe_load_all(out)]
    assert kinds == ["ServiceAccount", "ConfigMap", "Job"]


def test_render_eks_needs_the_role_annotation(capsys, tmp_path):
    code, out, err = run(capsys, "render", "--organization", "acme", "--token", "eks")
    assert code == 2 and out == "" and "eks.amazonaws.com/role-arn" in err
    code, out, _ = run(
        capsys, "render", "--organization", "acme", "--token", "eks", "--out", str(tmp_path / "out"),
        "--service-account-annotation", "eks.amazonaws.com/role-arn=arn:aws:iam::123456789012:role/pulumi",
    )
    assert code == 0
    [account] = [m for m in yaml.safe_load_all(Path(out.strip()).read_text()) if m["kind"] == "ServiceAccount"]
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(":role/pulumi")


def test_render_json_to_a_directory(capsys, tmp_path):
    code, out, _ = run(capsys, "render", "--organization", "acme", "--out", str(tmp_path / "out"), "--format", "json")
    assert code == 0
    written = Path(out.strip())
    assert written.parent == tmp_path / "out" and [m["kind"] for m in json.loads(written.read_text())] == ["ServiceAccount", "ConfigMap", "Job"]


def test_render_bad_argument_exit_2(capsys):
    code, out, err = run(capsys, "render", "--organization", "")  # the old spelling still works
    assert code == 2 and out == "" and "--org: '' is empty" in err and len(err.strip().splitlines()) == 1


def test_console_script_is_declared():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'oidc-trust = "pulumi_oidc_trust.cli.main:main"' in text


# -- what the service returns ----------------------------------------------------------------------


@pytest.fixture
def service_answers(inproc_emulator, tmp_path):
    """Whole ``GET .../auth/policies/oidcissuers/ID`` answers, saved as a user would save them."""
    issuer = inproc_emulator.register_issuer()
    path = f"/api/orgs/acme/auth/policies/oidcissuers/{issuer['id']}"
    (tmp_path / "new-issuer.json").write_text(inproc_emulator.get(path).text)
    inproc_emulator.set_policies(issuer["id"], [{**WIRE[1], "authorizedPermissions": None}])
    (tmp_path / "managed.json").write_text(inproc_emulator.get(path).text)
    return tmp_path


def test_simulate_reads_a_new_issuers_default_document_and_says_it_denies_everything(capsys, service_answers, files):
    code, out, err = run(capsys, "simulate", "--policies", str(service_answers / "new-issuer.json"),
                         "--claims", str(files / "claims.json"), "--team", "platform")
    assert (code, err) == (1, "")
    assert out.startswith("DENIED") and "denies every exchange" in out
    code, out, _ = run(capsys, "simulate", "--policies", str(service_answers / "new-issuer.json"),
                       "--claims", str(files / "claims.json"), "--format", "json")
    body = json.loads(out)
    assert code == 1 and body["allowed"] is False
    assert body["document"]["service_default"] is True and "denies every exchange" in body["document"]["meaning"]


def test_lint_reads_a_new_issuers_default_document(capsys, service_answers):
    code, out, err = run(capsys, "lint", "--issuer", GH, "--org", "acme",
                         "--policies", str(service_answers / "new-issuer.json"))
    assert (code, err) == (0, "")
    assert "denies every exchange" in out
    code, out, _ = run(capsys, "lint", "--policies", str(service_answers / "new-issuer.json"), "--format", "json")
    assert code == 0 and json.loads(out)["document"]["service_default"] is True


def test_the_tools_read_a_whole_get_answer_of_a_managed_issuer(capsys, service_answers, files):
    answer = str(service_answers / "managed.json")
    code, out, err = run(capsys, "simulate", "--policies", answer, "--claims", str(files / "claims.json"), "--team", "platform")
    assert (code, err) == (0, "") and out.startswith("ALLOWED by policy 0")
    assert "denies every exchange" not in out
    code, _out, err = run(capsys, "lint", "--issuer", GH, "--org", "acme", "--policies", answer)
    assert code in (0, 1) and err == ""


def test_render_warns_of_a_mutable_image_tag_and_not_of_a_digest(capsys):
    code, out, err = run(capsys, "render", "--org", "acme", "--image", "pulumi/pulumi:3.271.0")
    assert code == 0 and "OIDC041 warning" in err and "@sha256:<digest>" in err
    pinned = "pulumi/pulumi:3.272.0@sha256:" + "ab" * 32
    code, out, err = run(capsys, "render", "--organization", "acme", "--image", pinned)
    assert code == 0 and "OIDC041" not in err
