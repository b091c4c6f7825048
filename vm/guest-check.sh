#!/bin/bash
# Guest side of 'make check': load the module (and the test-only
# rust_mremap_abuse module), run the installed kselftests through
# kselftest's own runner (run_kselftest.sh), unload, run mainline's mm
# selftests that cover what the series touches, then scan dmesg.  TAP on
# stdout, the runner's and the mm programs' output nested in it; the
# closing line counts tests, mm cases included.  A failed guest set-up, a
# skip that selftests/skip-allowlist (selftests/mm-allowlist for mm) does
# not name, an mm failure that selftests/mm-allowlist does not name, a
# program the runner did not report, or fewer results than the programs
# planned fail the run.
#   guest-check.sh KO KSFT-INSTALL-DIR ABUSE-KO [INTREE-KO]
# With INTREE-KO, the module built in tree (drivers/misc/rust_mremap) is
# loaded too, after the suite, and must answer the device test.
set -u
. "$(dirname "$0")/guest-lib.sh"
ko=$1 ksft=$2 abuse=$3 intree=${4:-}
testdir=$ksft/rust_mremap
allow=$(dirname "$0")/../selftests/skip-allowlist
mm_allow=$(dirname "$0")/../selftests/mm-allowlist
setup_msgs=$(guest_setup 2>&1); setup_rc=$?

# The suite is exactly the runner's list (kselftest-list.txt, which the
# install wrote from the Makefile's TEST_GEN_PROGS).
mapfile -t tests < <(sed -n 's/^rust_mremap://p' "$ksft/kselftest-list.txt" 2>/dev/null)
[ ${#tests[@]} -gt 0 ] || { echo "Bail out! no tests in $ksft/kselftest-list.txt"; guest_exit 1; }
pass=0 fail=0 skip=0 n=0 expected=0 ran=0 known=0

# Mainline's mm selftests (tools/testing/selftests/mm, built and installed
# beside ours by the Makefile), one program a line: [-R] TIMEOUT (s)
# PROGRAM ARGS (vm/guest-lib.sh's mm_program).  The ones that cover what
# the series changes (mm/rmap.c, the new page-table move code, moves that
# share rmap identity as mremap() does, or relocate folios as UFFDIO_MOVE
# does), each whole but for uffd-unit-tests; run by this script, not by the
# runner, whose mm entries are run_vmtests.sh's whole categories with no
# arguments (userfaultfd: the 114 unit tests and uffd-stress five times).
# Guest time under TCG, 2026-12-05: 376 s for these ten; the whole of
# uffd-unit-tests would add 167 s more, past the budget.
mm_tests=(
	# -R: with ASLR, x86-64 puts the brk heap anywhere in the GiB above
	# the binary, and about one run in 25 it lands where the 40 MiB
	# preamble case maps its preamble unchecked (EEXIST): the test's
	# address choice, not the kernel's doing
	"-R 120 mremap_test"		# mremap() at every alignment, 2 GiB moves, multi-VMA moves
	"60 mremap_dontunmap"		# MREMAP_DONTUNMAP: what the rmap-sharing moves leave behind
	"120 merge"			# VMA merges after mremap()/mprotect(), with forked anon_vmas
	"180 rmap"			# rmap walks after fork trees, KSM and mremap(): page migration finds every mapping
	"300 uffd-unit-tests -f move"	# UFFDIO_MOVE: move, move-pmd, move-pmd-split (anon): 9 s of 176
	"360 soft-dirty"		# soft-dirty after mremap()/mprotect() merges
	"120 mseal_test"		# sealed VMAs refuse mremap()/munmap()/mprotect()
	"300 migration"			# migration entries under racing readers (six cases of 20 s)
	"240 ksm_functional_tests"	# KSM merge/unmerge, fork, PROT_NONE
	"360 cow"			# COW after fork() with every THP size, swap, pins (all 761 cases)
)
echo "TAP version 13"
echo "1..$(( ${#tests[@]} + 5 + (${#intree} > 0) + 1 + ${#mm_tests[@]} ))"

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

# program NAME VERDICT: account for one program the runner ran.  VERDICT is
# the runner's result line; its log (-p) holds the program's TAP, "# "-prefixed.
program() {
	local name=$1 verdict=$2 log=$logdir/$1 out plan line unallowed=0 totals rc=1
	local p f s xf er
	out=$(sed 's/^# \{0,1\}//' "$log" 2>/dev/null)
	sed 's/^/# /' <<<"$out"
	echo "# runner: $verdict"
	# What the program planned and what it reported.
	plan=$(sed -n -E 's/^1\.\.([0-9]+)$/\1/p' <<<"$out" | head -n1)
	expected=$((expected + ${plan:-0}))
	ran=$((ran + $(grep -cE '^(not )?ok [0-9]+' <<<"$out")))
	# A skip fails the run unless the allowlist names it, with its reason.
	while IFS= read -r line; do
		if allowed_skip "$name" "$line"; then
			echo "# allowed skip ($name): $line"
		else
			echo "# skip not on selftests/skip-allowlist ($name): $line"
			unallowed=$((unallowed + 1))
		fi
	done < <(grep -E '^ok [0-9]+ .*# SKIP' <<<"$out")
	# Count the program's own results (kselftest Totals line).
	totals=$(grep -E '^# Totals: pass:[0-9]+ fail:[0-9]+' <<<"$out" | tail -n1)
	if [ -n "$totals" ]; then
		p=$(sed -E 's/.*Totals: pass:([0-9]+).*/\1/' <<<"$totals")
		f=$(sed -E 's/.* fail:([0-9]+).*/\1/' <<<"$totals")
		s=$(sed -E 's/.* skip:([0-9]+).*/\1/' <<<"$totals")
		xf=$(sed -E 's/.* xfail:([0-9]+).*/\1/' <<<"$totals")
		er=$(sed -E 's/.* error:([0-9]+).*/\1/' <<<"$totals")
		pass=$((pass + p + xf)); fail=$((fail + f + er + unallowed))
		skip=$((skip + s - unallowed))
	fi
	case $verdict in
	"not ok "*"# TIMEOUT"*) echo "# $name timed out" ;;
	"not ok "*) ;;
	"ok "*"# SKIP"*) echo "# $name skipped as a whole: not allowed" ;;
	"ok "*) rc=0
		[ -n "$totals" ] || { rc=1; echo "# $name printed no Totals line"; }
		[ "$unallowed" = 0 ] || rc=1 ;;
	esac
	result $rc "$name"
	# A failing program whose Totals counted its failures is already
	# counted; anything else that failed counts once here.
	[ $rc = 0 ] || { [ -n "$totals" ] && [ "$((f + er + unallowed))" != 0 ]; } || fail=$((fail + 1))
}

