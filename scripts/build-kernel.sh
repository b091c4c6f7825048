#!/usr/bin/env bash
# Build (or reuse) the test kernel: Debian's linux-source package + the
# project's patch series + the config fragment merged onto tinyconfig.
#
# Flavours ($RUST_MREMAP_FLAVOUR): "check" (default) is kernel/config.fragment,
# the debug kernel the suite runs on; any other NAME adds kernel/NAME.fragment
# on top (later lines win), e.g. "bench", the production-like kernel of
# 'make bench'.  All flavours share one source tree.
#
# Everything lives in a cache outside the repo ($RUST_MREMAP_CACHE, default
# ~/.cache/rust_mremap):
#   src/            the unpacked source, a git repo whose first commit is
#                   pristine, with the series applied (src.key says which)
#   build/          the O= object tree of "check" (build-NAME/ of NAME),
#                   kept across patch changes: incremental; its usr/include
#                   holds the UAPI headers the selftests compile against
#   stamp           the key of the last *successful* build (stamp-NAME)
# The key covers every input: source package version, patches, fragments,
# the module's Kconfig and UAPI header, scripts/intree.sh, this script, and
# the toolchain versions.  A series that changed is re-applied on a
# pristine tree (git checkout updates mtimes, so make rebuilds exactly what
# changed); the stamp is written only after a build succeeds, so a stale
# kernel is never served.
#
# Prints the path of the build tree on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source=versions.env
. "$here/versions.env"

say() { echo "build-kernel: $*" >&2; }

flavour=${RUST_MREMAP_FLAVOUR:-check}
cache=${RUST_MREMAP_CACHE:-$HOME/.cache/rust_mremap}
src=$cache/src
frags=("$repo/kernel/config.fragment")
if [ "$flavour" = check ]; then
	build=$cache/build stamp=$cache/stamp log=$cache/build.log
else
	[ -f "$repo/kernel/$flavour.fragment" ] || { say "no kernel/$flavour.fragment"; exit 1; }
	frags+=("$repo/kernel/$flavour.fragment")
	build=$cache/build-$flavour stamp=$cache/stamp-$flavour log=$cache/build-$flavour.log
fi
mkdir -p "$cache"
# One build at a time: two would not fit this machine, and two writers of one
# tree would corrupt it.  A second caller waits, then finds the stamp.
exec 9>"$cache/build.lock"
flock 9
make_k=(make -s -C "$src" O="$build" LLVM="-$LLVM_VERSION")

src_version=$(dpkg-query -W -f='${Version}' "$KERNEL_SOURCE_PKG")
mapfile -t patches < <(grep -v '^\s*#' "$repo/kernel/patches/series" | sed '/^\s*$/d')
# What the source tree holds: the pristine source plus the series.
src_key=$( {
	echo "source $KERNEL_SOURCE_PKG $src_version"
	cat "$repo/kernel/patches/series"
	for p in "${patches[@]}"; do sha256sum < "$repo/kernel/patches/$p"; done
	sha256sum < "$repo/Kconfig"
	sha256sum < "$repo/include/uapi/linux/rust_mremap.h"
	sha256sum < "$here/intree.sh"
	sha256sum < "$0"
} | sha256sum | cut -d' ' -f1)
# What the kernel of this flavour is built from.
key=$( {
	echo "$src_key"
	echo "flavour $flavour"
	echo "llvm $(clang-"$LLVM_VERSION" --version | head -1)"
	echo "rustc $(rustc --version)"
	echo "bindgen $(bindgen --version)"
	for f in "${frags[@]}"; do sha256sum < "$f"; done
} | sha256sum | cut -d' ' -f1)

if [ "$(cat "$stamp" 2>/dev/null)" = "$key" ] && [ -f "$build/arch/x86/boot/bzImage" ]; then
	echo "$build"
	exit 0
fi

git_q() { git -C "$src" -c user.name=rust_mremap -c user.email=rust_mremap@localhost "$@"; }

# 1. A pristine tree for this source version.
if [ "$(cat "$cache/src.version" 2>/dev/null)" != "$src_version" ]; then
	say "unpacking $KERNEL_SOURCE_PKG $src_version"
	rm -rf "$src" "$cache"/build "$cache"/build-* "$cache"/stamp* "$cache/src.version" "$cache/src.key"
	mkdir -p "$src"
	tar -xf "/usr/src/$KERNEL_SOURCE_PKG.tar.xz" -C "$src" --strip-components=1
	git_q init -q
	git_q add -f -A
	git_q commit -q -m "pristine $KERNEL_SOURCE_PKG $src_version"
	git_q tag pristine
	echo "$src_version" > "$cache/src.version"
fi

# 2. Back to pristine, then the series on top, unless the tree already holds
#    exactly this series (another flavour applied it): re-applying would
#    touch every patched file and rebuild them for nothing.  'git am' keeps
#    each patch's message, so the tree's log reads as the series does.
if [ "$(cat "$cache/src.key" 2>/dev/null)" != "$src_key" ]; then
	rm -f "$cache/src.key"
	say "applying ${#patches[@]} patch(es)"
	git_q am --abort >/dev/null 2>&1 || true
	git_q checkout -q -f pristine
	git_q clean -q -fdx
	for p in "${patches[@]}"; do
		git_q am -q --whitespace=error "$repo/kernel/patches/$p" || {
			say "patch $p does not apply"; git_q am --abort; exit 1; }
	done

	# 3. What the posted series adds beyond kernel/patches: the UAPI header
	#    (bindgen makes the module's ABI types from it), the driver's home
	#    drivers/misc/rust_mremap with its Kconfig entry, and the
	#    selftests' home.  scripts/intree.sh is shared with 'make series'.
	"$here/intree.sh" driver "$src"
	"$here/intree.sh" selftests "$src"
	echo "$src_key" > "$cache/src.key"
fi

# 4. Config: tinyconfig + fragments, then verify every option the fragments
#    set (the last fragment's word on an option is the one that counts).
mkdir -p "$build"
say "configuring ($flavour)"
"${make_k[@]}" tinyconfig >/dev/null
(cd "$src" && KCONFIG_CONFIG="$build/.config" scripts/kconfig/merge_config.sh -m -Q \
	-O "$build" "$build/.config" "${frags[@]}" >/dev/null)
"${make_k[@]}" olddefconfig >/dev/null
declare -A want=()
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*) want[${line%%=*}]=$line ;;
	"# CONFIG_"*" is not set") opt=${line#\# }; want[${opt%% *}]=$line ;;
	esac
done < <(cat "${frags[@]}")
bad=0
for opt in "${!want[@]}"; do
	line=${want[$opt]}
	case "$line" in
	CONFIG_*)
		grep -qx "$line" "$build/.config" || { say "config: wanted $line, got: $(grep "^$opt=" "$build/.config" || echo unset)"; bad=1; } ;;
	*)
		! grep -q "^$opt=" "$build/.config" || { say "config: wanted $opt unset"; bad=1; } ;;
	esac
done
[ $bad = 0 ] || { say "config fragment did not stick (missing dependency?)"; exit 1; }
"${make_k[@]}" rustavailable >/dev/null || { say "Rust toolchain not usable: make rustavailable"; exit 1; }

# 5. Build.
say "building (log: $log)"
start=$(date +%s)
if ! "${make_k[@]}" -j"$(nproc)" bzImage modules headers > "$log" 2>&1; then
	tail -n 40 "$log" >&2
	say "kernel build failed"
	exit 1
fi
say "built in $(( $(date +%s) - start )) s"
echo "$key" > "$stamp"
echo "$build"
