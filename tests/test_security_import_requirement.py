"""The imported program's requirements.txt names this project exactly as it is installed here
(security review 2, fault 2): never a bare name an index could answer with anything.

One rule, ``importer.requirement_line``, reads the installed distribution's PEP 610 record
(``direct_url.json``): a local folder (editable or not) gives ``NAME @ file:///...``, a wheel its
URL with the recorded ``#sha256=``, a VCS checkout its commit, an index install an exact version.
No ``--hash`` option is ever written: one would make pip demand hashes for every dependency.
"""

from __future__ import annotations

import json

import pytest
from packaging.requirements import Requirement

from pulumi_oidc_trust.cli import importer
from pulumi_oidc_trust.cli.main import InputError, main

from . import audit_seed

NAME = "pulumi-oidc-trust"
WHEEL = "pulumi_oidc_trust-0.1.0-py3-none-any.whl"
DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def line_of(record: dict | None, version: str = "0.1.0") -> str:
    return importer.requirement_line(version, None if record is None else json.dumps(record))


def test_a_local_folder_is_named_by_its_path():
    line = line_of({"url": "file:///home/me/src/pulumi-oidc-trust", "dir_info": {}})
    assert line == f"{NAME} @ file:///home/me/src/pulumi-oidc-trust"
    assert Requirement(line).url == "file:///home/me/src/pulumi-oidc-trust"


def test_an_editable_install_is_named_by_its_path():
    line = line_of({"url": "file:///work/checkout", "dir_info": {"editable": True}})
    assert line == f"{NAME} @ file:///work/checkout"


def test_a_wheel_is_named_by_its_url_and_recorded_hash():
    url = f"https://packages.example.internal/simple/{WHEEL}"
    line = line_of({"url": url, "archive_info": {"hash": f"sha256={DIGEST}", "hashes": {"sha256": DIGEST}}})
    assert line == f"{NAME} @ {url}#sha256={DIGEST}"
    assert Requirement(line).name == NAME and Requirement(line).url.endswith(f"#sha256={DIGEST}")
    # A local wheel, and the older record that has only the deprecated "hash" key.
    line = line_of({"url": f"file:///wheels/{WHEEL}", "archive_info": {"hash": f"sha256={DIGEST}"}})
    assert line == f"{NAME} @ file:///wheels/{WHEEL}#sha256={DIGEST}"


def test_a_vcs_checkout_is_named_by_its_commit():
    line = line_of({"url": "https://git.example.internal/platform/pulumi-oidc-trust",
                    "vcs_info": {"vcs": "git", "commit_id": "0123abcd" * 5, "requested_revision": "main"},
                    "subdirectory": "lib"})
    assert line == f"{NAME} @ git+https://git.example.internal/platform/pulumi-oidc-trust@{'0123abcd' * 5}#subdirectory=lib"


def test_an_index_install_is_pinned_to_its_exact_version():
    assert line_of(None, "0.1.0") == f"{NAME}==0.1.0"
    assert str(Requirement(line_of(None, "1.2.3.post1")).specifier) == "==1.2.3.post1"


@pytest.mark.parametrize("text", ["not json", "{}", json.dumps({"url": 7}),
                                  json.dumps({"url": "file:///a b"}), json.dumps({"url": "file:///a\nevil==1"}),
                                  json.dumps({"url": "https://x", "vcs_info": {"vcs": "git"}})])
def test_a_record_that_names_nothing_usable_is_refused(text):
    with pytest.raises(importer.RequirementError, match="direct_url.json"):
        importer.requirement_line("0.1.0", text)


def test_requirements_txt_has_no_bare_name_and_no_hash_option():
    for record in ({"url": "file:///w", "dir_info": {}}, None,
                   {"url": f"file:///w/{WHEEL}", "archive_info": {"hashes": {"sha256": DIGEST}}}):
        text = importer.requirements_txt(line_of(record))
        lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert "--hash" not in text and NAME not in lines
        ours = [Requirement(line) for line in lines if Requirement(line).name == NAME]
        assert len(ours) == 1 and (ours[0].url or str(ours[0].specifier).startswith("=="))
        assert "Check that line before you commit the program" in text


def _fake_distribution(folder, suffix: str, version: str, files: dict[str, str]) -> None:
    info = folder / f"pulumi_oidc_trust-{version}.{suffix}" if suffix == "dist-info" else folder / "pulumi_oidc_trust.egg-info"
    info.mkdir(parents=True)
    (info / ("METADATA" if suffix == "dist-info" else "PKG-INFO")).write_text(
        f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\n")
    for name, text in files.items():
        (info / name).write_text(text)


def test_a_checkouts_egg_info_is_passed_over_for_what_an_installer_recorded(tmp_path, monkeypatch):
    """Run from the checkout, Python finds the build's ``*.egg-info`` first (no record, no
    INSTALLER): pinning its version would send pip to an index."""
    checkout, site = tmp_path / "checkout", tmp_path / "site"
    _fake_distribution(checkout, "egg-info", "0.1.0", {})
    _fake_distribution(site, "dist-info", "0.1.0", {
        "INSTALLER": "pip\n", "direct_url.json": json.dumps({"url": "file:///src/x", "dir_info": {"editable": True}})})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(checkout))  # first on the path, as the current folder is
    assert importer.installed_requirement() == f"{NAME} @ file:///src/x"


def test_no_installed_distribution_is_an_input_error(tmp_path, monkeypatch):
    monkeypatch.setattr(importer.metadata, "distributions", lambda name: iter(()))
    with pytest.raises(InputError, match="cannot name pulumi-oidc-trust in the program's requirements.txt"):
        importer.installed_requirement()


def test_the_import_writes_the_installed_line_and_says_what_to_do_next(inproc_emulator, monkeypatch, tmp_path, capsys):
    audit_seed.seed_inproc(inproc_emulator)
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", inproc_emulator.access_token)
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    out = tmp_path / "trust"
    code = main(["import", "--org", audit_seed.ORG, "--api-url", inproc_emulator.base_url, "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    expected = importer.installed_requirement()
    assert (out / "requirements.txt").read_text().splitlines()[-1] == expected
    assert expected != NAME and (Requirement(expected).url or Requirement(expected).specifier)
    steps = printed.splitlines()
    assert f"its requirements.txt installs pulumi-oidc-trust as it is installed here: {expected}" in steps
    assert "  check that line before you commit the program: it must name the build your organization reviewed," in steps
    assert steps[steps.index("next steps:") + 1:steps.index("next steps:") + 4] == [
        f"  cd {out}", "  pulumi stack init STACK", f"  pulumi config set oidc:apiUrl {inproc_emulator.base_url}"]
    assert steps[-1].startswith("  pulumi up    # the first up adopts what exists and writes nothing")
