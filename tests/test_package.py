"""The installed distribution: one package, pulumi_oidc_trust, that never collides with a stack's own
`components/` or `provider/` folders.

The wheel is built from this checkout and installed into a fresh virtualenv (its dependencies come
from the test virtualenv's site-packages, so nothing is downloaded), next to a stack that has folders
of those names; that stack then runs under mocks and imports ours and its own.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

from harness.dynamic_host import ROOT

PACKAGE = "pulumi_oidc_trust"


def source_copy(where: Path) -> Path:
    """The project's tracked files copied to ``where``: pip and setuptools build in the source tree
    (``build/``, ``*.egg-info``), and a test writes nothing into the checkout."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, where / name)
    return where


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = source_copy(tmp_path_factory.mktemp("source"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (path,) = out.glob("pulumi_oidc_trust-*.whl")
    return path


def test_the_wheel_holds_only_pulumi_oidc_trust(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    dist_info = {top for top in tops if top.endswith(".dist-info")}
    assert tops - dist_info == {PACKAGE}
    for sub in ("provider", "components", "emulator", "cli"):
        assert f"{PACKAGE}/{sub}/__init__.py" in names
    # The engine reads this to learn the distribution is no resource plugin (no plugin hunt).
    assert json.loads(zipfile.ZipFile(wheel).read(f"{PACKAGE}/pulumi-plugin.json")) == {"resource": False}
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "oidc-trust = pulumi_oidc_trust.cli.main:main" in zipfile.ZipFile(wheel).read(entry).decode()


# A stack of a user's own, with folders named like ours: its program imports both.
STACK_PROGRAM = textwrap.dedent(
    """
    import pulumi
    from components import local_name            # the stack's own components/
    from provider import LOCAL_PROVIDER            # the stack's own provider/
    from pulumi_oidc_trust import Grant, OidcTrust, github_actions, GITHUB_ISSUER_URL

    trust = OidcTrust(
        local_name("github"),
        organization="acme",
        issuer_url=GITHUB_ISSUER_URL,
        policies=github_actions("acme", "infra", organization="acme", repository_owner_id=1234567,
                                repository_id=7654321, grant=Grant.team("platform")),
        max_expiration_seconds=3600,
    )
    pulumi.export("issuerId", trust.issuer_id)
    pulumi.export("local", LOCAL_PROVIDER)
    """
)

# Runs the program under mocks, then reports what it imported and what a dynamic resource pickled.
DRIVER = textwrap.dedent(
    """
    import base64, json, os, runpy, sys
    sys.path.insert(0, os.getcwd())   # what the language host does for a stack's folder
    import pulumi

    registered = {}

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args):
            registered[(args.typ, args.name)] = args.inputs
            return args.name + "-id", {**args.inputs, "issuer_id": "issuer-1", "policy_id": "p-1"}
        def call(self, args):
            return {}

    pulumi.runtime.set_mocks(Mocks(), project="clash", stack="dev", preview=False)
    exports = {}

    @pulumi.runtime.test
    def program():
        runpy.run_path("__main__.py", run_name="__main__")
        return pulumi.Output.all(**pulumi.runtime.get_root_resource().outputs).apply(exports.update)

    program()
    import components, provider, pulumi_oidc_trust, pulumi_oidc_trust.provider.issuer as ours
    import dill
    (pickled,) = [i["__provider"] for (typ, _), i in registered.items() if "url" in i and "__provider" in i]
    print(json.dumps({
        "exports": exports,
        "components": components.__file__,
        "provider": provider.__file__,
        "ours": pulumi_oidc_trust.__file__,
        "issuer_module": ours.__file__,
        "pickled_class": type(dill.loads(base64.b64decode(pickled))).__module__,
    }))
    """
)


def _fresh_venv(where: Path) -> Path:
    """A virtualenv without pip whose dependencies are the test virtualenv's, minus this project."""
    venv.create(where, with_pip=False)
    python = where / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    # A plain path line: the test virtualenv's own .pth files (our editable install) are not run.
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def test_an_installed_wheel_runs_beside_a_stacks_own_components_and_provider(wheel, tmp_path):
    python = _fresh_venv(tmp_path / "venv")
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", "--target", site, str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr

    stack = tmp_path / "stack"
    (stack / "components").mkdir(parents=True)
    (stack / "provider").mkdir()
    (stack / "components" / "__init__.py").write_text("def local_name(n):\n    return 'my-' + n\n")
    (stack / "provider" / "__init__.py").write_text("LOCAL_PROVIDER = 'the stack\\'s own'\n")
    (stack / "__main__.py").write_text(STACK_PROGRAM)
    (stack / "driver.py").write_text(DRIVER)

    run = subprocess.run([str(python), "driver.py"], cwd=stack, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["exports"] == {"issuerId": "issuer-1", "local": "the stack's own"}
    assert seen["components"] == str(stack / "components" / "__init__.py")
    assert seen["provider"] == str(stack / "provider" / "__init__.py")
    # Ours came from the wheel, not from this checkout.
    assert seen["ours"].startswith(site) and seen["issuer_module"].startswith(site)
    assert seen["pickled_class"] == "pulumi_oidc_trust.provider.issuer"


def test_nothing_in_the_checkout_imports_the_folders_by_their_top_level_names():
    # A top-level `import provider` would load a second copy of every module (and pickle the wrong path).
    offenders = []
    for path in ROOT.rglob("*.py"):
        if any(part in {".venv", "venv", ".git", "node_modules"} for part in path.parts) or path == Path(__file__):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            for name in ("provider", "components", "emulator", "oidc_trust_cli", "cli"):
                if stripped.startswith((f"from {name}.", f"from {name} import", f"import {name}")):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {stripped}")
    assert offenders == []
