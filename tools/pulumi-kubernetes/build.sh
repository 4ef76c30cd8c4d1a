#!/usr/bin/env bash
# `make pulumi-kubernetes`: the Kubernetes resource plugin (pulumi-resource-kubernetes) that the
# runner component's `pulumi up` needs, built with the ordinary `go` command from this wrapper module
# (go.mod/go.sum here, kept apart from the CLI's) into a per-user cache keyed by version and digest,
# linked at .tools/plugins (not .tools/bin: a plugin on PATH is used whatever its version, with a
# warning at every run). Idempotent: seconds when cached. Nothing of Pulumi is written into the repo.
#
# It is also installed into the plugin cache of $PULUMI_HOME (default ~/.pulumi) at exactly the
# version the Python SDK asks for, so `pulumi up` finds it without PATH; a pulumi-resource-kubernetes
# on PATH would take precedence over that (the engine's ambient-plugin rule), so it is only a fallback.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
export GOTOOLCHAIN CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly"

say() { printf 'make pulumi-kubernetes: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

plugin=pulumi-resource-kubernetes
link_dir="$repo/.tools/plugins"
python="${PYTHON:-python3}"
module=github.com/pulumi/pulumi-kubernetes/provider/v4

finish() {
    mkdir -p "$link_dir"
    ln -sfn "$1/$plugin" "$link_dir/$plugin"
    if [ "${OIDC_TRUST_PLUGIN_INSTALL:-1}" = 1 ]; then
        # The engine's plugin cache wants an exact version match: <home>/plugins/resource-kubernetes-vX.
        local home="${PULUMI_HOME:-$HOME/.pulumi}"
        local dir="$home/plugins/resource-kubernetes-v$PULUMI_KUBERNETES_VERSION"
        mkdir -p "$dir" && ln -sfn "$1/$plugin" "$dir/$plugin" && rm -f "$dir.partial"
        say "installed as resource plugin kubernetes v$PULUMI_KUBERNETES_VERSION in $home/plugins"
    fi
    say "ready: $plugin v$PULUMI_KUBERNETES_VERSION in $1"
}

command -v go >/dev/null 2>&1 || die "no Go here: install Go 1.26+ (the runner's real-engine tests skip without this plugin)"

cd "$here"
pinned="$(go list -m -f '{{.Version}}' "$module")" || die "go list failed (see above)"
[ "$pinned" = "$PROVIDER_MODULE_VERSION" ] || die "go.mod pins $module $pinned but versions.env says $PROVIDER_MODULE_VERSION"

digest="$(cat versions.env go.mod go.sum "$plugin"/main.go | sha256sum | cut -c1-12)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-oidc-trust/pulumi-kubernetes-v$PULUMI_KUBERNETES_VERSION-$digest"
bin="$cache/bin"
if [ -f "$cache/complete" ]; then
    say "cached: $bin"
    finish "$bin"
    exit 0
fi

say "building $plugin v$PULUMI_KUBERNETES_VERSION with $(go version | cut -d' ' -f3) into $cache (a cold build downloads ~1 GB of modules and takes many minutes)"
start=$SECONDS
rm -rf "$cache" && mkdir -p "$bin" "$cache/src/$plugin"

say "1/3 downloading modules"
go mod download "$module" || die "go mod download $module"
mod_dir="$(go list -m -f '{{.Dir}}' "$module")"
(go mod download) || die "go mod download"

say "2/3 preparing a scratch copy with the provider's schema (version $PULUMI_KUBERNETES_VERSION) and terraform mapping"
cp go.mod go.sum "$cache/src/"
cp "$plugin/main.go" "$cache/src/$plugin/"
gen="$mod_dir/cmd/$plugin"
# What the provider's own generate.go does: the schema with its version set, the mapping compacted.
"$python" - "$gen" "$cache/src/$plugin" "$PULUMI_KUBERNETES_VERSION" <<'PY' || die "writing the embedded schema"
import json, pathlib, sys
src, dst, version = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
schema = json.loads((src / "schema.json").read_text())
schema["version"] = version
(dst / "schema-embed.json").write_text(json.dumps(schema, separators=(",", ":")))
mapping = json.loads((src / "terraform-mapping.json").read_text())
(dst / "terraform-mapping-embed.json").write_text(json.dumps(mapping, separators=(",", ":")))
PY

say "3/3 building $plugin (the long step)"
ldflags="-s -w -X $module/pkg/version.Version=$PULUMI_KUBERNETES_VERSION"
(cd "$cache/src" && go build -trimpath -ldflags "$ldflags" -o "$bin/$plugin.tmp" "./$plugin") || die "building $plugin"
mv "$bin/$plugin.tmp" "$bin/$plugin"
rm -rf "$cache/src"

touch "$cache/complete"
for old in "${cache%-*}"-*; do
    [ "$old" = "$cache" ] || rm -rf "$old"
done
say "built in $((SECONDS - start)) s; $(du -sh "$bin" | cut -f1)"
finish "$bin"
