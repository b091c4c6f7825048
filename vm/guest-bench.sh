#!/bin/bash
# Guest side of 'make bench': one benchmark run, ioctl beside mremap() and
# UFFDIO_MOVE.   guest-bench.sh KO BENCH FLAVOUR [ARGS...]
# FLAVOUR names the kernel flavour booted (scripts/build-kernel.sh), which
# the benchmark prints beside uname.
set -u
. "$(dirname "$0")/guest-lib.sh"
ko=$1 bench=$2; export RUST_MREMAP_FLAVOUR=$3; shift 3
msgs=$(guest_setup) || sed "s/^/# /" <<<"$msgs"
echo "# guest: clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource), $(nproc) cpus"
load_module "$ko" || guest_exit 1
"$bench" "$@"; rc=$?
rmmod rust_mremap || rc=1
dmesg_clean || rc=1
guest_exit $rc
