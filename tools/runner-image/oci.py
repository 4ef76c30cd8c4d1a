"""Write an OCI image archive (an image layout in one tar) from layer tarballs, with no registry
and no container engine: what `ctr images import` reads.

    python3 oci.py OUT.tar NAME:TAG --layer A.tar [--layer B.tar ...] [--env K=V ...]
                   [--entrypoint CMD] [--tree DIR=PREFIX ...]

``--tree DIR=PREFIX`` makes a layer of its own from a folder (files under PREFIX/, owned by root,
modes kept, symlinks resolved). Layers are uncompressed, so a layer's digest is its diff id.
Prints ``NAME:TAG@sha256:<manifest digest>``: the reference to pin a pod's image to.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path

LAYER = "application/vnd.oci.image.layer.v1.tar"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
EPOCH = 0  # every generated entry's mtime: the same inputs give the same layer


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_layer(folder: Path, prefix: str, out: Path) -> None:
    """A layer holding ``folder``'s files under ``prefix`` (root-owned, sorted, fixed mtime)."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        parts = Path(prefix.strip("/")).parts
        for depth in range(1, len(parts) + 1):
            info = tarfile.TarInfo("/".join(parts[:depth]))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, EPOCH
            tar.addfile(info)
        for path in sorted(folder.rglob("*")):
            name = "/".join([*parts, *path.relative_to(folder).parts])
            real = path.resolve()
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid = EPOCH, 0, 0
            if real.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                continue
            info.size = real.stat().st_size
            info.mode = 0o755 if os.access(real, os.X_OK) else 0o644
            with open(real, "rb") as f:
                tar.addfile(info, f)


def write_archive(out: Path, reference: str, layers: list[Path], env: list[str], entrypoint: list[str]) -> str:
    """The archive at ``out``; returns the manifest's digest."""
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": env, **({"Entrypoint": entrypoint} if entrypoint else {}), "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [{"created_by": "pulumi-oidc-trust tools/runner-image"}],
    }
    layer_descriptors = []
    for layer in layers:
        digest = sha256_of(layer)
        config["rootfs"]["diff_ids"].append(f"sha256:{digest}")
        layer_descriptors.append({"mediaType": LAYER, "digest": f"sha256:{digest}", "size": layer.stat().st_size})
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": "sha256:" + hashlib.sha256(config_bytes).hexdigest(),
                   "size": len(config_bytes)},
        "layers": layer_descriptors,
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest = hashlib.sha256(manifest_bytes).hexdigest()
    name, _, tag = reference.rpartition(":")
    index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": MANIFEST, "digest": f"sha256:{manifest_digest}", "size": len(manifest_bytes),
            # containerd names the imported image from the first; the second is the OCI spelling.
            "annotations": {"io.containerd.image.name": reference, "org.opencontainers.image.ref.name": tag},
        }],
    }  # fmt: skip

    def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), EPOCH, 0o644
        tar.addfile(info, io.BytesIO(data))

    tmp = out.with_suffix(".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add_bytes(tar, "index.json", json.dumps(index).encode())
        add_bytes(tar, f"blobs/sha256/{manifest_digest}", manifest_bytes)
        add_bytes(tar, f"blobs/sha256/{manifest['config']['digest'][7:]}", config_bytes)
        for layer, descriptor in zip(layers, layer_descriptors):
            info = tar.gettarinfo(str(layer), arcname=f"blobs/sha256/{descriptor['digest'][7:]}")
            info.mtime, info.uid, info.gid, info.uname, info.gname = EPOCH, 0, 0, "", ""
            with open(layer, "rb") as f:
                tar.addfile(info, f)
    tmp.replace(out)
    return f"sha256:{manifest_digest}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("reference", help="NAME:TAG the image is imported as")
    parser.add_argument("--layer", type=Path, action="append", default=[])
    parser.add_argument("--tree", action="append", default=[], metavar="DIR=PREFIX")
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--entrypoint", action="append", default=[])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.out.parent) as scratch:
        layers = list(args.layer)
        for number, spec in enumerate(args.tree):
            folder, _, prefix = spec.partition("=")
            layer = Path(scratch) / f"tree-{number}.tar"
            tree_layer(Path(folder), prefix, layer)
            layers.append(layer)
        digest = write_archive(args.out, args.reference, layers, args.env, args.entrypoint)
    name = args.reference.rpartition(":")[0]
    print(f"{args.reference}@{digest}" if name else digest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
