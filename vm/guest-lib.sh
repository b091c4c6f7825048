# Sourced by the guest-side scripts (vm/guest-*.sh).  Runs inside the test
# VM as root; the host's filesystem is visible read-only.

# The kernel's own words for a report.  A boot line such as "RCU lockdep
# checking is enabled" is not one; these are.
SPLAT_RE='WARNING:|BUG:|Oops|Kernel panic|general protection fault|possible recursive locking|possible circular locking|circular locking dependency|inconsistent lock state|possible irq lock inversion|suspicious RCU usage|lock held when returning to user space|sleeping function called from invalid context|scheduling while atomic|page_table_check|bad pmd|bad pte|bad pud|Bad page state|Bad rss-counter|Bad page map|UBSAN:|KASAN:|refcount_t:|list_add corruption|list_del corruption'

# guest_setup: every precondition the suite relies on; says what failed
# and returns non-zero if anything did.
guest_setup() {
	local bad=0
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
