// SPDX-License-Identifier: GPL-2.0
/*
 * kernel::mm::pgtable against a hostile safe caller.
 *
 * The Rust abstractions under the module must be sound for any safe
 * caller, not only for mover.rs, which never passes an address outside its
 * VMAs.  The test-only module rust_mremap_abuse (selftests/abuse/) calls
 * the safe API with whatever this program passes, on this process's own
 * address space; every call below must be refused with the errno the API
 * documents and leave the memory exactly as it was (and, through the
 * harness's dmesg check, leave no page_table_check or "Bad rss-counter"
 * report behind).
 */
#include "rust_mremap_lib.h"

#include <linux/ioctl.h>

#define ABUSE_DEV	"/dev/rust_mremap_abuse"
#define RW		(PROT_READ | PROT_WRITE)

struct abuse_req {
	__u32 op;
	__u32 f;	/* a fifth argument, for the operations that say so */
	__s64 ret;
	__u64 a, b, c, d, e;
};

#define ABUSE_IOC	_IOWR(0xBC, 0x01, struct abuse_req)

enum {
	OP_LOOKUP = 1, OP_ALLOC, OP_TABLE, OP_PTES, OP_HUGE, OP_SHARED_PTES, OP_RUN, OP_UNCOVERED,
	OP_PTES_RUN, OP_RUN_REFILL, OP_RUN_TWO, OP_PAIR_UFFD, OP_RUN_MANY, OP_PTES_RUN_SKIP,
};

static int afd;
static size_t ps;

/* One call; returns what the API returned (>= 0) or -errno. */
static long long call(int op, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	struct abuse_req r = { .op = op, .a = a, .b = b, .c = c, .d = d, .e = e };

	if (ioctl(afd, ABUSE_IOC, &r))
		ksft_exit_fail_msg("ioctl %s: %s\n", ABUSE_DEV, strerror(errno));
	return r.ret;
}

/* call() with the fifth argument f. */
static long long call_f(int op, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
			uint32_t f)
{
	struct abuse_req r = { .op = op, .f = f, .a = a, .b = b, .c = c, .d = d, .e = e };

	if (ioctl(afd, ABUSE_IOC, &r))
		ksft_exit_fail_msg("ioctl %s: %s\n", ABUSE_DEV, strerror(errno));
	return r.ret;
}

static const char *res_str(long long r)
{
	static char buf[64];

	if (r >= 0)
		snprintf(buf, sizeof(buf), "%lld", r);
	else
		snprintf(buf, sizeof(buf), "%s", strerror((int)-r));
	return buf;
}

static uintptr_t u(const void *p)
{
	return (uintptr_t)p;
}

/*
 * Whether no page of [p, p + len) has an entry (/proc/self/pagemap bits 63
 * present and 62 swapped).  Reading the range to see it is zero would map
 * the zero page there, and the next move into it would fail with EEXIST.
 */
