#!/usr/bin/env bash
# `make pulumi`: the real Pulumi CLI and a Python language host, built with the ordinary `go`
# command from this wrapper module (go.mod/go.sum here), into a per-user cache keyed by version,
# linked at .tools/bin. Idempotent: seconds when cached. Where Go is absent, a `pulumi` on PATH
# (PULUMI_MIN_VERSION or newer) is linked instead.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
export GOTOOLCHAIN CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly"

say() { printf 'make pulumi: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

link_dir="$repo/.tools/bin"
finish() {
    # .tools/bin holds one link per tool (`make k8s` links kube-apiserver and etcd there too).
    [ -L "$link_dir" ] && rm -f "$link_dir"
    mkdir -p "$link_dir"
    # Only this build's own links (`make pulumi-kubernetes` links pulumi-resource-kubernetes here).
    rm -f "$link_dir"/pulumi "$link_dir"/pulumi-language-python* "$link_dir"/pulumi-resource-pulumi-python
    for tool in "$1"/*; do
        ln -sfn "$tool" "$link_dir/${tool##*/}"
    done
    say "ready: $("$link_dir/pulumi" version) in $1"
    say "to use it yourself: export PATH=\"$link_dir:\$PATH\""
}

if ! command -v go >/dev/null 2>&1; then
    found="$(command -v pulumi || true)"
    [ -n "$found" ] || die "neither Go (to build the CLI) nor a pulumi CLI on PATH; install Go 1.26+ or Pulumi $PULUMI_MIN_VERSION+"
    have="$("$found" version | sed 's/^v//')"
    oldest="$(printf '%s\n%s\n' "$PULUMI_MIN_VERSION" "$have" | sort -V | head -1)"
    [ "$oldest" = "$PULUMI_MIN_VERSION" ] || die "pulumi $have on PATH is older than $PULUMI_MIN_VERSION; upgrade it or install Go"
    say "no Go here: using pulumi $have from $found"
    bin="$repo/.tools/path-bin"
    rm -rf "$bin" && mkdir -p "$bin" && ln -s "$found" "$bin/pulumi"
    finish "$bin"
    exit 0
fi

cd "$here"
pinned="$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi/pkg/v3)" || die "go list failed (see above)"
[ "$pinned" = "$PULUMI_VERSION" ] || die "go.mod pins pkg/v3 $pinned but versions.env says $PULUMI_VERSION: run go get there"
sdk_pinned="$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi/sdk/v3)"
[ "$sdk_pinned" = "$PULUMI_VERSION" ] || die "go.mod pins sdk/v3 $sdk_pinned but versions.env says $PULUMI_VERSION"

# The cache key: the version, plus a digest of what is built from here (go.mod, go.sum, our host).
digest="$(cat go.mod go.sum pulumi-language-python/*.go versions.env | sha256sum | cut -c1-12)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-oidc-trust/pulumi-$PULUMI_VERSION-$digest"
bin="$cache/bin"
if [ -f "$cache/complete" ]; then
    say "cached: $bin"
    finish "$bin"
    exit 0
fi

say "building Pulumi $PULUMI_VERSION with $(go version | cut -d' ' -f3) into $cache (a cold build downloads ~1.6 GB of modules and takes minutes)"
start=$SECONDS
mkdir -p "$bin"
ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
flags=(-trimpath -tags "osusergo,grpcnotrace" -ldflags "$ldflags")

say "1/3 downloading modules"
go mod download github.com/pulumi/pulumi/pkg/v3 github.com/pulumi/pulumi/sdk/v3 || die "go mod download"
say "2/3 building the pulumi CLI (the long step)"
go build "${flags[@]}" -o "$bin/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi || die "building the pulumi CLI"
mv "$bin/pulumi.tmp" "$bin/pulumi"
say "3/3 building the Python language host; copying the Python shims from the SDK module"
go build "${flags[@]}" -o "$bin/pulumi-language-python" ./pulumi-language-python || die "building the language host"
sdk_dir="$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
for shim in python/cmd/pulumi-language-python-exec python/dist/pulumi-resource-pulumi-python; do
    [ -f "$sdk_dir/$shim" ] || die "the SDK module has no $shim (layout changed in $PULUMI_VERSION?)"
    install -m 0755 "$sdk_dir/$shim" "$bin/"
done

got="$("$bin/pulumi" version)"
[ "$got" = "$PULUMI_VERSION" ] || die "the built CLI says version '$got', expected $PULUMI_VERSION"
touch "$cache/complete"
# Older builds stay (another checkout may still link one); each is ~130 MB.
say "built in $((SECONDS - start)) s; $(du -sh "$bin" | cut -f1) of binaries (remove ${cache%/*} to reclaim old builds)"
finish "$bin"
