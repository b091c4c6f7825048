# Sourced by the guest-side scripts (vm/guest-*.sh).  Runs inside the test
# VM as root; the host's filesystem is visible read-only.

# The kernel's own words for a report.  A boot line such as "RCU lockdep
# checking is enabled" is not one; these are.
SPLAT_RE='WARNING:|BUG:|Oops|Kernel panic|general protection fault|possible recursive locking|possible circular locking|circular locking dependency|inconsistent lock state|possible irq lock inversion|suspicious RCU usage|lock held when returning to user space|sleeping function called from invalid context|scheduling while atomic|page_table_check|bad pmd|bad pte|bad pud|Bad page state|Bad rss-counter|Bad page map|UBSAN:|KASAN:|refcount_t:|list_add corruption|list_del corruption'

# guest_setup: every precondition the suite relies on; says what failed
# and returns non-zero if anything did.
guest_setup() {
	local bad=0 c
	# Two CPUs: vm/run.sh boots a third for mainline's migration test,
	# which mm_setup brings back up after the suite.
	for c in /sys/devices/system/cpu/cpu[2-9]*/online; do
		[ -e "$c" ] && [ "$(cat "$c")" = 1 ] || continue
		echo 0 > "$c" || { echo "guest: ${c%/online} could not be taken offline"; bad=1; }
	done
	mountpoint -q /sys/kernel/debug 2>/dev/null || mount -t debugfs none /sys/kernel/debug ||
		{ echo "guest: debugfs could not be mounted"; bad=1; }
	# THP only where a test asks for it (madvise), so counters are exact.
	echo madvise > /sys/kernel/mm/transparent_hugepage/enabled ||
		{ echo "guest: THP madvise mode could not be set"; bad=1; }
	# Swap on zram for the rmap tests (MADV_PAGEOUT).
	if ! grep -q zram0 /proc/swaps; then
		{ [ -e /sys/block/zram0 ] && echo 512M > /sys/block/zram0/disksize &&
		  mkswap /dev/zram0 >/dev/null && swapon /dev/zram0; } ||
			{ echo "guest: zram swap could not be set up"; bad=1; }
	fi
	# Two huge pages for the hugetlb refusal tests.
	echo 2 > /proc/sys/vm/nr_hugepages
	[ "$(cat /proc/sys/vm/nr_hugepages)" -ge 2 ] ||
		{ echo "guest: no hugetlb pages could be reserved"; bad=1; }
	[ -e /sys/kernel/mm/ksm/run ] || { echo "guest: no KSM"; bad=1; }
	[ -e /proc/self/fail-nth ] || { echo "guest: no fail-nth (fault injection)"; bad=1; }
	[ -e /sys/kernel/debug/failslab ] || { echo "guest: no failslab in debugfs"; bad=1; }
	grep -q userfaultfd /proc/kallsyms 2>/dev/null ||
		{ echo "guest: no userfaultfd in this kernel"; bad=1; }
	grep -q io_uring_setup /proc/kallsyms 2>/dev/null ||
		{ echo "guest: no io_uring in this kernel"; bad=1; }
	return $bad
}

# load_module KO: insmod, and check the device node came up as 0600.
load_module() {
	insmod "$1" || { echo "# guest: insmod $1 failed"; return 1; }
	for _ in 1 2 3 4 5 6 7 8 9 10; do [ -c /dev/rust_mremap ] && break; sleep 0.2; done
	[ -c /dev/rust_mremap ] || { echo "# guest: /dev/rust_mremap did not appear"; return 1; }
}

# dmesg_clean: 0 when the kernel log holds no report; prints them otherwise.
dmesg_clean() {
	local hits
	hits=$(dmesg | grep -E "$SPLAT_RE")
	[ -z "$hits" ] && return 0
	echo "# guest: kernel reports in dmesg:"
	dmesg | grep -E -A25 "$SPLAT_RE" | head -n 200 | sed 's/^/# dmesg: /'
	return 1
}

# The last line the host looks for: without it the run crashed or hung.
guest_exit() {
	echo "RUST_MREMAP_GUEST_EXIT=$1"
	exit "$1"
}

# --- mainline's mm selftests (tools/testing/selftests/mm, built and
#     installed beside ours as kselftest's TARGETS=mm) ---

# mm_setup: what they need beyond guest_setup.  rmap and migration skip
# every case on one NUMA node: vm/run.sh boots with numa=fake=2.
# migration runs numa_num_task_cpus() - 2 threads and skips with none:
# vm/run.sh gives the guest a third CPU, which guest_setup takes offline so
# that our own suite runs on two as before; it comes back up here.  Sets
# mm_cwd (so not in a subshell); says what failed as TAP comments.
mm_setup() {
	local bad=0 c
	# Their working directory: some write files there, and some run
	# ./PROGRAM, as in kselftest's mm directory, which is the host's,
	# read-only here; so a writable one holding links to it.
	mm_cwd=$(mktemp -d) && ln -s "$ksft"/mm/* "$mm_cwd"/ ||
		{ echo "# mm: no scratch directory"; bad=1; }
	for c in /sys/devices/system/cpu/cpu[0-9]*/online; do
		[ "$(cat "$c")" = 1 ] || echo 1 > "$c" || { echo "# mm: ${c%/online} could not be brought online"; bad=1; }
	done
	[ "$(nproc)" -ge 3 ] || { echo "# mm: $(nproc) CPUs online, migration needs 3"; bad=1; }
	[ "$(cat /sys/devices/system/node/has_memory 2>/dev/null)" = 0-1 ] ||
		{ echo "# mm: NUMA nodes with memory: '$(cat /sys/devices/system/node/has_memory 2>/dev/null)', rmap and migration need two (numa=fake=2)"; bad=1; }
	[ -e /sys/kernel/debug/gup_test ] || { echo "# mm: no gup_test in debugfs (CONFIG_GUP_TEST)"; bad=1; }
	return $bad
}