static bool untouched(const void *p, size_t len)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	bool ok = fd >= 0;

	for (size_t off = 0; ok && off < len; off += ps) {
		uint64_t e;

		ok = pread(fd, &e, sizeof(e), (u(p) + off) / ps * sizeof(e)) == sizeof(e) &&
		     !(e & (3ull << 62));
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

/* A 2 MiB-aligned hole of @len with 2 MiB free around it. */
static uint8_t *hole(size_t len)
{
	uint8_t *p = rm_find_hole(len, RM_PMD, 0, RM_PMD);

	if (!p)
		ksft_exit_fail_msg("no room for %zu bytes\n", len);
	return p;
}

static uint8_t *map(void *at, size_t len, int prot)
{
	uint8_t *p = rm_map_at(at, len, prot);

	if (!p)
		ksft_exit_fail_msg("mmap at %p: %s\n", at, strerror(errno));
	return p;
}

/* Lookups accept only addresses of the VMA they are asked through. */
static bool t_lookup_scope(void)
{
	uint8_t *a = map(hole(RM_PMD), RM_PMD, RW);
	uint8_t *other = map(hole(RM_PMD), RM_PMD, RW);
	const struct { const char *what; uint64_t addr; } bad[] = {
		{ "an address of another VMA", u(other) },
		{ "the first address past the VMA", u(a) + RM_PMD },
		{ "the last address before the VMA", u(a) - 1 },
		{ "a kernel address", 0xffff888000000000ull },
		{ "the top of the address space", ~0ull },
	};
	bool ok = true;
	long long r;

	rm_fill(a, RM_PMD, 1, 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		r = call(OP_LOOKUP, u(a), bad[i].addr, 0, 0, 0);
		CHECK(r == -EINVAL, "lookup of %s (%#llx) through a VMA: %s, expected EINVAL\n",
		      bad[i].what, (unsigned long long)bad[i].addr, res_str(r));
		r = call(OP_ALLOC, u(a), bad[i].addr, 0, 0, 0);
		CHECK(r == -EINVAL, "alloc of %s (%#llx) through a VMA: %s, expected EINVAL\n",
		      bad[i].what, (unsigned long long)bad[i].addr, res_str(r));
	}
	r = call(OP_LOOKUP, u(a), u(a) + 4096, 0, 0, 0);
	CHECK(r == 1, "lookup inside the VMA: %s, expected 1 (found)\n", res_str(r));
	CHECK(rm_check(a, RM_PMD, 1, 0) == (size_t)-1, "the VMA's bytes changed\n");
	munmap(a, RM_PMD);
	munmap(other, RM_PMD);
	return ok;
}

/*
 * A whole-table move whose source VMA covers the source table but whose
 * destination VMA covers only part of the destination range: what moves
 * would land outside any VMA (@dst_low: the missing part is the lower
 * half, else the upper half).  Must be refused, nothing changed.
 */
static bool table_lands_outside(bool dst_low)
{
	uint8_t *s = map(hole(RM_PMD), RM_PMD, RW);
	uint8_t *d = hole(RM_PMD);
	uint8_t *dv = map(dst_low ? d + RM_PMD / 2 : d, RM_PMD / 2, RW);
	bool ok = true;
	long long r;

	rm_fill(s, RM_PMD, 2, 0);
	r = call(OP_TABLE, u(s), u(s), u(dv), u(dv), 0);
	CHECK(r == -EINVAL,
	      "table move into a half-covered destination (%s half missing): %s, expected EINVAL\n",
	      dst_low ? "lower" : "upper", res_str(r));
	CHECK(rm_check(s, RM_PMD, 2, 0) == (size_t)-1, "the source changed\n");
	CHECK(untouched(dv, RM_PMD / 2), "the destination VMA changed\n");
	munmap(s, RM_PMD);
	munmap(dv, RM_PMD / 2);
	return ok;
}

static bool t_table_dst_lower_half_missing(void)
{
	return table_lands_outside(true);
}

static bool t_table_dst_upper_half_missing(void)
{
	return table_lands_outside(false);
}

/*
 * A whole-table move (@op: plain, or in a run with one TLB flush) whose
 * source table also maps another VMA.
 */
static bool table_src_shared(int op)
{
	uint8_t *s = hole(RM_PMD);
	uint8_t *lo = map(s, RM_PMD / 2, RW);
	uint8_t *hi = map(s + RM_PMD / 2, RM_PMD / 2, PROT_READ);	/* another VMA */
	uint8_t *d = map(hole(RM_PMD), RM_PMD, RW);
	bool ok = true;
	long long r;

	rm_fill(lo, RM_PMD / 2, 3, 0);
	r = call(op, u(lo), u(lo), u(d), u(d), 0);
	CHECK(r == -EINVAL, "table move of a table shared with another VMA: %s, expected EINVAL\n",
	      res_str(r));
	CHECK(rm_check(lo, RM_PMD / 2, 3, 0) == (size_t)-1, "the source changed\n");
	CHECK(untouched(hi, RM_PMD / 2), "the other VMA changed\n");
	CHECK(untouched(d, RM_PMD), "the destination changed\n");
	munmap(s, RM_PMD);
	munmap(d, RM_PMD);
	return ok;
}

static bool t_table_src_shared(void)
{
	return table_src_shared(OP_TABLE);
}

/* The same move, made sound (both fully covered), does move: the control. */
static bool t_table_sound_moves(void)
{
	uint8_t *s = map(hole(RM_PMD), RM_PMD, RW);
	uint8_t *d = map(hole(RM_PMD), RM_PMD, RW);
	bool ok = true;
	long long r;

	rm_fill(s, RM_PMD, 4, 0);
	r = call(OP_TABLE, u(s), u(s), u(d), u(d), 0);
	CHECK(r == 1, "table move between two fully covered PMDs: %s, expected 1 (moved)\n",
	      res_str(r));
	CHECK(rm_check(d, RM_PMD, 4, 0) == (size_t)-1, "the bytes did not arrive\n");
	CHECK(rm_all_zero(s, RM_PMD), "the source still holds bytes\n");
	munmap(s, RM_PMD);
	munmap(d, RM_PMD);
	return ok;
}

/* PTE moves: zero entries, ranges past the entry or the VMA, wrap-around. */
static bool t_ptes_ranges(void)
{
	uint8_t *s = map(hole(RM_PMD), RM_PMD, RW);
	uint8_t *d = map(hole(RM_PMD), RM_PMD, RW);
	const struct { const char *what; uint64_t src, dst, nr; } bad[] = {
		{ "past the source entry", u(s) + RM_PMD - ps, u(d), 2 },
		{ "past the destination entry", u(s), u(d) + RM_PMD - ps, 2 },
		{ "a page count that wraps", u(s), u(d), 1ull << 62 },
		{ "a page count that wraps to a small length", u(s), u(d), (1ull << 52) + 1 },
		{ "a destination outside its VMA", u(s), u(s) - RM_PMD, 1 },
	};
	bool ok = true;
	long long r;

	rm_fill(s, RM_PMD, 5, 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		r = call(OP_PTES, u(s), bad[i].src, u(d), bad[i].dst, bad[i].nr);
		CHECK(r == -EINVAL, "PTE move %s: %s, expected EINVAL\n", bad[i].what, res_str(r));
	}
	/* Within one VMA, one page up: ascending moves would take each entry twice. */
	r = call(OP_PTES, u(s), u(s), u(s), u(s) + ps, 2);
	CHECK(r == -EINVAL, "PTE move one page up over itself: %s, expected EINVAL\n", res_str(r));
	r = call(OP_PTES, u(s), u(s), u(d), u(d), 0);
	CHECK(r == 0, "PTE move of 0 pages: %s, expected 0 pages done\n", res_str(r));
	CHECK(rm_check(s, RM_PMD, 5, 0) == (size_t)-1, "the source changed\n");
	CHECK(untouched(d, RM_PMD), "the destination changed\n");
	r = call(OP_PTES, u(s), u(s), u(d), u(d), 4);
	CHECK(r == 4, "PTE move of 4 pages: %s, expected 4\n", res_str(r));
	CHECK(rm_check(d, 4 * ps, 5, 0) == (size_t)-1, "4 pages did not arrive\n");
	munmap(s, RM_PMD);
	munmap(d, RM_PMD);
	return ok;
}

/*
 * A relocating run of PTE moves (one TLB flush for the run): a range outside either VMA, one
 * that overlaps its own destination (a slot the run emptied must not be refilled before its
 * flush), one its invalidation does not cover, and unaligned ones are refused with nothing
 * moved; a sound one moves.
 */
static bool t_ptes_run_ranges(void)
{
	uint8_t *s = map(hole(2 * RM_PMD), 2 * RM_PMD, RW);
	uint8_t *d = map(hole(RM_PMD), RM_PMD, RW);
	const struct { const char *what; uint64_t src, dvma, dst, len; } bad[] = {
		{ "a destination outside its VMA", u(s), u(d), u(d) + RM_PMD - ps, 2 * ps },
		{ "a source outside its VMA", u(s) + 2 * RM_PMD - ps, u(d), u(d), 2 * ps },
		{ "a range over its own destination", u(s), u(s), u(s) + ps, 4 * ps },
		{ "a range not in its invalidation", u(s) + RM_PMD - ps, u(d), u(d), 2 * ps },
		{ "an unaligned length", u(s), u(d), u(d), ps + 1 },
		{ "a length that wraps", u(s), u(d), u(d), -ps },
	};
	bool ok = true;
	long long r;

	rm_fill(s, 2 * RM_PMD, 6, 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		r = call(OP_PTES_RUN, u(s), bad[i].src, bad[i].dvma, bad[i].dst, bad[i].len);
		CHECK(r == -EINVAL, "run of %s: %s, expected EINVAL\n", bad[i].what, res_str(r));
	}
	CHECK(rm_check(s, 2 * RM_PMD, 6, 0) == (size_t)-1, "the source changed\n");
	CHECK(untouched(d, RM_PMD), "the destination changed\n");
	r = call(OP_PTES_RUN, u(s), u(s) + ps, u(d), u(d) + 8 * ps, 16 * ps);
	CHECK(r == (long long)(16 * ps), "run of 16 pages: %s, expected %zu bytes\n", res_str(r),
	      16 * ps);
	CHECK(rm_check(d + 8 * ps, 16 * ps, 6, ps) == (size_t)-1, "16 pages did not arrive\n");
	CHECK(rm_all_zero(s + ps, 16 * ps), "the source still holds them\n");
	munmap(s, 2 * RM_PMD);
	munmap(d, RM_PMD);
	return ok;
}

/*
 * A relocating run that resumes inside its first range (skip): a skip that is not page-aligned,
 * or that is the whole range or more, is refused with nothing moved; so is a range whose only
 * flaw lies in the skipped prefix (it starts a page below its VMA, all of it covered by the
 * invalidation: a run that checked only the rest would move it), and one whose start plus the
 * skip wraps (computed before the range is checked: an overflow). A sound skip moves the rest of
 * the range alone, and the skipped pages stay where they are.
 */
static bool t_ptes_run_skip(void)
{
	/* The source VMA starts a page into a PMD, the page below it in no VMA. */
	uint8_t *s = map(hole(RM_PMD) + ps, RM_PMD - ps, RW);
	uint8_t *d = map(hole(RM_PMD), RM_PMD, RW);
	const struct { const char *what; uint64_t src, len; uint32_t skip; } bad[] = {
		{ "an unaligned skip", u(s), 8 * ps, 1 },
		{ "a skip of the whole range", u(s), 8 * ps, 8 * ps },
		{ "a skip past the range", u(s), 8 * ps, 16 * ps },
		{ "a skipped first page below its VMA", u(s) - ps, 4 * ps, ps },
		{ "a start that wraps with the skip", -2 * ps, 8 * ps, 4 * ps },
	};
	bool ok = true;
	long long r;

	rm_fill(s, RM_PMD - ps, 7, 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		r = call_f(OP_PTES_RUN_SKIP, u(s), bad[i].src, u(d), u(d), bad[i].len, bad[i].skip);
		CHECK(r == -EINVAL, "run with %s: %s, expected EINVAL\n", bad[i].what, res_str(r));
	}
	CHECK(rm_check(s, RM_PMD - ps, 7, 0) == (size_t)-1, "the source changed\n");
	CHECK(untouched(d, RM_PMD), "the destination changed\n");
	r = call_f(OP_PTES_RUN_SKIP, u(s), u(s), u(d), u(d), 8 * ps, 2 * ps);
	CHECK(r == (long long)(8 * ps), "run of 8 pages skipping 2: %s, expected %zu bytes\n",
	      res_str(r), 8 * ps);
	CHECK(rm_check(s, 2 * ps, 7, 0) == (size_t)-1, "the 2 skipped pages moved\n");
	CHECK(untouched(d, 2 * ps), "the 2 skipped pages arrived\n");
	CHECK(rm_check(d + 2 * ps, 6 * ps, 7, 2 * ps) == (size_t)-1, "6 pages did not arrive\n");
	CHECK(rm_all_zero(s + 2 * ps, 6 * ps), "the source still holds them\n");
	munmap(s, RM_PMD - ps);
	munmap(d, RM_PMD);
	return ok;
}

/*
 * A relocating run of two ranges within one VMA, [(A, B), (C, A)]: the second
 * refills the slots the first emptied.  Until the first range's TLB flush, a
 * stale entry on another CPU may still map A to its old page, so the run must
 * end its hold of the rmap lock (flushing) before it refills A: two holds.  The
 * same run with a second range that refills nothing takes one (need_resched()
 * may end a hold too: one of three tries must show one).  Every byte lands.
 */
static bool t_run_refill(void)
{
	uint8_t *v = map(hole(RM_PMD), RM_PMD, RW);
	size_t len = 8 * ps;
	uint8_t *a = v, *b = v + 64 * ps, *c = v + 128 * ps, *x = v + 256 * ps;
	bool ok = true, one_hold = false;
	long long r;

	rm_fill(a, len, 20, 0);
	rm_fill(c, len, 21, 0);
	r = call(OP_RUN_REFILL, u(v), u(a), u(c), u(b), len);
	CHECK(r >= 0 && r >> 32 == 2, "run [(A, B), (C, A)]: %s, expected 2 ranges done\n",
	      res_str(r));
	CHECK(r >= 0 && (r & 0xffffffff) >= 2,
	      "run [(A, B), (C, A)] refilled A in the hold that emptied it (%lld holds)\n",
	      r & 0xffffffff);
	CHECK(rm_check(b, len, 20, 0) == (size_t)-1, "A's bytes did not arrive at B\n");
	CHECK(rm_check(a, len, 21, 0) == (size_t)-1, "C's bytes did not arrive at A\n");
	CHECK(rm_all_zero(c, len), "C still holds its bytes\n");
	for (int i = 0; i < 3 && !one_hold; i++) {
		/* B to X (8 pages), then A to X + 8 pages: nothing refilled. */
		r = call(OP_RUN_TWO, u(v), u(b), u(a), u(x), len);
		CHECK(r >= 0 && r >> 32 == 2, "run [(B, X), (A, X + 8)]: %s\n", res_str(r));
		one_hold = r >= 0 && (r & 0xffffffff) == 1;
		if (r < 0)
			break;
		CHECK(rm_check(x, len, 20, 0) == (size_t)-1, "B's bytes did not arrive at X\n");
		CHECK(rm_check(x + len, len, 21, 0) == (size_t)-1, "A's bytes did not arrive\n");
		/* Back for the next try. */
		memcpy(b, x, len);
		memcpy(a, x + len, len);
		madvise(x, 2 * len, MADV_DONTNEED);
	}
	CHECK(one_hold, "a run that refills nothing never kept one hold\n");
	munmap(v, RM_PMD);
	return ok;
}

/*
 * A relocating run holds the destination's root anon_vma lock, which other processes' reclaim
 * and migration wait for: it must end that hold on its own, flushing, after a page table's worth
 * of work, whatever it is given.  1000 one-page ranges take at least two holds, whether their
 * sources are populated (1000 entries moved) or empty (1000 extents passed over: a sparse
 * source must not keep the lock either), and every byte lands.
 */
static bool t_run_bounded(void)
{
	size_t n = 1000, len = n * ps;
	uint8_t *s = map(hole(2 * RM_PMD), 2 * RM_PMD, RW);
	uint8_t *e = map(hole(2 * RM_PMD), 2 * RM_PMD, RW);
	uint8_t *d = map(hole(4 * RM_PMD), 4 * RM_PMD, RW);
	bool ok = true;
	long long r;

	rm_fill(s, len, 30, 0);
	r = call(OP_RUN_MANY, u(s), u(s), u(d), u(d), n);
	CHECK(r >= 0 && r >> 32 == (long long)n, "run of %zu populated ranges: %s\n", n,
	      res_str(r));
	CHECK(r >= 0 && (r & 0xffffffff) >= 2,
	      "run of %zu populated ranges kept one hold of the rmap lock (%s)\n", n, res_str(r));
	CHECK(rm_check(d, len, 30, 0) == (size_t)-1, "the bytes did not arrive\n");
	CHECK(rm_all_zero(s, len), "the source still holds them\n");
	r = call(OP_RUN_MANY, u(e), u(e), u(d), u(d) + len, n);
	CHECK(r >= 0 && r >> 32 == (long long)n, "run of %zu empty ranges: %s\n", n, res_str(r));
	CHECK(r >= 0 && (r & 0xffffffff) >= 2,
	      "run of %zu empty ranges kept one hold of the rmap lock (%s)\n", n, res_str(r));
	munmap(s, 2 * RM_PMD);
	munmap(e, 2 * RM_PMD);
	munmap(d, 4 * RM_PMD);
	return ok;
}

/*
 * Only the monitor moves registered memory: a pair over a VMA registered with
 * userfaultfd is made only with that userfaultfd (EPERM without it, or with
 * another), and an fd that is no userfaultfd is EBADF.
 */
static bool t_pair_uffd(void)
{
	uint8_t *s = map(hole(RM_PMD), RM_PMD, RW);
	uint8_t *d = map(hole(RM_PMD), RM_PMD, RW);
	int uffd = rm_uffd_open(0, NULL), other = rm_uffd_open(0, NULL);
	struct uffdio_register reg = {
		.range = { .start = u(d), .len = RM_PMD },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	bool ok = true;
	long long r;

	if (uffd < 0 || other < 0 || nfd < 0 || ioctl(uffd, UFFDIO_REGISTER, &reg))
		ksft_exit_fail_msg("userfaultfd set-up: %s\n", strerror(errno));
	r = call(OP_PAIR_UFFD, u(s), 0, u(d), 0, 0);
	CHECK(r == -EPERM, "pair into a registered VMA, no userfaultfd: %s, expected EPERM\n",
	      res_str(r));
	r = call(OP_PAIR_UFFD, u(d), 0, u(s), 0, 0);
	CHECK(r == -EPERM, "pair out of a registered VMA, no userfaultfd: %s, expected EPERM\n",
	      res_str(r));
	r = call(OP_PAIR_UFFD, u(s), 0, u(d), 1, other);
	CHECK(r == -EPERM, "pair with another userfaultfd: %s, expected EPERM\n", res_str(r));
	r = call(OP_PAIR_UFFD, u(s), 0, u(d), 1, nfd);
	CHECK(r == -EBADF, "pair with /dev/null as userfaultfd: %s, expected EBADF\n",
	      res_str(r));
	r = call(OP_PAIR_UFFD, u(s), 0, u(d), 1, uffd);
	CHECK(r == 0, "pair with the VMA's userfaultfd: %s, expected 0\n", res_str(r));
	r = call(OP_PAIR_UFFD, u(s), 0, u(s), 1, other);
	CHECK(r == 0, "pair of unregistered VMAs with a userfaultfd: %s\n", res_str(r));
	close(nfd);
	close(other);
	close(uffd);
	munmap(s, RM_PMD);
	munmap(d, RM_PMD);
	return ok;
}

/* A THP move where the entry is a table: refused, nothing rebuilt. */
static bool t_huge_on_table(void)
{
	uint8_t *s = map(hole(RM_PMD), RM_PMD, RW);
	uint8_t *d = map(hole(RM_PMD), RM_PMD, RW);
	bool ok = true;
	long long r;

	rm_fill(s, RM_PMD, 6, 0);
	r = call(OP_HUGE, u(s), u(s), u(d), u(d), 0);
	CHECK(r == -ENOENT, "THP move of a page table: %s, expected ENOENT\n", res_str(r));
	CHECK(rm_check(s, RM_PMD, 6, 0) == (size_t)-1, "the source changed\n");
	CHECK(untouched(d, RM_PMD), "the destination changed\n");
	munmap(s, RM_PMD);
	munmap(d, RM_PMD);
	return ok;
}

/*
 * Once a pair shares rmap identity at an offset, a move at any other offset
 * would map folios where their index is wrong: refused.  (The destination
 * is never faulted, so sharing adopts the source's identity.)
 */
static bool t_shared_offset(void)
{
	uint8_t *s = map(hole(RM_PMD), RM_PMD, RW);
	uint8_t *d = map(hole(RM_PMD), RM_PMD, RW);
	bool ok = true;
	long long r;

	rm_fill(s, RM_PMD, 8, 0);
	r = call(OP_SHARED_PTES, u(s), u(s), u(d), u(d), ps);
	CHECK(r == -EINVAL,
	      "shared pair, PTE move one page off the shared offset: %s, expected EINVAL\n",
	      res_str(r));
	CHECK(untouched(d, RM_PMD), "the destination changed\n");
	r = call(OP_SHARED_PTES, u(s), u(s), u(d), u(d), 0);
	CHECK(r == 1, "shared pair, PTE move at the shared offset: %s, expected 1 page\n",
	      res_str(r));
	CHECK(rm_check(d, ps, 8, 0) == (size_t)-1, "the page did not arrive\n");
	CHECK(rm_check(s + ps, RM_PMD - ps, 8, ps) == (size_t)-1,
	      "the rest of the source changed\n");
	munmap(s, RM_PMD);
	munmap(d, RM_PMD);
	return ok;
}

/*
 * A table move in a run with one TLB flush keeps every rule of a table
 * move: a move off the shared offset and one of a table that also maps
 * another VMA are refused; a sound one moves (the run flushes when it
 * ends).  (A run of a pair that does not share rmap identity does not
 * compile: selftests/abuse/compile_fail/run_needs_shared_pair.rs.)
 */
static bool t_run_table(void)
{
	uint8_t *s = map(hole(RM_PMD), RM_PMD, RW);
	uint8_t *d = map(hole(2 * RM_PMD), 2 * RM_PMD, RW);
	bool ok = table_src_shared(OP_RUN);
	long long r;

	rm_fill(s, RM_PMD, 9, 0);
	r = call(OP_RUN, u(s), u(s), u(d), u(d), 2);
	CHECK(r == -EINVAL, "run's table move off the shared offset: %s, expected EINVAL\n",
	      res_str(r));
	CHECK(untouched(d, 2 * RM_PMD), "the destination changed\n");
	r = call(OP_RUN, u(s), u(s), u(d), u(d), 0);
	CHECK(r == 1, "sound table move in a run: %s, expected 1 (moved)\n", res_str(r));
	CHECK(rm_check(d, RM_PMD, 9, 0) == (size_t)-1, "the bytes did not arrive\n");
	CHECK(rm_all_zero(s, RM_PMD), "the source still holds bytes\n");
	munmap(s, RM_PMD);
	munmap(d, 2 * RM_PMD);
	return ok;
}

/*
 * Every move takes the mmu-notifier invalidation it runs under as a proof:
 * one that does not cover the source is refused, nothing changed, so no
 * secondary MMU (KVM, an HMM mirror) can keep a translation of what moved.
 */
static bool t_uncovered(void)
{
	uint8_t *s = map(hole(RM_PMD), RM_PMD, RW);
	uint8_t *d = map(hole(RM_PMD), RM_PMD, RW);
	bool ok = true;
	long long r;

	rm_fill(s, RM_PMD, 10, 0);
	/* An empty invalidation ([s, s)) starts no notifier range and covers nothing. */
	r = call(OP_UNCOVERED, u(s), u(s), u(d), u(d), 0);
	CHECK(r == -EINVAL, "table move under an empty invalidation: %s, expected EINVAL\n",
	      res_str(r));
	/* A wrapping one ([s + 1 page, s)) neither. */
	r = call(OP_UNCOVERED, u(s), u(s) + ps, u(d), u(d), ps);
	CHECK(r == -EINVAL, "table move under a wrapping invalidation: %s, expected EINVAL\n",
	      res_str(r));
	CHECK(rm_check(s, RM_PMD, 10, 0) == (size_t)-1, "the source changed\n");
	CHECK(untouched(d, RM_PMD), "the destination changed\n");
	r = call(OP_TABLE, u(s), u(s), u(d), u(d), 0);
	CHECK(r == 1, "the same move, covered: %s, expected 1 (moved)\n", res_str(r));
	CHECK(rm_check(d, RM_PMD, 10, 0) == (size_t)-1, "the bytes did not arrive\n");
	munmap(s, RM_PMD);
	munmap(d, RM_PMD);
	return ok;
}

/* Endpoints the API must refuse as VMAs, whatever the operation. */
static bool t_endpoints(void)
{
	uint8_t *rw = map(hole(RM_PMD), RM_PMD, RW);
	uint8_t *ro = map(hole(RM_PMD), RM_PMD, PROT_READ);
	uint8_t *sh = mmap(hole(RM_PMD), RM_PMD, RW,
			   MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	bool ok = true;
	long long r;

	int zfd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	uint8_t *zero = zfd < 0 ? MAP_FAILED :
			mmap(hole(RM_PMD), RM_PMD, RW, MAP_PRIVATE | MAP_FIXED_NOREPLACE, zfd, 0);

	if (sh == MAP_FAILED || zero == MAP_FAILED)
		ksft_exit_fail_msg("mmap shared or /dev/zero: %s\n", strerror(errno));
	close(zfd);
	rm_fill(rw, RM_PMD, 7, 0);
	r = call(OP_TABLE, u(rw), u(rw), u(ro), u(ro), 0);
	CHECK(r == -EINVAL, "RW -> RO table move: %s, expected EINVAL\n", res_str(r));
	r = call(OP_PTES, u(rw), u(rw), u(sh), u(sh), 1);
	CHECK(r == -EOPNOTSUPP, "private -> shared PTE move: %s, expected EOPNOTSUPP\n",
	      res_str(r));
	r = call(OP_LOOKUP, u(sh), u(sh), 0, 0, 0);
	CHECK(r == -EOPNOTSUPP, "lookup through a shared VMA: %s, expected EOPNOTSUPP\n",
	      res_str(r));
	/* Anonymous to the fault path, but a file mapping with a file offset. */
	r = call(OP_PTES, u(rw), u(rw), u(zero), u(zero), 1);
	CHECK(r == -EOPNOTSUPP, "move to MAP_PRIVATE /dev/zero: %s, expected EOPNOTSUPP\n",
	      res_str(r));
	CHECK(rm_check(rw, RM_PMD, 7, 0) == (size_t)-1, "the source changed\n");
	CHECK(untouched(ro, RM_PMD) && untouched(sh, RM_PMD), "a destination changed\n");
	munmap(rw, RM_PMD);
	munmap(ro, RM_PMD);
	munmap(sh, RM_PMD);
	munmap(zero, RM_PMD);
	return ok;
}

static const struct {
	const char *name;
	bool (*fn)(void);
} tests[] = {
	{ "lookup_only_inside_the_vma",		t_lookup_scope },
	{ "table_dst_lower_half_missing_EINVAL",	t_table_dst_lower_half_missing },
	{ "table_dst_upper_half_missing_EINVAL",	t_table_dst_upper_half_missing },
	{ "table_src_shared_with_another_vma_EINVAL",	t_table_src_shared },
	{ "table_sound_move_moves",		t_table_sound_moves },
	{ "ptes_ranges_zero_and_wrap",		t_ptes_ranges },
	{ "ptes_run_ranges_EINVAL",		t_ptes_run_ranges },
	{ "ptes_run_skip_rules",		t_ptes_run_skip },
	{ "huge_move_of_a_table_ENOENT",	t_huge_on_table },
	{ "endpoints_refused",			t_endpoints },
	{ "shared_pair_keeps_its_offset",	t_shared_offset },
	{ "run_keeps_the_rules",		t_run_table },
	{ "move_outside_its_invalidation_EINVAL",	t_uncovered },
	{ "run_refills_only_after_a_flush",	t_run_refill },
	{ "pair_of_registered_vma_needs_its_uffd",	t_pair_uffd },
	{ "run_bounds_its_rmap_lock_hold",	t_run_bounded },
};

int main(void)
{
	ps = rm_page_size();
	ksft_print_header();
	ksft_set_plan(ARRAY_SIZE(tests));
	afd = open(ABUSE_DEV, O_RDWR | O_CLOEXEC);
	if (afd < 0 && errno == ENOENT)
		ksft_exit_skip("%s: no such device: load the test-only module of abuse/\n",
			       ABUSE_DEV);
	if (afd < 0)
		ksft_exit_fail_msg("open %s: %s\n", ABUSE_DEV, strerror(errno));
	for (size_t i = 0; i < ARRAY_SIZE(tests); i++)
		ksft_test_result(tests[i].fn(), "%s\n", tests[i].name);
	ksft_finished();
}
