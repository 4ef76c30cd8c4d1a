#!/usr/bin/env bash
# The node's container runtime, from Debian's packages: containerd, runc, the CNI plugins, and
# mmdebstrap (which builds the runner image's root filesystem). Installs what is missing when run as
# root (`apt-get update` first); otherwise says what is missing, and the node tests skip with that reason.
set -euo pipefail

say() { printf 'make node: %s\n' "$*" >&2; }
packages=(containerd runc containernetworking-plugins mmdebstrap)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    say "runtime present: containerd $(containerd --version | cut -d' ' -f3), runc $(runc --version | sed -n '1s/^runc version //p')"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "not installed: ${missing[*]} (needs root and apt-get); the node tests will skip and say so"
    exit 0
fi
say "installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages may start a system containerd; the tests run their own, so leave it be.
say "installed: containerd $(containerd --version | cut -d' ' -f3), runc $(runc --version | sed -n '1s/^runc version //p')"