# The runner's own output streams as it goes; each program is accounted
# for when the runner reports it.
logdir=$(mktemp -d)
declare -A reported=()
while IFS= read -r line; do
	case $line in
	"ok "*" selftests: rust_mremap: "*|"not ok "*" selftests: rust_mremap: "*)
		name=${line#* selftests: rust_mremap: }; name=${name%% *}
		reported[$name]=1
		program "$name" "$line" ;;
	*) echo "# runner: $line" ;;
	esac
done < <(cd "$ksft" && ./run_kselftest.sh -c rust_mremap -p "$logdir" 2>&1)
for name in "${tests[@]}"; do
	[ -n "${reported[$name]:-}" ] && continue
	echo "# the runner reported nothing for $name"
	result 1 "$name (not run)"; fail=$((fail + 1))
done
rm -rf "$logdir"

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
# Mainline's mm selftests, after our suite (they change THP, hugetlb and
# KSM settings), on three CPUs and two NUMA nodes (mm_setup).
if mm_setup; then
	result 0 "mm: set-up (3 CPUs, 2 NUMA nodes, gup_test)"; pass=$((pass + 1))
else
	result 1 "mm: set-up"; fail=$((fail + 1))
fi
mm_start=$SECONDS
for t in "${mm_tests[@]}"; do
	# shellcheck disable=SC2086 # TIMEOUT PROGRAM ARGS
	mm_program $t
done
echo "# mm: ${#mm_tests[@]} programs in $((SECONDS - mm_start)) s"
[ "$known" = 0 ] || echo "# mm: $known case(s) failed as on unpatched 7.3 (selftests/mm-allowlist): counted as allowlisted"
skip=$((skip + known))

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
