#!/usr/bin/env bash
# Boot the cached test kernel under virtme-ng and run one guest script.
#   vm/run.sh NAME GUEST-SCRIPT [ARGS...]
# The guest's whole console (kernel log included) is saved to
# $RUST_MREMAP_CACHE/logs/NAME-<time>.log (and NAME-latest.log); its output
# is also shown here.  Exit status is the guest script's, read from the
# RUST_MREMAP_GUEST_EXIT line it prints last: a crash, a hang (timeout) or a
# missing line is a failure, and so is any kernel report on the console.
#
# Environment: RUST_MREMAP_TIMEOUT (s, default 1800), RUST_MREMAP_KVM=1 to
# use KVM where nested KVM works (here it hangs in early boot: TCG is the
# default), RUST_MREMAP_MEMORY (default 4G).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cache=${RUST_MREMAP_CACHE:-$HOME/.cache/rust_mremap}
build=${KDIR:-$cache/build}
name=$1 script=$2; shift 2
timeout_s=${RUST_MREMAP_TIMEOUT:-1800}
mkdir -p "$cache/logs"
log=$cache/logs/$name-$(date +%Y%m%d-%H%M%S).log
ln -sfn "$log" "$cache/logs/$name-latest.log"

kvm=(--disable-kvm)
[ "${RUST_MREMAP_KVM:-0}" = 1 ] && kvm=()
cmd=$(printf '%q ' "$script" "$@")

echo "vm: booting $build/arch/x86/boot/bzImage (log: $log)" >&2
start=$(date +%s)
# vng wants to run from the kernel tree; no stdin (CI has none either).
# Two NUMA nodes (numa=fake=2) and a third CPU for mainline's mm selftests:
# rmap and migration skip every case on one node, and migration wants three
# CPUs.  The guest takes the third offline first thing (guest_setup in
# vm/guest-lib.sh: our own tests run on two) and brings it up for the mm
# tests (mm_setup).  (maxcpus=2 would not do: 7.3 then has no third CPU.)
# A CPU without LA57 (TCG's "max" has it): with 5-level paging, 7.3 with
# KASAN reports a wild access in early boot now and then (3 boots in 17 on
# 2026-12-07), not ours.  identify_cpu() clears boot_cpu_data's capabilities
# before it reads CPUID again, with interrupts on and alternatives not yet
# patched, so pgtable_l5_enabled() (cpu_feature_enabled(X86_FEATURE_LA57))
# reads false for a moment, KASAN's shadow start moves to the 4-level one,
# and an interrupt in that window (handle_edge_irq() taking an irq_desc lock
# in the 5-level direct map) fails addr_has_metadata().  Booting with
# no5lvl would only turn the window around (4-level paging, LA57 set for a
# moment); without LA57 in CPUID it never flips.  Our tests take the task
# size from the kernel (4-level: 128 TiB).
(cd "$cache/src" && timeout -k 20 "$timeout_s" vng --force-initramfs "${kvm[@]}" \
	--run "$build/arch/x86/boot/bzImage" --memory "${RUST_MREMAP_MEMORY:-4G}" --cpus 3 \
	--append "numa=fake=2" --qemu-opts="-cpu max,la57=off" \
	--user root --verbose --exec "$cmd" < /dev/null 2>&1) | tee "$log" | grep -v '^\[ *[0-9]*\.[0-9]*\]' 
vng_rc=${PIPESTATUS[0]}
echo "vm: guest ran $(( $(date +%s) - start )) s" >&2

# shellcheck source=guest-lib.sh
. "$here/guest-lib.sh"
rc=$(sed -n 's/^RUST_MREMAP_GUEST_EXIT=\([0-9]*\).*/\1/p' "$log" | tail -n1)
if [ "$vng_rc" = 124 ] || [ "$vng_rc" = 137 ]; then
	echo "vm: TIMEOUT after $timeout_s s (log: $log)" >&2
	exit 1
fi
if [ -z "$rc" ]; then
	echo "vm: the guest script did not finish (crash? vng exit $vng_rc; log: $log)" >&2
	exit 1
fi
# Kernel console lines carry a printk timestamp; only they are scanned, so a
# test's own name (say "page_table_check") cannot trip this.
splats=$(grep -E '^\[ *[0-9]+\.[0-9]+\]' "$log" | grep -E "$SPLAT_RE")
if [ -n "$splats" ]; then
	echo "vm: kernel report on the guest console (log: $log):" >&2
	head -n 20 <<<"$splats" >&2
	exit 1
fi
exit "$rc"
