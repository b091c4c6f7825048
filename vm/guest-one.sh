#!/bin/bash
# Guest side of 'make one': load the module (and the test-only abuse
# module, if given and present), run one selftest program with its
# arguments, then the dmesg check.  For iterating on one program; the
# suite is 'make check'.
#   guest-one.sh KO ABUSE-KO PROGRAM [ARGS...]
set -u
. "$(dirname "$0")/guest-lib.sh"
ko=$1 abuse=$2 prog=$3; shift 3
msgs=$(guest_setup) || { sed "s/^/# /" <<<"$msgs"; guest_exit 1; }
load_module "$ko" || guest_exit 1
[ -f "$abuse" ] && { insmod "$abuse" || guest_exit 1; }
"$prog" "$@"; rc=$?
[ -f "$abuse" ] && { rmmod rust_mremap_abuse || rc=1; }
rmmod rust_mremap || rc=1
dmesg_clean || rc=1
guest_exit $rc
