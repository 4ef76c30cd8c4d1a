#!/usr/bin/env bash
# `make runner-image`: the runner's container image and the node's pause image, built offline (no
# registry is reachable): the root filesystem from Debian's packages (mmdebstrap), the Pulumi CLI
# that `make pulumi` built in /pulumi/bin (laid out like pulumi/pulumi: on PATH, usable by any uid),
# written as OCI archives that `ctr images import` reads. Cached by a digest of every input in
# ${XDG_CACHE_HOME:-~/.cache}/pulumi-oidc-trust/runner-image-<digest>/; .tools/images/images.env
# names the archives and the digest-pinned references. Needs root (mmdebstrap, as the node does).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
export GOTOOLCHAIN CGO_ENABLED=0

say() { printf 'make runner-image: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

python="${PYTHON:-python3}"
pulumi_bin="$(readlink -f "$repo/.tools/bin/pulumi" 2>/dev/null || true)"
[ -x "$pulumi_bin" ] || die "no .tools/bin/pulumi: run \`make pulumi\` first (the image carries that CLI)"
pulumi_dir="$(dirname "$pulumi_bin")"
command -v mmdebstrap >/dev/null 2>&1 || die "no mmdebstrap: install Debian's mmdebstrap (tools/node/install-runtime.sh does)"
command -v go >/dev/null 2>&1 || die "no Go here: the pause image is built with Go 1.26+"
[ "$(id -u)" = 0 ] || die "mmdebstrap needs root here (the node tests run as root, or skip)"

digest="$( (cd "$here" && cat versions.env build.sh oci.py pause/main.go; echo "$pulumi_dir") | sha256sum | cut -c1-12)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-oidc-trust/runner-image-$digest"
link="$repo/.tools/images"
finish() {
    mkdir -p "$link"
    ln -sfn "$cache/images.env" "$link/images.env"
    say "ready: $(grep -h '^RUNNER_IMAGE=' "$cache/images.env") in $cache"
}
if [ -f "$cache/complete" ]; then
    say "cached: $cache"
    finish
    exit 0
fi

start=$SECONDS
rm -rf "$cache" && mkdir -p "$cache/work"
work="$cache/work"

say "1/3 the root filesystem: Debian $DEBIAN_SUITE minbase + $DEBIAN_PACKAGES (mmdebstrap, from this machine's apt sources)"
mmdebstrap --quiet --variant=minbase --mode=root --include="$DEBIAN_PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/{doc,man,info,locale}/*' \
    "$DEBIAN_SUITE" "$work/rootfs.tar" || die "mmdebstrap"

say "2/3 the runner image: that root filesystem + the Pulumi CLI in /pulumi/bin"
mkdir -p "$work/pulumi"
for tool in pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python; do
    [ -e "$pulumi_dir/$tool" ] && ln -s "$pulumi_dir/$tool" "$work/pulumi/$tool"
done
version="$("$pulumi_bin" version)"
runner="$("$python" "$here/oci.py" "$cache/runner.oci.tar" "$RUNNER_IMAGE_NAME:${version#v}" \
    --layer "$work/rootfs.tar" --tree "$work/pulumi=pulumi/bin" \
    --env "PATH=/pulumi/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")" || die "writing the runner image"

say "3/3 the pause image"
mkdir -p "$work/pause"
(cd "$here/pause" && go build -trimpath -ldflags "-s -w" -o "$work/pause/pause" main.go) || die "building pause"
pause="$("$python" "$here/oci.py" "$cache/pause.oci.tar" "$PAUSE_IMAGE_NAME:$PAUSE_VERSION" \
    --tree "$work/pause=." --entrypoint /pause)" || die "writing the pause image"

cat > "$cache/images.env" <<ENV
# Written by tools/runner-image/build.sh: OCI archives for \`ctr images import\`, and their references.
RUNNER_IMAGE=$runner
RUNNER_ARCHIVE=$cache/runner.oci.tar
PAUSE_IMAGE=$pause
PAUSE_ARCHIVE=$cache/pause.oci.tar
ENV
rm -rf "$work"
touch "$cache/complete"
for old in "${cache%-*}"-*; do
    [ "$old" = "$cache" ] || rm -rf "$old"
done
say "built in $((SECONDS - start)) s; runner $(du -h "$cache/runner.oci.tar" | cut -f1), pause $(du -h "$cache/pause.oci.tar" | cut -f1)"
finish
