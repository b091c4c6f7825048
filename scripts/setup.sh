#!/usr/bin/env bash
# Install everything a fresh Debian 12 machine lacks to build and boot the
# test kernel.  Idempotent: every step checks before it acts, and prints
# nothing but a one-line "setup: ok" when everything is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

log() { echo "setup: $*" >&2; }
# (No 'cmd | grep -q' below: with pipefail, grep closing the pipe early fails the check.)
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

export DEBIAN_FRONTEND=noninteractive
aptlog=$(mktemp); trap 'rm -f "$aptlog"' EXIT

# 1. apt sources: only the two backports suites, never trixie itself, so
#    nothing pulls a newer libc.  Backports are NotAutomatic: packages come
#    from them only when asked for with -t.
src=/etc/apt/sources.list.d/rust-mremap-backports.sources
want="Types: deb
URIs: http://deb.debian.org/debian
Suites: $APT_SUITES_EXTRA
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
updated=0
if [ "$(cat "$src" 2>/dev/null)" != "$want" ]; then
	log "adding apt sources: $APT_SUITES_EXTRA"
	printf '%s\n' "$want" | as_root tee "$src" >/dev/null
	as_root apt-get update -qq
	updated=1
fi

apt_base=(flex bison bc cpio libelf-dev libssl-dev kmod busybox-static
	  "clang-$LLVM_VERSION" "lld-$LLVM_VERSION" "llvm-$LLVM_VERSION"
	  "libclang-$LLVM_VERSION-dev" python3-pip xz-utils make gcc rsync
	  gcc-multilib
	  # mainline's mm selftests (TARGETS=mm): migration, rmap and ksm_tests
	  # link libnuma, mlock-random-test and memfd_secret link libcap, and
	  # cow and gup_longterm use liburing for their io_uring pin cases
	  # (skipped without it); the guest runs them on the host's libraries
	  libnuma-dev libcap-dev liburing-dev)
missing=()
for p in "${apt_base[@]}"; do
	installed "$p" || missing+=("$p")
done
need_src=0; need_qemu=0
installed "$KERNEL_SOURCE_PKG" || need_src=1
# qemu-system-x86 must be the bookworm-backports build (10.x).
if ! installed qemu-system-x86 || [[ "$(dpkg-query -W -f='${Version}' qemu-system-x86)" != *bpo12* ]]; then
	need_qemu=1
fi
if [ ${#missing[@]} -gt 0 ] || [ $need_src = 1 ] || [ $need_qemu = 1 ]; then
	[ $updated = 1 ] || as_root apt-get update -qq
	if [ ${#missing[@]} -gt 0 ]; then
		log "apt: ${missing[*]}"
		as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>"$aptlog" ||
			{ cat "$aptlog" >&2; exit 1; }
	fi
	if [ $need_src = 1 ]; then
		log "apt: $KERNEL_SOURCE_PKG (trixie-backports)"
		as_root apt-get install -y -qq --no-install-recommends -t trixie-backports \
			"$KERNEL_SOURCE_PKG" >/dev/null 2>"$aptlog" || { cat "$aptlog" >&2; exit 1; }
	fi
	if [ $need_qemu = 1 ]; then
		log "apt: qemu-system-x86 (bookworm-backports)"
		as_root apt-get install -y -qq --no-install-recommends -t bookworm-backports \
			qemu-system-x86 >/dev/null 2>"$aptlog" || { cat "$aptlog" >&2; exit 1; }
	fi
fi

# 2. Rust: the kernel needs rust-src and bindgen.
if ! command -v rustup >/dev/null; then
	echo "setup: rustup not found; install Rust with rustup first" >&2
	exit 1
fi
sysroot=$(rustc --print sysroot)
if [ ! -d "$sysroot/lib/rustlib/src/rust/library/core" ]; then
	log "rustup: rust-src"
	rustup component add rust-src >/dev/null
fi
for c in rustfmt clippy; do
	comps=$(rustup component list --installed 2>/dev/null)
	[[ "$comps" == *"$c"* ]] || {
		log "rustup: $c"; rustup component add "$c" >/dev/null; }
done
if [[ "$(bindgen --version 2>/dev/null)" != *" $BINDGEN_VERSION"* ]]; then
	log "cargo: bindgen-cli $BINDGEN_VERSION"
	cargo install --quiet --locked bindgen-cli --version "$BINDGEN_VERSION"
fi

# 3. virtme-ng.
if [ "$(pip3 show virtme-ng 2>/dev/null | sed -n 's/^Version: //p')" != "$VIRTME_NG_VERSION" ]; then
	log "pip: virtme-ng $VIRTME_NG_VERSION"
	pip3 install --quiet --disable-pip-version-check --root-user-action=ignore \
		"virtme-ng==$VIRTME_NG_VERSION"
fi
command -v vng >/dev/null || { echo "setup: vng not on PATH after install" >&2; exit 1; }

echo "setup: ok" >&2
