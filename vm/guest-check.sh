#!/bin/bash
# Guest side of 'make check': load the module (and the test-only
# rust_mremap_abuse module), run every selftest binary, unload, then scan
# dmesg.  TAP on stdout; the closing line counts tests.  A failed guest
# set-up, a skip that selftests/skip-allowlist does not name, or fewer
# results than the programs planned fail the run.
#   guest-check.sh KO TESTDIR ABUSE-KO [INTREE-KO]
# With INTREE-KO, the module built in tree (drivers/misc/rust_mremap) is
# loaded too, after the suite, and must answer the device test.
set -u
. "$(dirname "$0")/guest-lib.sh"
ko=$1 testdir=$2 abuse=$3 intree=${4:-}
allow=$(dirname "$0")/../selftests/skip-allowlist
setup_msgs=$(guest_setup 2>&1); setup_rc=$?

mapfile -t tests < <(sed "s|^|$testdir/|" "$testdir/tests.list" 2>/dev/null)
[ ${#tests[@]} -gt 0 ] || { echo "Bail out! no tests listed in $testdir/tests.list"; guest_exit 1; }
pass=0 fail=0 skip=0 n=0 expected=0 ran=0
echo "TAP version 13"
echo "1..$(( ${#tests[@]} + 5 + (${#intree} > 0) ))"

result() { # result OK? NAME [DIRECTIVE]
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n $2${3:+ # $3}"; else echo "not ok $n $2"; fi
}

# Every precondition of the suite holds in our own guest: set-up that
# fails fails the run (no test may quietly skip because of it).
[ -n "$setup_msgs" ] && sed 's/^/# /' <<<"$setup_msgs"
if [ "$setup_rc" = 0 ]; then
	result 0 "guest: set-up (debugfs, THP madvise, zram swap, KSM, hugetlb, fail-nth, uffd, io_uring)"; pass=$((pass + 1))
else
	result 1 "guest: set-up"; fail=$((fail + 1))
fi

# allowed_skip PROGRAM LINE: whether the skip on this TAP line is on the
# allowlist (selftests/skip-allowlist: "program test-name reason").
allowed_skip() {
	local t
	t=$(sed -E 's/^ok [0-9]+ (# SKIP )?//; s/^# SKIP //; s/[: ].*//' <<<"$2")
	grep -qE "^$1 $t( |$)" "$allow" 2>/dev/null
}

if load_module "$ko"; then
	result 0 "module: load $ko, /dev/rust_mremap appears"; pass=$((pass + 1))
else
	result 1 "module: load $ko"; fail=$((fail + 1))
	echo "Bail out! module did not load"
	dmesg_clean
	echo "selftests: $pass passed, $((fail + 1)) failed, $skip skipped"
	guest_exit 1
fi

abuse_ok=1
if insmod "$abuse"; then
	for _ in 1 2 3 4 5 6 7 8 9 10; do [ -c /dev/rust_mremap_abuse ] && break; sleep 0.2; done
	[ -c /dev/rust_mremap_abuse ] && abuse_ok=0
fi
if [ $abuse_ok = 0 ]; then
	result 0 "module: load the test-only $abuse"; pass=$((pass + 1))
else
	result 1 "module: load the test-only $abuse"; fail=$((fail + 1))
fi

for t in "${tests[@]}"; do
	name=$(basename "$t")
	out=$(mktemp)
	if [ ! -x "$t" ]; then
		result 1 "$name (missing or not executable)"; fail=$((fail + 1)); continue
	fi
	start=$(date +%s)
	( cd "$(dirname "$t")" && timeout 900 "$t" ) > "$out" 2>&1
	rc=$?
	sed 's/^/# /' "$out"
	# What the program planned and what it reported.
	plan=$(sed -n -E 's/^1\.\.([0-9]+)$/\1/p' "$out" | head -n1)
	expected=$((expected + ${plan:-0}))
	ran=$((ran + $(grep -cE '^(not )?ok [0-9]+' "$out")))
	# A skip fails the run unless the allowlist names it, with its reason.
	unallowed=0
	while IFS= read -r line; do
		if allowed_skip "$name" "$line"; then
			echo "# allowed skip ($name): $line"
		else
			echo "# skip not on selftests/skip-allowlist ($name): $line"
			unallowed=$((unallowed + 1))
		fi
	done < <(grep -E '^ok [0-9]+ .*# SKIP' "$out")
	# Count the program's own results (kselftest Totals line).
	totals=$(grep -E '^# Totals: pass:[0-9]+ fail:[0-9]+' "$out" | tail -n1)
	if [ -n "$totals" ]; then
		p=$(sed -E 's/.*Totals: pass:([0-9]+).*/\1/' <<<"$totals")
		f=$(sed -E 's/.* fail:([0-9]+).*/\1/' <<<"$totals")
		s=$(sed -E 's/.* skip:([0-9]+).*/\1/' <<<"$totals")
		xf=$(sed -E 's/.* xfail:([0-9]+).*/\1/' <<<"$totals")
		er=$(sed -E 's/.* error:([0-9]+).*/\1/' <<<"$totals")
		pass=$((pass + p + xf)); fail=$((fail + f + er + unallowed))
		skip=$((skip + s - unallowed))
	fi
	[ "$unallowed" -gt 0 ] && [ "$rc" = 0 ] && rc=1
	case $rc in
	0) [ -n "$totals" ] || { rc=1; echo "# $name printed no Totals line"; }
	   result $rc "$name ($(( $(date +%s) - start )) s)" ;;
	4) echo "# $name skipped as a whole: not allowed"; result 1 "$name (skipped)"
	   fail=$((fail + 1)) ;;
	124) echo "# $name timed out"; result 1 "$name"; fail=$((fail + 1)) ;;
	*) result 1 "$name (exit $rc)"; [ -n "$totals" ] && [ "$f" != 0 ] || fail=$((fail + 1)) ;;
	esac
	rm -f "$out"
done

rmmod rust_mremap_abuse 2>/dev/null
if rmmod rust_mremap; then
	result 0 "module: unload"; pass=$((pass + 1))
else
	result 1 "module: unload"; fail=$((fail + 1))
fi
if [ -n "$intree" ]; then
	out=$(load_module "$intree" && "$testdir/rust_mremap_dev_test" 2>&1 && rmmod rust_mremap)
	rc=$?
	sed 's/^/# /' <<<"$out"
	result $rc "module: the in-tree build ($intree) loads, answers and unloads"
	[ $rc = 0 ] && pass=$((pass + 1)) || fail=$((fail + 1))
fi
if dmesg_clean; then
	result 0 "dmesg: no WARN/BUG/lockdep/page_table_check report"; pass=$((pass + 1))
else
	result 1 "dmesg: kernel reported a problem"; fail=$((fail + 1))
fi

# The harness's own results count as tests too.
expected=$((expected + n)) ran=$((ran + n))
[ "$ran" = "$expected" ] || { echo "# $ran results for $expected planned tests"; fail=$((fail + 1)); }
echo "selftests: $pass passed, $fail failed, $skip skipped (allowlisted), $expected expected, $ran run"
[ "$fail" = 0 ] && guest_exit 0
guest_exit 1
