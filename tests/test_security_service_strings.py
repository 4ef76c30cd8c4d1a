"""Strings from the service are data, never code or layout (security review 2, faults 1 and 7).

Whoever may name an issuer in an organization chooses its name, and the service also hands back
URLs, ids and policy patterns. ``oidc-trust import`` writes them into a program others run with
``pulumi up``; ``oidc-trust audit`` prints them on a terminal and into YAML and SARIF files. A
property test over names drawn from the Unicode categories Cc, Cs, Zl and Zp and Python's keywords
checks every output: the generated program parses to exactly the expected statements, each string
comes back as a literal, the YAML file has exactly its three keys, SARIF's line numbers still
point at the policies, and the text report has no character a terminal would act on.
"""

from __future__ import annotations

import ast
import json
import keyword
import re
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pulumi_oidc_trust.cli import audit as audit_cli
from pulumi_oidc_trust.cli import importer
from pulumi_oidc_trust.cli.main import InputError, main
from pulumi_oidc_trust.provider import audit as model
from pulumi_oidc_trust.provider.display import shown
from pulumi_oidc_trust.provider.wire import audience_for

from . import audit_seed
from .test_audit import MOCK_RUNNER

ORG = "acme"
BREAKS = ["\n", "\r", "\r\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]

hostile_piece = st.one_of(
    st.sampled_from(keyword.kwlist),
    st.text(st.characters(categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=4),
    st.sampled_from(BREAKS + ["'", '"', '"""', "\\", "#", " ", "=", "(", ")", "a", "1", "-", "é", "\U0001f600", "\x1b[2J"]),
)
hostile = st.lists(hostile_piece, min_size=1, max_size=6).map("".join)


def broad_policy(value: str) -> dict:
    """An allow policy the linter flags (OIDC004/OIDC015), carrying ``value`` in a rule."""
    return {"decision": "allow", "tokenType": "organization", "authorizedPermissions": ["admin"],
            "rules": {"aud": audience_for(ORG), "sub": "repo:acme/*", "job_workflow_ref": "v" + value}}


def report_of(names: list[str]) -> model.OrgAudit:
    pairs = [
        ({"id": f"{n}{name}", "name": name, "url": f"https://issuer.example/{n}{name}", "lastUsed": name},
         {"policies": [broad_policy(name)], "version": 2})
        for n, name in enumerate(names)
    ]
    report = model.audit_organization(ORG, pairs)
    assert all(item.document == model.POLICIES for item in report.issuers)
    return report


def keywords(call: ast.Call) -> dict:
    return {k.arg: k.value for k in call.keywords}


def printable_lines(text: str) -> bool:
    """Every character printable but the line feeds that separate the lines."""
    return all(c.isprintable() or c == "\n" for c in text)


NAMES = st.lists(hostile, min_size=1, max_size=3)
HOSTILE_EXAMPLES = [
    "x\nimport os; os.system('echo INJECTED')",
    "x\rimport os",
    "lambda", "class", "import",
    "a\ud800b",
    "\u2028print(1)\u2029",
    "\x1b[2J\x1b[Hverdict: ok",
    "\x00",
    'a"""b',
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=NAMES)
@example(names=HOSTILE_EXAMPLES[:3]).via("the reported injections")
@example(names=HOSTILE_EXAMPLES[3:6]).via("surrogates and line separators")
@example(names=HOSTILE_EXAMPLES[6:]).via("escapes, NUL and triple quotes")
def test_import_writes_every_service_string_as_a_literal(names):
    report = report_of(names)
    source = importer.main_py(report)
    assert printable_lines(source)
    source.encode("utf-8")  # no surrogate is left to fail the write
    tree = ast.parse(source)

    # Exactly: the docstring, two imports, ORG, then per issuer its OidcIssuer and its policy.
    head, body = tree.body[:4], tree.body[4:]
    assert [type(s) for s in head] == [ast.Expr, ast.ImportFrom, ast.ImportFrom, ast.Assign]
    assert len(body) == 2 * len(names)
    slugs = model.issuer_slugs(report.issuers)
    variables = []
    for item, issuer, policy in zip(report.issuers, body[0::2], body[1::2]):
        assert isinstance(issuer, ast.Assign) and isinstance(issuer.value, ast.Call)
        assert isinstance(issuer.value.func, ast.Name) and issuer.value.func.id == "OidcIssuer"
        (target,) = issuer.targets
        assert isinstance(target, ast.Name) and not keyword.iskeyword(target.id)
        variables.append(target.id)
        args = keywords(issuer.value)
        assert ast.literal_eval(issuer.value.args[0]) == slugs[item.id]
        assert ast.literal_eval(args["name"]) == item.name  # each name round-trips as a literal
        assert ast.literal_eval(args["url"]) == item.url
        assert isinstance(policy, ast.Expr) and isinstance(policy.value, ast.Call)
        assert policy.value.func.id == "OidcIssuerPolicy"
        args = keywords(policy.value)
        assert ast.literal_eval(args["issuer_url"]) == item.url
        declared = ast.literal_eval(args["policies"])
        assert declared[0]["rules"]["job_workflow_ref"] == "v" + item.name
        assert ast.unparse(args["issuer_id"]) == f"{target.id}.issuer_id"
    assert len(set(variables)) == len(variables)
    # No other name is used anywhere: nothing was injected.
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert used == {"ORG", "OidcIssuer", "OidcIssuerPolicy", *variables}


@settings(max_examples=150, deadline=None)
@given(names=NAMES)
@example(names=HOSTILE_EXAMPLES[:5]).via("line breaks and keywords")
@example(names=HOSTILE_EXAMPLES[5:]).via("surrogates, escapes, NUL")
def test_audit_yaml_and_sarif_keep_their_shape(names):
    report = report_of(names)
    slugs = model.issuer_slugs(report.issuers)
    files = {item.id: audit_cli.document_file(item, slugs[item.id]) for item in report.issuers}
    for item in report.issuers:
        doc = files[item.id]
        assert printable_lines(doc.text) and doc.text.split("\n") == doc.text.splitlines() + [""]
        data = yaml.safe_load(doc.text)
        assert list(data) == ["issuer", "version", "policies"]  # no key added by a name
        assert data["issuer"]["name"] == item.name and data["issuer"]["url"] == item.url
        lines = doc.text.split("\n")
        assert lines[doc.issuer_line - 1] == "issuer:"
        for (start, end), policy in zip(doc.policy_lines, item.raw_policies):
            assert yaml.safe_load("\n".join(lines[start - 1:end])) == [policy]

    sarif = audit_cli.render_sarif(report, files)
    results = sarif["runs"][0]["results"]
    assert results and {r["properties"]["issuerId"] for r in results} == {i.id for i in report.issuers}
    by_id = {item.id: item for item in report.issuers}
    for result in results:
        item = by_id[result["properties"]["issuerId"]]
        assert result["properties"]["issuerUrl"] == item.url  # the exact value, as data
        assert printable_lines(result["message"]["text"]) and "\n" not in result["message"]["text"]
        location = result["locations"][0]
        assert location["logicalLocations"][0]["fullyQualifiedName"].isprintable()
        region = location["physicalLocation"]["region"]
        lines = files[item.id].text.split("\n")
        if result["properties"]["policy"] is None:  # an issuer finding points at the issuer
            assert lines[region["startLine"] - 1] == "issuer:"
        else:
            chunk = "\n".join(lines[region["startLine"] - 1:region["endLine"]])
            assert yaml.safe_load(chunk) == [item.raw_policies[result["properties"]["policy"]]]


COLOUR = re.compile(r"\x1b\[[0-9;]*m")


@settings(max_examples=150, deadline=None)
@given(names=NAMES)
@example(names=["\x1b[2J\x1b[H", "ok\x1b[8m"]).via("terminal escapes that hide the verdict")
def test_audit_text_shows_service_strings_escaped(names):
    report = report_of(names)
    for colour in (False, True):
        text = audit_cli.render_text(report, colour=colour)
        plain = COLOUR.sub("", text)
        assert printable_lines(plain)  # no ESC but our colours, no line break but ours
        blocks = plain.strip().split("\n\n")
        assert len(blocks) == 1 + len(names) and blocks[0].endswith(f"verdict: {report.verdict}")
        for item, block in zip(report.issuers, blocks[1:]):
            assert block.startswith(shown(item.name) + "  ")
            assert block.splitlines()[-1] == f"  verdict: {item.verdict}"


def test_shown_escapes_what_a_terminal_or_parser_acts_on():
    assert shown("github-actions") == "github-actions"
    assert shown("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert shown("l1\nl2\rl3\u2028\u2029\x85\x0b\x0c\x1c\x1d\x1e") == "l1\\nl2\\rl3\\u2028\\u2029\\x85\\x0b\\x0c\\x1c\\x1d\\x1e"
    assert shown("\x00\ud800\u202e") == "\\x00\\ud800\\u202e"  # NUL, a lone surrogate, a bidi override
    assert shown("émoji \U0001f600 back\\slash") == "émoji \U0001f600 back\\slash"  # printable: as it is
    assert shown(42) == "42"


# -- end to end: the emulator holds the hostile names ---------------------------------------------


@pytest.fixture
def hostile_org(inproc_emulator, monkeypatch, tmp_path):
    """The seeded organization, its first issuers renamed as an attacker would."""
    ids = audit_seed.seed_inproc(inproc_emulator)
    renames = {"github-actions": "gh\nprint('INJECTED-LF')", "prod-cluster": "k8s\rprint('INJECTED-CR')",
               "legacy-gke": "lambda", "circleci retired": "ok\u2028\x85\x1b[2J"}
    with inproc_emulator.app.store.transaction() as state:
        for old, new in renames.items():
            state.data["issuers"][ids[old]]["name"] = new
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", inproc_emulator.access_token)
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    inproc_emulator.renames = renames
    return inproc_emulator


def test_an_imported_program_with_hostile_names_runs_no_injected_code(hostile_org, capsys, tmp_path):
    out = tmp_path / "imported"
    code = main(["import", "--org", audit_seed.ORG, "--api-url", hostile_org.base_url, "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    source = (out / "__main__.py").read_text(encoding="utf-8")
    compile(source, "__main__.py", "exec")
    proc = subprocess.run([sys.executable, "-c", MOCK_RUNNER, str(out / "__main__.py")], cwd=out,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert "INJECTED-LF" not in lines and "INJECTED-CR" not in lines  # the injected print never ran
    resources = json.loads(lines[-1])
    names = {r["inputs"]["name"] for r in resources if r["type"].endswith(":OidcIssuer")}
    assert set(hostile_org.renames.values()) <= names  # each name exactly as the service holds it


def test_audit_text_of_hostile_names_keeps_the_verdict_visible(hostile_org, capsys):
    code = main(["audit", "--org", audit_seed.ORG, "--api-url", hostile_org.base_url])
    out = capsys.readouterr().out
    assert code == 1
    assert printable_lines(out) and "\x1b" not in out
    assert out.splitlines()[0].endswith("verdict: unsafe")
    assert "gh\\nprint('INJECTED-LF')  https://" in out and "ok\\u2028\\x85\\x1b[2J  https://" in out


def test_an_error_quoting_hostile_names_is_one_printable_line(hostile_org, capsys):
    code = main(["import", "--org", audit_seed.ORG, "--api-url", hostile_org.base_url, "--print", "--issuer", "no-such-id"])
    err = capsys.readouterr().err
    assert code == 2 and "no-such-id" in err  # the message lists the organization's issuers by name
    assert "(ok \\x1b[2J)" in err and "(gh print('INJECTED-LF'))" in err  # line breaks: one space
    assert err.endswith("\n") and err[:-1].isprintable()


def test_a_lone_surrogate_is_refused_and_nothing_is_written(hostile_org, capsys, tmp_path):
    with hostile_org.app.store.transaction() as state:
        issuer = next(i for i in state.data["issuers"].values() if i["name"] == "lambda")
        issuer["name"] = "half\ud800"
    out = tmp_path / "imported"
    code = main(["import", "--org", audit_seed.ORG, "--api-url", hostile_org.base_url, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"{issuer['id']} ('half\\ud800') hold a lone surrogate" in err and "nothing was written" in err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".imported")]


# -- the output folder: whole or not at all -------------------------------------------------------


FILES = {"Pulumi.yaml": "name: x\n", "__main__.py": "pass\n", "requirements.txt": "pulumi\n"}


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    out = tmp_path / "new" / "deeper" / "program"
    real = importer.Path.write_bytes
    calls = []

    def failing(self, data):
        calls.append(self.name)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(importer.Path, "write_bytes", failing)
    with pytest.raises(InputError, match="No space left on device; nothing was written"):
        importer.write_program(out, FILES)
    assert list(tmp_path.iterdir()) == []  # no program, no staging folder, no parent made for it


def test_a_string_that_cannot_be_encoded_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "program"
    with pytest.raises(InputError, match="nothing was written"):
        importer.write_program(out, {**FILES, "__main__.py": "x = '\ud800'\n"})
    assert list(tmp_path.iterdir()) == []


def test_the_program_is_written_into_a_new_or_empty_folder_only(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    importer.write_program(empty, FILES)
    assert sorted(p.name for p in empty.iterdir()) == sorted(FILES)
    assert {p.name: p.read_text() for p in empty.iterdir()} == FILES
    held = tmp_path / "held"
    held.mkdir()
    (held / "notes.md").write_text("mine")
    with pytest.raises(InputError, match="already holds notes.md; give an empty or new folder"):
        importer.write_program(held, FILES)
    assert [p.name for p in held.iterdir()] == ["notes.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "held"]  # no staging folder left
