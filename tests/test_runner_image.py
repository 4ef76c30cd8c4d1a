"""`make runner-image`'s OCI writer (tools/runner-image/oci.py): the archive `ctr images import`
reads, with digests that pin the image. (The image itself is built and run by the node tests.)"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import tarfile

from harness.dynamic_host import ROOT

spec = importlib.util.spec_from_file_location("oci", ROOT / "tools" / "runner-image" / "oci.py")
oci = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oci)


def _layer(path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_the_archive_is_an_image_layout_whose_digests_pin_every_blob(tmp_path):
    _layer(tmp_path / "base.tar", {"etc/os-release": b"ID=debian\n"})
    tree = tmp_path / "bin"
    tree.mkdir()
    (tree / "pulumi").write_bytes(b"#!/bin/sh\necho v3\n")
    (tree / "pulumi").chmod(0o755)
    out = tmp_path / "image.tar"
    assert oci.main([str(out), "localhost/x/runner:1", "--layer", str(tmp_path / "base.tar"),
                     "--tree", f"{tree}=pulumi/bin", "--env", "PATH=/pulumi/bin:/usr/bin"]) == 0

    with tarfile.open(out) as tar:
        blobs = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    for name, data in blobs.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1], name
    (entry,) = json.loads(blobs["index.json"])["manifests"]
    assert entry["annotations"]["io.containerd.image.name"] == "localhost/x/runner:1"
    manifest = json.loads(blobs[f"blobs/sha256/{entry['digest'][7:]}"])
    config = json.loads(blobs[f"blobs/sha256/{manifest['config']['digest'][7:]}"])
    assert config["config"]["Env"] == ["PATH=/pulumi/bin:/usr/bin"] and config["os"] == "linux"
    # Uncompressed layers: each diff id is its blob's digest, in order.
    assert config["rootfs"]["diff_ids"] == [layer["digest"] for layer in manifest["layers"]]
    with tarfile.open(fileobj=io.BytesIO(blobs[f"blobs/sha256/{manifest['layers'][1]['digest'][7:]}"])) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["pulumi/bin/pulumi"].mode == 0o755 and members["pulumi/bin/pulumi"].uid == 0
    assert members["pulumi"].isdir() and members["pulumi/bin"].isdir()


def test_the_same_inputs_give_the_same_digest(tmp_path, capsys):
    _layer(tmp_path / "base.tar", {"a": b"1"})
    digests = []
    for name in ("one.tar", "two.tar"):
        oci.main([str(tmp_path / name), "localhost/x/y:1", "--layer", str(tmp_path / "base.tar")])
        digests.append(capsys.readouterr().out.strip())
    assert digests[0] == digests[1] and digests[0].startswith("localhost/x/y:1@sha256:")
