#!/bin/bash
# Guest side of 'make fuzz': one long fuzzer run (and the stress test, when
# STRESS_SECONDS is set), then the dmesg check.
#   guest-fuzz.sh KO TESTDIR SEED SECONDS [STRESS_SECONDS]
set -u
. "$(dirname "$0")/guest-lib.sh"
ko=$1 testdir=$2 seed=$3 secs=$4 stress=${5:-}
msgs=$(guest_setup) || { sed "s/^/# /" <<<"$msgs"; guest_exit 1; }
load_module "$ko" || guest_exit 1
"$testdir/rust_mremap_fuzz_test" -s "$seed" -t "$secs"; rc=$?
if [ -n "$stress" ]; then
	"$testdir/rust_mremap_stress_test" -t "$stress" || rc=1
fi
rmmod rust_mremap || rc=1
dmesg_clean || rc=1
guest_exit $rc
