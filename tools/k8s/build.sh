#!/usr/bin/env bash
# `make k8s`: a real control plane and node for the real-cluster tests (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, etcd), built with the ordinary `go` command from
# two wrapper modules of ours (kubernetes/ and etcd/, go.mod + go.sum each),
# into a per-user cache keyed by version and digest, linked at .tools/bin. Idempotent: seconds
# when cached. Nothing of Kubernetes or etcd is ever written into the repository.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
export GOTOOLCHAIN CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly"

say() { printf 'make k8s: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

link_dir="$repo/.tools/bin"
finish() {
    # .tools/bin holds one link per tool (make pulumi links its own there too).
    [ -L "$link_dir" ] && rm -f "$link_dir"
    mkdir -p "$link_dir"
    for tool in "${KUBE_TOOLS[@]}" etcd; do
        ln -sfn "$1/$tool" "$link_dir/$tool"
    done
    say "ready: ${KUBE_TOOLS[*]} $("$link_dir/kube-apiserver" --version | cut -d' ' -f2), etcd $("$link_dir/etcd" --version | sed -n 's/^etcd Version: //p') in $1"
}

command -v go >/dev/null 2>&1 || die "no Go here: install Go 1.26+ (the real-cluster tests skip without these binaries)"

pinned_module() { # dir module -> the version that dir's go.mod selects
    (cd "$here/$1" && go list -m -f '{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' "$2") || die "go list in tools/k8s/$1 failed (see above)"
}
got="$(pinned_module kubernetes k8s.io/kubernetes)"
[ "$got" = "$KUBERNETES_VERSION" ] || die "kubernetes/go.mod pins k8s.io/kubernetes $got but versions.env says $KUBERNETES_VERSION"
for staging in k8s.io/api k8s.io/apiserver k8s.io/client-go k8s.io/component-base; do
    got="$(pinned_module kubernetes "$staging")"
    [ "$got" = "$KUBERNETES_STAGING_VERSION" ] || die "kubernetes/go.mod maps $staging to $got but versions.env says $KUBERNETES_STAGING_VERSION"
done
got="$(pinned_module etcd go.etcd.io/etcd/server/v3)"
[ "$got" = "$ETCD_VERSION" ] || die "etcd/go.mod pins go.etcd.io/etcd/server/v3 $got but versions.env says $ETCD_VERSION"

digest="$(cd "$here" && cat versions.env kubernetes/go.mod kubernetes/go.sum etcd/go.mod etcd/go.sum | sha256sum | cut -c1-12)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-oidc-trust/k8s-$KUBERNETES_VERSION-etcd-$ETCD_VERSION-$digest"
bin="$cache/bin"
if [ -f "$cache/complete" ]; then
    say "cached: $bin"
    finish "$bin"
    exit 0
fi

say "building ${KUBE_TOOLS[*]} $KUBERNETES_VERSION and etcd $ETCD_VERSION with $(go version | cut -d' ' -f3) into $cache (a cold build takes many minutes)"
start=$SECONDS
mkdir -p "$bin"

# Stamped like a release build: an unstamped server reports v0.0.0 at /version, which clients
# such as pulumi-kubernetes read as a pre-1.24 cluster.
minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

steps=$(( ${#KUBE_TOOLS[@]} + 3 )); step=1
say "$step/$steps downloading the Kubernetes modules"
(cd "$here/kubernetes" && go mod download) || die "go mod download (kubernetes)"
for tool in "${KUBE_TOOLS[@]}"; do
    step=$((step + 1)); t0=$SECONDS
    say "$step/$steps building $tool"
    (cd "$here/kubernetes" && go build -trimpath -tags selinux,notest -ldflags "$ldflags" \
        -o "$bin/$tool.tmp" "k8s.io/kubernetes/cmd/$tool") || die "building $tool"
    mv "$bin/$tool.tmp" "$bin/$tool"
    say "  $tool built in $((SECONDS - t0)) s"
done
step=$((step + 1))
say "$step/$steps downloading the etcd modules"
(cd "$here/etcd" && go mod download) || die "go mod download (etcd)"
step=$((step + 1))
say "$step/$steps building etcd"
(cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3) || die "building etcd"
mv "$bin/etcd.tmp" "$bin/etcd"

for tool in "${KUBE_TOOLS[@]}"; do
    got="$("$bin/$tool" --version)"
    [ "$got" = "Kubernetes $KUBERNETES_VERSION" ] || die "the built $tool says '$got', expected Kubernetes $KUBERNETES_VERSION"
done
got="$("$bin/etcd" --version | sed -n 's/^etcd Version: //p')"
[ "v$got" = "$ETCD_VERSION" ] || die "the built etcd says version '$got', expected $ETCD_VERSION"
touch "$cache/complete"
# Older builds of these versions (another go.sum or script) are dead weight.
for old in "${cache%-*}"-*; do
    [ "$old" = "$cache" ] || rm -rf "$old"
done
say "built in $((SECONDS - start)) s; $(du -sh "$bin" | cut -f1) of binaries"
finish "$bin"
