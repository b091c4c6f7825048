#!/usr/bin/env bash
# Build (or reuse) the test kernel: Debian's linux-source package + the
# project's patch series + the config fragment merged onto tinyconfig.
#
# Everything lives in a cache outside the repo ($RUST_MREMAP_CACHE, default
# ~/.cache/rust_mremap):
#   src/     the unpacked source, a git repo whose first commit is pristine
#   build/   the O= object tree (kept across patch changes: incremental)
#   stamp    the key of the last *successful* build
# The key covers every input: source package version, patches, fragment,
# the module's Kconfig, this script, and the toolchain versions.  A key
# mismatch re-applies the series on a pristine tree (git checkout updates
# mtimes, so make rebuilds exactly what changed); the stamp is written only
# after a build succeeds, so a stale kernel is never served.
#
# Prints the path of the build tree on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source=versions.env
. "$here/versions.env"

cache=${RUST_MREMAP_CACHE:-$HOME/.cache/rust_mremap}
src=$cache/src
build=$cache/build
log=$cache/build.log
mkdir -p "$cache"
make_k=(make -s -C "$src" O="$build" LLVM="-$LLVM_VERSION")

say() { echo "build-kernel: $*" >&2; }

src_version=$(dpkg-query -W -f='${Version}' "$KERNEL_SOURCE_PKG")
mapfile -t patches < <(grep -v '^\s*#' "$repo/kernel/patches/series" | sed '/^\s*$/d')
key=$( {
	echo "source $KERNEL_SOURCE_PKG $src_version"
	echo "llvm $(clang-"$LLVM_VERSION" --version | head -1)"
	echo "rustc $(rustc --version)"
	echo "bindgen $(bindgen --version)"
	cat "$repo/kernel/patches/series"
	for p in "${patches[@]}"; do sha256sum < "$repo/kernel/patches/$p"; done
	sha256sum < "$repo/kernel/config.fragment"
	sha256sum < "$repo/Kconfig"
	sha256sum < "$0"
} | sha256sum | cut -d' ' -f1)

if [ "$(cat "$cache/stamp" 2>/dev/null)" = "$key" ] && [ -f "$build/arch/x86/boot/bzImage" ]; then
	echo "$build"
	exit 0
fi

git_q() { git -C "$src" -c user.name=rust_mremap -c user.email=rust_mremap@localhost "$@"; }

# 1. A pristine tree for this source version.
if [ "$(cat "$cache/src.version" 2>/dev/null)" != "$src_version" ]; then
	say "unpacking $KERNEL_SOURCE_PKG $src_version"
	rm -rf "$src" "$build" "$cache/stamp" "$cache/src.version"
	mkdir -p "$src"
	tar -xf "/usr/src/$KERNEL_SOURCE_PKG.tar.xz" -C "$src" --strip-components=1
	git_q init -q
	git_q add -f -A
	git_q commit -q -m "pristine $KERNEL_SOURCE_PKG $src_version"
	git_q tag pristine
	echo "$src_version" > "$cache/src.version"
fi

# 2. Back to pristine, then the series on top.  'git am' keeps each
#    patch's message, so the tree's log reads as the series does.
say "applying ${#patches[@]} patch(es)"
git_q am --abort >/dev/null 2>&1 || true
git_q checkout -q -f pristine
git_q clean -q -fdx
for p in "${patches[@]}"; do
	git_q am -q --whitespace=error "$repo/kernel/patches/$p" || {
		say "patch $p does not apply"; git_q am --abort; exit 1; }
done

# 3. The in-tree home of the module: drivers/misc/rust_mremap, with its
#    Kconfig entry.  The sources themselves are synced by build-module.sh.
mkdir -p "$src/drivers/misc/rust_mremap"
cp "$repo/Kconfig" "$src/drivers/misc/rust_mremap/Kconfig"
echo 'source "drivers/misc/rust_mremap/Kconfig"' >> "$src/drivers/misc/Kconfig"
echo 'obj-$(CONFIG_RUST_MREMAP) += rust_mremap/' >> "$src/drivers/misc/Makefile"
touch "$src/drivers/misc/rust_mremap/Kbuild"

# 4. Config: tinyconfig + fragment, then verify every line of the fragment.
mkdir -p "$build"
say "configuring"
"${make_k[@]}" tinyconfig >/dev/null
(cd "$src" && KCONFIG_CONFIG="$build/.config" scripts/kconfig/merge_config.sh -m -Q \
	-O "$build" "$build/.config" "$repo/kernel/config.fragment" >/dev/null)
"${make_k[@]}" olddefconfig >/dev/null
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qx "$line" "$build/.config" || { say "config: wanted $line, got: $(grep "^${line%%=*}=" "$build/.config" || echo unset)"; bad=1; } ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }; opt=${opt%% *}
		! grep -q "^$opt=" "$build/.config" || { say "config: wanted $opt unset"; bad=1; } ;;
	esac
done < "$repo/kernel/config.fragment"
[ $bad = 0 ] || { say "config fragment did not stick (missing dependency?)"; exit 1; }
"${make_k[@]}" rustavailable >/dev/null || { say "Rust toolchain not usable: make rustavailable"; exit 1; }

# 5. Build.
say "building (log: $log)"
start=$(date +%s)
if ! "${make_k[@]}" -j"$(nproc)" bzImage modules > "$log" 2>&1; then
	tail -n 40 "$log" >&2
	say "kernel build failed"
	exit 1
fi
say "built in $(( $(date +%s) - start )) s"
echo "$key" > "$cache/stamp"
echo "$build"
