#!/bin/bash
# Guest side of 'make run': load the module and show it working.
#   guest-run.sh KO DEMO
set -u
. "$(dirname "$0")/guest-lib.sh"
ko=$1 demo=$2
msgs=$(guest_setup) || sed "s/^/# /" <<<"$msgs"
echo "# guest: $(uname -r), clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
load_module "$ko" || guest_exit 1
ls -l /dev/rust_mremap
"$demo"; rc=$?
rmmod rust_mremap || rc=1
dmesg_clean || rc=1
guest_exit $rc
