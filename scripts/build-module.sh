#!/usr/bin/env bash
# Build rust_mremap.ko against the cached test kernel, without rebuilding
# the kernel.  Prints the path of the .ko on stdout.
#   build-module.sh            out of tree: make M=<repo> MO=<cache>/module
#   build-module.sh --in-tree  in tree: sync the sources into
#                              drivers/misc/rust_mremap and build it as =m
#   build-module.sh --abuse    the test-only module of selftests/abuse/
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source=versions.env
. "$here/versions.env"
cache=${RUST_MREMAP_CACHE:-$HOME/.cache/rust_mremap}
build=${KDIR:-$cache/build}
[ -f "$build/Module.symvers" ] || [ -f "$build/vmlinux" ] || {
	echo "build-module: no kernel build at $build (run scripts/build-kernel.sh)" >&2; exit 1; }
make_k=(make -s -C "$build" LLVM="-$LLVM_VERSION")
# Not while scripts/build-kernel.sh (re)configures or builds the tree: it
# holds this lock, and a module built against a tree being reconfigured
# fails or, worse, builds against the wrong config.
exec 9>"$cache/build.lock"
flock 9

if [ "${1:-}" = --in-tree ]; then
	src=$cache/src
	grep -q '^CONFIG_RUST_MREMAP=m' "$build/.config" || {
		echo "build-module: CONFIG_RUST_MREMAP=m missing from the kernel config" >&2; exit 1; }
	"$here/intree.sh" driver "$src"
	"${make_k[@]}" -j"$(nproc)" modules >&2
	echo "$build/drivers/misc/rust_mremap/rust_mremap.ko"
elif [ "${1:-}" = --abuse ]; then
	out=${RUST_MREMAP_MODDIR:-$cache/module}-abuse
	mkdir -p "$out"
	"${make_k[@]}" M="$repo/selftests/abuse" MO="$out" modules >&2
	echo "$out/rust_mremap_abuse.ko"
else
	out=${RUST_MREMAP_MODDIR:-$cache/module}
	mkdir -p "$out"
	"${make_k[@]}" M="$repo" MO="$out" modules >&2
	echo "$out/rust_mremap.ko"
fi
