#!/usr/bin/env bash
# Prints the folder of an official Node.js build (bin/node, include/node), installing it first when it is
# not in the cache. The binary comes from the npm registry's node-linux-<arch> package, the only place this
# project may download from; npm checks the tarball against the registry's sha512 before we unpack it.
#
#   scripts/node-binary.sh 24.22.3            # → ~/.cache/skaledata/node/24.22.3-linux-x64
#   PATH="$(scripts/node-binary.sh 24.22.3)/bin:$PATH" node --version
#
# SKALEDATA_NODE_CACHE overrides the cache folder. See docs/node-versions.md.
set -euo pipefail

version=${1:?usage: scripts/node-binary.sh <node version, e.g. 24.22.3>}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "node-binary: '$version' is not an exact version (x.y.z)" >&2; exit 2; }

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "node-binary: no node-linux package for $(uname -m)" >&2; exit 2 ;;
esac

cache=${SKALEDATA_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/skaledata/node}
target="$cache/$version-linux-$arch"
if [ -x "$target/bin/node" ] && [ -f "$target/include/node/node_version.h" ]; then
  echo "$target"
  exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/.install-XXXXXX")
trap 'rm -rf "$work"' EXIT
# --ignore-scripts: the package's own install script would copy the binary elsewhere; we only want its files.
npm pack "node-linux-$arch@$version" --pack-destination "$work" --ignore-scripts --silent >/dev/null
tar -xzf "$work"/node-linux-"$arch"-"$version".tgz -C "$work"
found=$("$work/package/bin/node" --version)
[ "$found" = "v$version" ] || { echo "node-binary: the package holds $found, not v$version" >&2; exit 1; }
[ -f "$work/package/include/node/node_version.h" ] || { echo "node-binary: node-linux-$arch@$version has no include/node headers" >&2; exit 1; }
# Unpacked in the cache folder and renamed into place in one step, so a concurrent or interrupted install
# never leaves a half-written folder where a caller would find it. When the rename fails, another install
# got there first: use its copy if it is whole.
if ! mv -T "$work/package" "$target" 2>/dev/null; then
  [ -x "$target/bin/node" ] && [ -f "$target/include/node/node_version.h" ] || { echo "node-binary: could not install into $target" >&2; exit 1; }
fi
echo "$target"