# mm_allowed PROGRAM KIND CASE: whether selftests/mm-allowlist lets CASE of
# PROGRAM end in KIND (skip, or fail where unpatched 7.3 fails it too);
# prints the entry's reason.  Format: PROGRAM | KIND | CASE (a bash glob) | REASON
# (Bash builtins only: every fork costs under TCG.)
mm_allowed() {
	local p k c r
	while IFS='|' read -r p k c r; do
		[[ $p =~ ^[[:space:]]*(#|$) ]] && continue
		p=${p//[[:space:]]/} k=${k//[[:space:]]/}
		c=${c#"${c%%[![:space:]]*}"} c=${c%"${c##*[![:space:]]}"}
		[ "$p" = "$1" ] && [ "$k" = "$2" ] || continue
		# shellcheck disable=SC2053 # CASE is a glob
		[[ $3 == $c ]] && { echo "${r# }"; return 0; }
	done < "$mm_allow"
	return 1
}

# mm_program [-R] TIMEOUT PROGRAM [ARGS...]: run one program of $ksft/mm in
# mm_setup's scratch directory (-R: under setarch -R, without address-space
# randomization), its TAP nested, and account for it in the caller's
# counters (pass fail skip known expected ran) and TAP (result).  Every
# case counts: one that fails, or skips, fails the run unless
# selftests/mm-allowlist names it; so does a program that times out, bails
# out, skips as a whole, exits with another status or prints no Totals
# line (and one that reports fewer results than it planned fails the
# caller's closing check).
mm_program() {
	local norand=()
	[ "$1" = -R ] && { norand=(setarch -R); shift; }
	local t=$1 prog=$2; shift 2
	local name="mm: $prog${*:+ $*}${norand:+ (setarch -R)}" log rc start plan='' line desc kind why bad=0 counted=0 totals=0 bail=0
	local pknown=0
	log=$(mktemp)
	start=$SECONDS
	echo "# ${name#mm: }: running (timeout $t s)"
	(cd "$mm_cwd" && exec timeout -k 10 "$t" "${norand[@]}" "./$prog" "$@") 2>&1 < /dev/null |
		tee "$log" | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
	echo "# mm: $prog exited $rc after $((SECONDS - start)) s"
	while IFS= read -r line; do
		case $line in
		"1.."*) [ -n "$plan" ] || { plan=${line#1..}; plan=${plan%%[!0-9]*}; } ; continue ;;
		"# Totals: pass:"*) totals=1; continue ;;
		"Bail out!"*) bail=1; continue ;;
		"ok "[0-9]*|"not ok "[0-9]*) ;;
		*) continue ;;
		esac
		ran=$((ran + 1))
		# The case: its description, or a skip's message when it has none
		# (ksft_test_result_skip() prints "ok N # SKIP message").
		desc=${line#not } desc=${desc#ok } desc=${desc#"${desc%%[!0-9]*}"} desc=${desc# }
		case $desc in
		"# "*) desc=${desc#\# } desc=${desc#* } ;;
		*) desc=${desc%% # *} ;;
		esac
		desc=${desc%"${desc##*[![:space:]]}"}
		case $line in
		"not ok "*) kind=fail ;;
		*" # SKIP"*) kind=skip ;;
		*) pass=$((pass + 1)); continue ;;
		esac
		if why=$(mm_allowed "$prog" "$kind" "$desc"); then
			echo "# allowed $kind ($prog): $desc: $why"
			if [ "$kind" = skip ]; then
				skip=$((skip + 1))
			else
				known=$((known + 1)) pknown=$((pknown + 1))
			fi
		else
			echo "# $kind not on selftests/mm-allowlist ($prog): $desc"
			fail=$((fail + 1)); counted=$((counted + 1)); bad=1
		fi
	done < "$log"
	expected=$((expected + ${plan:-0}))
	case $rc in
	0|4) ;;
	# (a program fails itself on a case the allowlist lets fail)
	1) [ $pknown != 0 ] && [ $counted = 0 ] || { echo "# mm: $prog exited 1"; bad=1; } ;;
	124|137) echo "# mm: $prog timed out after $t s"; bad=1 ;;
	*) echo "# mm: $prog exited $rc"; bad=1 ;;
	esac
	[ "${plan:-0}" -gt 0 ] || { echo "# mm: $prog planned no test (skipped as a whole: not allowed)"; bad=1; }
	[ $bail = 0 ] || { echo "# mm: $prog bailed out"; bad=1; }
	[ $totals = 1 ] || { echo "# mm: $prog printed no Totals line"; bad=1; }
	result $bad "$name"
	# A failure the cases did not already count counts once here.
	[ $bad = 0 ] || [ $counted != 0 ] || fail=$((fail + 1))
	rm -f "$log"
}
