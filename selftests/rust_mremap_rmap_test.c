// SPDX-License-Identifier: GPL-2.0
/*
 * rust_mremap rmap selftest: after a move, every moved anonymous folio must
 * be found by the reverse map at its NEW address (folio->mapping points to
 * the destination VMA's anon_vma, folio->index is the destination's linear
 * index).  Reading the bytes back cannot show a broken rmap (the page tables
 * are right either way), so every test also makes the kernel walk the rmap
 * of the moved folios and checks the result:
 *  - reclaim (MADV_PAGEOUT): try_to_unmap() finds the PTEs through the rmap;
 *    a folio whose rmap is wrong is not unmapped and never reaches swap, so
 *    /proc/self/pagemap must show (nearly) every moved page as swapped;
 *  - swap-in: the swap cache folio is mapped again at the new address;
 *  - migration (MADV_SOFT_OFFLINE of chosen pages, compaction), fork + COW.
 *
 * Whether MADV_PAGEOUT works at all here is measured once on an unmoved
 * control region: if it does not (no swap device, ...), the rmap checks are
 * reported as skipped, never as passed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>

#include "rust_mremap_lib.h"

#define LEN		RM_MB(4)	/* the usual region: 4 MiB ... */
#define OFF		RM_MB(1)	/* ... starting 1 MiB into a PMD */
#define GUARD		RM_MB(4)	/* free space kept around every region */
#define SWAP_MIN_PCT	100		/* share of pages MADV_PAGEOUT must swap out: all */
#define SEED		0x5eedu

#define PM_PRESENT	(1ULL << 63)
#define PM_SWAP		(1ULL << 62)
#define PM_PFN_MASK	((1ULL << 55) - 1)

static int g_fd;		/* /dev/rust_mremap */
static size_t g_ps;		/* page size */

/* ------------------------------------------------------------------ */
/* Result of one TAP test: any failure wins, then any skip, else pass. */

struct tc {
	const char *name;
	bool failed;
	char skip[256];
};

static __printf(2, 3) void tc_fail(struct tc *t, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ksft_print_msg("%s: FAIL: %s\n", t->name, buf);
	t->failed = true;
}

/* A check that could not be done because something outside the module is missing. */
static __printf(2, 3) void tc_skip(struct tc *t, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ksft_print_msg("%s: not checked: %s\n", t->name, buf);
	if (!t->skip[0])
		snprintf(t->skip, sizeof(t->skip), "%s", buf);
}

/*
 * Every proof runs twice: with the moves sharing rmap identity where they
 * can (the default: no folio is touched), and with RUST_MREMAP_RELOCATE
 * (every moved folio is relocated to the destination VMA).
 */
static bool g_relocate;

static const char *mode(void)
{
	return g_relocate ? "relocate" : "share";
}

static void tc_report(struct tc *t)
{
	if (t->failed)
		ksft_test_result_fail("[%s] %s\n", mode(), t->name);
	else if (t->skip[0])
		ksft_test_result_skip("[%s] %s: %s\n", mode(), t->name, t->skip);
	else
		ksft_test_result_pass("[%s] %s\n", mode(), t->name);
}

/* ------------------------------------------------------------------ */
/* Regions */

/*
 * Map a fresh private anonymous region of @len bytes starting @off bytes
 * into a PMD, with GUARD bytes free on both sides (so the realign rule
 * applies and no neighbour shares its PMD slots, hence no page tables).
 * 4 KiB pages unless @thp.  Regions must be mapped one after the other.
 */
static uint8_t *map_region(size_t len, size_t off, bool thp)
{
	void *hole = rm_find_hole(len, RM_PMD, off, GUARD);
	uint8_t *p;

	if (!hole)
		return NULL;
	p = rm_map_at(hole, len, PROT_READ | PROT_WRITE);
	if (p && thp && madvise(p, len, MADV_HUGEPAGE)) {
		munmap(p, len);
		return NULL;
	}
	return p;
}

static void unmap(uint8_t *p, size_t len)
{
	if (p)
		munmap(p, len);
}

/* ------------------------------------------------------------------ */
/* /proc/self/pagemap */

struct pmc {
	size_t present;
	size_t swapped;
};

static bool pm_count(const void *p, size_t len, struct pmc *c)
{
	size_t n = len / g_ps;
	uint64_t *e = malloc(n * sizeof(*e));
	bool ok = e && rm_pagemap(p, n, e);

	c->present = c->swapped = 0;
	for (size_t i = 0; ok && i < n; i++) {
		c->present += !!(e[i] & PM_PRESENT);
		c->swapped += !!(e[i] & PM_SWAP);
	}
	free(e);
	return ok;
}

/* ------------------------------------------------------------------ */
/* Swap-out as an rmap probe */

static bool swaps_active(void)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[256];
	int n = 0;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n > 1;	/* header line + at least one device */
}

/*
 * MADV_PAGEOUT the range (a few tries: a folio can be briefly off the
 * LRU) and return how many of its pages pagemap shows as swapped, or -1.
 */
static long pageout_swapped(const void *p, size_t len)
{
	struct pmc c = { 0, 0 };

	/*
	 * A folio still in a per-CPU LRU batch cannot be isolated yet: try
	 * again (MADV_PAGEOUT drains this CPU's batches) until all are out.
	 */
	for (int i = 0; i < 10; i++) {
		if (madvise((void *)p, len, MADV_PAGEOUT) || !pm_count(p, len, &c))
			return -1;
		if (c.swapped == len / g_ps)
			break;
		usleep(10000);
	}
	return (long)c.swapped;
}

static int g_swap = -1;		/* -1 not probed yet, 0 unusable, 1 usable */
static char g_swap_why[200];

/* Does MADV_PAGEOUT swap out an ordinary, never moved region? (probed once) */
static bool swap_usable(const char **why)
{
	*why = g_swap_why;
	if (g_swap >= 0)
		return g_swap;
	g_swap = 0;
	if (!swaps_active()) {
		snprintf(g_swap_why, sizeof(g_swap_why), "no active swap device in /proc/swaps");
	} else {
		size_t len = RM_MB(1), n = len / g_ps;
		uint8_t *p = map_region(len, 0, false);
		long s;

		if (!p) {
			snprintf(g_swap_why, sizeof(g_swap_why),
				 "cannot map the swap control region: %s", strerror(errno));
			return false;
		}
		rm_fill(p, len, 0xC0, 0);
		s = pageout_swapped(p, len);
		if (s < 0)
			snprintf(g_swap_why, sizeof(g_swap_why), "MADV_PAGEOUT/pagemap failed: %s",
				 strerror(errno));
		else if ((size_t)s * 100 < n * SWAP_MIN_PCT)
			snprintf(
				g_swap_why, sizeof(g_swap_why),
				"MADV_PAGEOUT swapped out only %ld of %zu pages of a never-moved control region",
				s, n);
		else if (rm_check(p, len, 0xC0, 0) != (size_t)-1)
			snprintf(g_swap_why, sizeof(g_swap_why),
				 "a never-moved control region came back from swap corrupted");
		else
			g_swap = 1;
		munmap(p, len);
	}
	if (!g_swap)
		ksft_print_msg("swap-out probe: %s\n", g_swap_why);
	return g_swap;
}

/*
 * The rmap probe: every page of [p, p+len) must hold data and belong to
 * a moved folio.  Reclaim unmaps a folio through its rmap; one the rmap
 * cannot find stays mapped (pagemap: present, not swapped).
 */
static void check_pageout(struct tc *t, const char *what, const void *p, size_t len)
{
	size_t n = len / g_ps;
	const char *why;
	long s;

	if (!swap_usable(&why)) {
		tc_skip(t, "swap-out (rmap) check of %s: %s", what, why);
		return;
	}
	s = pageout_swapped(p, len);
	if (s < 0) {
		tc_fail(t, "%s: MADV_PAGEOUT/pagemap: %s", what, strerror(errno));
		return;
	}
	ksft_print_msg("%s: %s: %ld of %zu pages swapped out\n", t->name, what, s, n);
	if ((size_t)s * 100 < n * SWAP_MIN_PCT)
		tc_fail(t,
			"%s: only %ld of %zu pages could be swapped out (reclaim cannot find the moved folios through rmap)",
			what, s, n);
}

/* ------------------------------------------------------------------ */
/* Byte checks */

static bool expect_pattern(struct tc *t, const char *what, const uint8_t *p, size_t len,
			   unsigned int seed, size_t off)
{
	size_t bad = rm_check(p, len, seed, off);

	if (bad == (size_t)-1)
		return true;
	tc_fail(t, "%s: byte %zu at %p is 0x%02x, expected 0x%02x", what, bad, (void *)(p + bad),
		p[bad], rm_pattern_byte(seed, off + bad));
	return false;
}

static bool expect_zero(struct tc *t, const char *what, const uint8_t *p, size_t len)
{
	if (rm_all_zero(p, len))
		return true;
	for (size_t i = 0; i < len; i++) {
		if (p[i]) {
			tc_fail(t, "%s: byte %zu at %p is 0x%02x, expected 0", what, i,
				(void *)(p + i), p[i]);
			break;
		}
	}
	return false;
}

static bool in(uintptr_t a, const uint8_t *start, size_t len)
{
	return a >= (uintptr_t)start && a < (uintptr_t)start + len;
}

/*
 * State after moving [src, src+len) -> [dst, dst+len) of which @moved bytes
 * went (== len on success).  src held rm_fill(seed, @off) before.  Then:
 * dst[0, moved) holds what src held there, src[moved, len) still holds its
 * bytes, and every other byte of both ranges reads zero (the vacated source;
 * the part of dst not reached).  Overlapping ranges (dst < src) work: a page
 * in both ranges is judged as dst first.  With @none, the zero pages must
 * not even be mapped (pagemap: neither present nor swapped): valid only
 * before anything read them, so that pass runs before any read (one read
 * in a THP region can map a whole huge zero page).
 */
enum page_class { PG_OTHER, PG_MOVED, PG_UNMOVED, PG_VACATED, PG_UNREACHED };

static enum page_class page_class(uintptr_t a, const uint8_t *src, const uint8_t *dst,
				  size_t len, size_t moved)
{
	if (in(a, dst, moved))
		return PG_MOVED;
	if (in(a, src + moved, len - moved))
		return PG_UNMOVED;
	if (in(a, src, moved))
		return PG_VACATED;
	if (in(a, dst + moved, len - moved))
		return PG_UNREACHED;
	return PG_OTHER;
}

static bool verify_move_state(struct tc *t, const char *what, const uint8_t *src,
			      const uint8_t *dst, size_t len, unsigned int seed, size_t off,
			      size_t moved, bool none)
{
	static const char * const name[] = {
		[PG_MOVED] = "moved", [PG_UNMOVED] = "unmoved source",
		[PG_VACATED] = "vacated source", [PG_UNREACHED] = "unreached destination",
	};
	uintptr_t lo = (uintptr_t)(src < dst ? src : dst);
	uintptr_t hi = (uintptr_t)(src < dst ? dst : src) + len;
	size_t bad_data = 0, bad_zero = 0, bad_map = 0;

	for (uintptr_t a = lo; none && a < hi; a += g_ps) {
		enum page_class c = page_class(a, src, dst, len, moved);
		uint64_t e;

		if (c != PG_VACATED && c != PG_UNREACHED)
			continue;
		if (!rm_pagemap((const void *)a, 1, &e)) {
			tc_fail(t, "%s: pagemap: %s", what, strerror(errno));
			return false;
		}
		if ((e & (PM_PRESENT | PM_SWAP)) && !bad_map++)
			tc_fail(t, "%s: %s page %p still mapped (pagemap %#llx)", what, name[c],
				(void *)a, (unsigned long long)e);
	}
	for (uintptr_t a = lo; a < hi; a += g_ps) {
		enum page_class c = page_class(a, src, dst, len, moved);
		const uint8_t *p = (const uint8_t *)a;
		size_t pat_off, bad;

		switch (c) {
		case PG_MOVED:
		case PG_UNMOVED:
			pat_off = off + (a - (uintptr_t)(c == PG_MOVED ? dst : src));
			bad = rm_check(p, g_ps, seed, pat_off);
			if (bad != (size_t)-1 && !bad_data++)
				tc_fail(t, "%s: %s byte at %p is 0x%02x, expected 0x%02x", what,
					name[c], (void *)(p + bad), p[bad],
					rm_pattern_byte(seed, pat_off + bad));
			break;
		case PG_VACATED:
		case PG_UNREACHED:
			if (!rm_all_zero(p, g_ps) && !bad_zero++)
				tc_fail(t, "%s: %s page %p does not read as zero", what, name[c],
					(void *)p);
			break;
		case PG_OTHER:
			break;
		}
	}
	if (bad_data + bad_zero + bad_map)
		tc_fail(t, "%s: %zu wrong data pages, %zu non-zero pages, %zu still-mapped pages",
			what, bad_data, bad_zero, bad_map);
	return !(bad_data + bad_zero + bad_map);
}

/* ------------------------------------------------------------------ */
/* The move */

struct exp {
	long long pmd, pte, huge;	/* -1: do not check */
};

/* Whether @a and @b lie in the same VMA (/proc/self/maps). */
static bool src_vma_is_dst_vma(const void *a, const void *b)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi, x = (uintptr_t)a, y = (uintptr_t)b;
	char line[512];
	bool same = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		if (x >= lo && x < hi) {
			same = y >= lo && y < hi;
			break;
		}
	}
	fclose(f);
	return same;
}

/*
 * Move and check the result code, `moved` and the counters; with @verify
 * also the bytes (verify_move_state, @none).  A failed move always gets its
 * partial state checked.  Returns false when the move failed, moved the
 * wrong amount or left wrong bytes (wrong counters fail the test but let the
 * caller go on with its checks).
 */
static bool move_checked(struct tc *t, const char *what, uint8_t *src, uint8_t *dst, size_t len,
			 unsigned int flags, struct exp e, unsigned int seed, size_t off,
			 bool verify)
{
	size_t n = len / g_ps;
	uint64_t *pfn = malloc(n * sizeof(*pfn));
	struct rust_mremap_move m, dry;
	long pte_kb, grown;
	size_t present = 0;
	int ret, dret;
	bool ok = true;

	if (g_relocate)
		flags |= RUST_MREMAP_RELOCATE;
	dret = rm_move(g_fd, RUST_MREMAP_PIDFD_SELF, flags | RUST_MREMAP_DRY_RUN, src, dst, len,
		       &dry);
	/* What is where, physically, and how much page table the mm has. */
	if (!pfn || !rm_pagemap(src, n, pfn)) {
		tc_fail(t, "%s: cannot read the source's pagemap", what);
		free(pfn);
		return false;
	}
	pte_kb = rm_vmpte_kb();
	ret = rm_move(g_fd, RUST_MREMAP_PIDFD_SELF, flags, src, dst, len, &m);
	grown = rm_vmpte_kb() - pte_kb;
	/*
	 * A move is a move: every page that was present at src is the same
	 * physical page at dst (a module that copied into new folios would
	 * pass every content and rmap check).
	 */
	if (!ret && !rm_same_pfns(what, pfn, dst, n))
		tc_fail(t, "%s: the pages at dst are not the pages that were at src", what);
	for (size_t i = 0; i < n; i++)
		present += !!(pfn[i] & RM_PM_PRESENT);
	free(pfn);
	/*
	 * And a table that moves whole is the same page-table page: page-table
	 * memory (VmPTE, all levels) grows by no more than the upper-level
	 * tables the destination may need (a PMD table per GiB and a PUD
	 * table), not by a PTE table per table moved: three tables copied
	 * would be 12 kB, more than the 8 kB allowed below 1 GiB.
	 */
	if (!ret && !m.pte_moves && m.pmd_moves >= 3 &&
	    grown > 4 * (2 + (long)(len >> 30)))
		tc_fail(t, "%s: %llu tables moved whole, yet page-table memory grew by %ld kB",
			what, (unsigned long long)m.pmd_moves, grown);
	if (ret) {
		size_t moved = m.moved > len ? len : (size_t)m.moved;

		tc_fail(t, "%s: move %p -> %p len %#zx flags %#x: %s (moved %#llx)", what,
			(void *)src, (void *)dst, len, flags, strerror(-ret),
			(unsigned long long)m.moved);
		if (m.moved > len || m.moved % g_ps)
			tc_fail(t, "%s: bogus moved %#llx", what, (unsigned long long)m.moved);
		verify_move_state(t, what, src, dst, len, seed, off, moved - moved % g_ps, false);
		return false;
	}
	if (m.moved != len) {
		tc_fail(t, "%s: success but moved %#llx != len %#zx", what,
			(unsigned long long)m.moved, len);
		ok = false;
	}
	if ((e.pmd >= 0 && m.pmd_moves != (unsigned long long)e.pmd) ||
	    (e.pte >= 0 && m.pte_moves != (unsigned long long)e.pte) ||
	    (e.huge >= 0 && m.huge_pmd_moves != (unsigned long long)e.huge)) {
		tc_fail(t,
			"%s: counters pmd_moves=%llu pte_moves=%llu huge_pmd_moves=%llu, expected %lld/%lld/%lld (-1: any)",
			what, (unsigned long long)m.pmd_moves, (unsigned long long)m.pte_moves,
			(unsigned long long)m.huge_pmd_moves, e.pmd, e.pte, e.huge);
		/* recorded as failure; the data and rmap checks still go on */
	}
	/* The dry run predicts the path and every counter. */
	if (dret || dry.pmd_moves != m.pmd_moves || dry.pte_moves != m.pte_moves ||
	    dry.huge_pmd_moves != m.huge_pmd_moves || dry.pud_moves != m.pud_moves ||
	    dry.folios_relocated != m.folios_relocated) {
		tc_fail(t,
			"%s: dry run (%s) said pmd %llu pte %llu huge %llu pud %llu relocated %llu; the move did %llu/%llu/%llu/%llu/%llu",
			what, dret ? strerror(-dret) : "ok", (unsigned long long)dry.pmd_moves,
			(unsigned long long)dry.pte_moves, (unsigned long long)dry.huge_pmd_moves,
			(unsigned long long)dry.pud_moves, (unsigned long long)dry.folios_relocated,
			(unsigned long long)m.pmd_moves, (unsigned long long)m.pte_moves,
			(unsigned long long)m.huge_pmd_moves, (unsigned long long)m.pud_moves,
			(unsigned long long)m.folios_relocated);
		ok = false;
	}
	/*
	 * The path: sharing rmap identity, no folio is relocated, except within
	 * one VMA (the stack shift), which always relocates.
	 */
	if (!g_relocate && !src_vma_is_dst_vma(src, dst) && m.folios_relocated) {
		tc_fail(t, "%s: sharing rmap identity, but %llu folios relocated", what,
			(unsigned long long)m.folios_relocated);
		ok = false;
	}
	/* And relocating, every move of present pages relocates folios. */
	if (g_relocate && present && !m.folios_relocated) {
		tc_fail(t, "%s: RUST_MREMAP_RELOCATE moved %zu present pages, relocated no folio",
			what, present);
		ok = false;
	}
	if (verify && !verify_move_state(t, what, src, dst, len, seed, off, len, true))
		ok = false;
	return ok;
}

/*
 * Counters for moving a fully populated 4 MiB region that starts 1 MiB into
 * a PMD (map_region(LEN, OFF)) to another such region.  The destination is
 * either fresh (no page table in any of its 3 PMD slots) or "kept" (a table
 * in all 3, see retire()).
 *  realign (flags 0): slots [-1,1) and [1,3) MiB are whole-PMD extents, then
 *    1 MiB of PTEs;
 *  NO_REALIGN: 1 MiB of PTEs, one whole-PMD extent, 1 MiB of PTEs.
 * A whole-PMD extent moves its table only into an empty slot; otherwise its
 * populated PTEs move one by one.
 */
static struct exp exp_pair(bool dst_fresh, unsigned int flags)
{
	long long mib = (long long)(RM_MB(1) / rm_page_size());

	if (!dst_fresh)
		return (struct exp){ 0, 4 * mib, 0 };
	if (flags & RUST_MREMAP_NO_REALIGN)
		return (struct exp){ 1, 2 * mib, 0 };
	/* Realigned start, and the tail ends both VMAs: it moves whole too. */
	return (struct exp){ 3, 0, 0 };
}

/*
 * Make a vacated (and already read, so zero-page mapped) LEN region usable
 * as a destination again, in one of two deterministic page-table states:
 * keep: MADV_DONTNEED in sub-PMD chunks: the PTEs go, the tables stay (a zap
 *       covering a whole PMD would let CONFIG_PT_RECLAIM free the table);
 * else: unmap it and map it afresh at the same place: no tables at all.
 */
static bool retire(struct tc *t, uint8_t *p, bool keep)
{
	if (keep) {
		for (size_t o = 0; o < LEN; o += RM_MB(1)) {
			if (madvise(p + o, RM_MB(1), MADV_DONTNEED)) {
				tc_fail(t, "MADV_DONTNEED: %s", strerror(errno));
				return false;
			}
		}
		return true;
	}
	munmap(p, LEN);
	if (rm_map_at(p, LEN, PROT_READ | PROT_WRITE) != p) {
		tc_fail(t, "re-mmap at %p: %s", (void *)p, strerror(errno));
		return false;
	}
	return true;
}

/*
 * Of the pages i of [p, p + n pages) with i % 8 == @rem: how many are swap
 * entries (pagemap) whose folio is in the swap cache (mincore() reports a
 * swap entry's folio as resident when the swap cache holds it); *@entries
 * gets how many are swap entries at all.
 */
static size_t swap_cached(const uint8_t *p, size_t n, size_t rem, size_t *entries)
{
	unsigned char *vec = malloc(n);
	uint64_t *pm = malloc(n * sizeof(*pm));
	size_t c = 0;

	*entries = 0;
	if (vec && pm && !mincore((void *)p, n * g_ps, vec) && rm_pagemap(p, n, pm))
		for (size_t i = rem; i < n; i += 8)
			if (pm[i] & PM_SWAP) {
				++*entries;
				c += vec[i] & 1;
			}
	free(vec);
	free(pm);
	return c;
}

/*
 * The set-up of the swap tests: swap must work (else the test skips) and
 * two LEN regions at OFF are mapped into *@a and *@b.  False (the test
 * already skipped or failed) if not.
 */
static bool swap_pair(struct tc *t, uint8_t **a, uint8_t **b)
{
	const char *why;

	if (!swap_usable(&why)) {
		tc_skip(t, "%s", why);
		return false;
	}
	*a = map_region(LEN, OFF, false);
	*b = map_region(LEN, OFF, false);
	if (!*a || !*b) {
		tc_fail(t, "mmap: %s", strerror(errno));
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* 1. swap out after the move */

static void test_swap_after_move(void)
{
	struct tc t = { .name = "swap_after_move" };
	uint8_t *a = NULL, *b = NULL;

	if (!swap_pair(&t, &a, &b))
		goto out;
	rm_fill(a, LEN, SEED, 0);
	/* Realigned: two tables move whole, the last MiB PTE by PTE. */
	if (!move_checked(&t, "4 MiB at 1 MiB offset", a, b, LEN, 0, exp_pair(true, 0), SEED, 0,
			  true))
		goto out;
	check_pageout(&t, "moved destination", b, LEN);
	expect_pattern(&t, "destination after swap-in", b, LEN, SEED, 0);
	expect_zero(&t, "source after swap-in", a, LEN);
out:
	unmap(a, LEN);
	unmap(b, LEN);
	tc_report(&t);
}

/* ------------------------------------------------------------------ */
/* 2. swap out before the move: swap entries and swap-cache folios move */

static void test_swap_before_move(void)
{
	struct tc t = { .name = "swap_before_move" };
	size_t n = LEN / g_ps, touched = 0, willneed = 0, cached, cached_entries;
	struct pmc before, after, vacated;
	uint8_t *a = NULL, *b = NULL;
	long s;

	if (!swap_pair(&t, &a, &b))
		goto out;
	rm_fill(a, LEN, SEED + 1, 0);
	s = pageout_swapped(a, LEN);
	if (s < 0 || (size_t)s * 100 < n * SWAP_MIN_PCT) {
		tc_skip(&t,
			"MADV_PAGEOUT swapped out only %ld of %zu pages of the (unmoved) source", s,
			n);
		goto out;
	}
	ksft_print_msg("%s: source: %ld of %zu pages swapped out before the move\n", t.name, s, n);

	/*
	 * Some pages back into the swap cache: every 8th page mapped again by a
	 * read fault, every 8th (other) page read ahead by MADV_WILLNEED but
	 * left unmapped (its PTE stays a swap entry whose folio is cached).
	 */
	for (size_t i = 0; i < n; i++) {
		size_t o = i * g_ps + 123;

		if (i % 8 == 3) {
			uint8_t v = *(volatile uint8_t *)(a + o);

			touched++;
			if (v != rm_pattern_byte(SEED + 1, o))
				tc_fail(&t, "swapped-in source byte %zu is 0x%02x, expected 0x%02x",
					o, v, rm_pattern_byte(SEED + 1, o));
		} else if (i % 8 == 6) {
			if (madvise(a + i * g_ps, g_ps, MADV_WILLNEED)) {
				tc_fail(&t, "MADV_WILLNEED: %s", strerror(errno));
				goto out;
			}
			willneed++;
		}
	}
	/*
	 * The read-ahead pages must really be in the swap cache when the move
	 * happens: swap entries (pagemap) whose folio mincore() finds cached.
	 * Read-ahead is asynchronous: wait for it.
	 */
	cached = swap_cached(a, n, 6, &cached_entries);
	for (int i = 0; i < 100 && cached < willneed; i++) {
		usleep(10000);
		cached = swap_cached(a, n, 6, &cached_entries);
	}
	if (cached != willneed) {
		tc_fail(&t,
			"only %zu of the %zu read-ahead source pages are swap entries with a swap-cache folio (mincore) before the move",
			cached, willneed);
		goto out;
	}
	if (!pm_count(a, LEN, &before)) {
		tc_fail(&t, "pagemap: %s", strerror(errno));
		goto out;
	}
	ksft_print_msg(
		"%s: right before the move: %zu present (%zu read back), %zu swap entries (%zu read ahead, %zu of them in the swap cache by mincore)\n",
		t.name, before.present, touched, before.swapped, willneed, cached);
	if (before.present + before.swapped != n) {
		tc_fail(&t, "source has %zu present + %zu swapped of %zu pages before the move",
			before.present, before.swapped, n);
		goto out;
	}

	/* NO_REALIGN: 1 MiB of PTEs, one whole table, 1 MiB of PTEs; swap entries count. */
	if (!move_checked(&t, "source partly swapped", a, b, LEN, RUST_MREMAP_NO_REALIGN,
			  exp_pair(true, RUST_MREMAP_NO_REALIGN), SEED + 1, 0, false))
		goto out;
	/* The PTEs moved as they were: nothing swapped in or out, nothing left behind. */
	if (!pm_count(b, LEN, &after) || !pm_count(a, LEN, &vacated)) {
		tc_fail(&t, "pagemap: %s", strerror(errno));
		goto out;
	}
	if (after.present != before.present || after.swapped != before.swapped)
		tc_fail(&t, "destination has %zu present/%zu swapped pages, source had %zu/%zu",
			after.present, after.swapped, before.present, before.swapped);
	if (vacated.present || vacated.swapped)
		tc_fail(&t, "vacated source still has %zu present/%zu swapped pages",
			vacated.present, vacated.swapped);
	/* The swap-cache folios moved with their entries, still cached. */
	if (swap_cached(b, n, 6, &cached_entries) != cached)
		tc_fail(&t,
			"destination: %zu of the %zu cached swap entries arrived as cached swap entries",
			swap_cached(b, n, 6, &cached_entries), cached);

	/* Swap-in at the new address (every page), then the rmap probe. */
	verify_move_state(&t, "after move (swap-in)", a, b, LEN, SEED + 1, 0, LEN, true);
	check_pageout(&t, "moved destination", b, LEN);
	expect_pattern(&t, "destination after second swap-in", b, LEN, SEED + 1, 0);
	expect_zero(&t, "source", a, LEN);
out:
	unmap(a, LEN);
	unmap(b, LEN);
	tc_report(&t);
}

/* ------------------------------------------------------------------ */
/*
 * 2b. swap-cache folios that keep their anon rmap: pages a pipe holds
 * (vmsplice) are unmapped by MADV_PAGEOUT but cannot be written out and
 * freed, so each stays in the swap cache with its mapping and index, and
 * its PTE is a swap entry.  The move must give those folios an rmap that
 * fits the destination: swap-in there then maps the very folio the pipe
 * holds (a store at the destination reads back through the pipe).  A folio
 * left with the source's rmap is copied at swap-in instead
 * (ksm_might_need_to_copy()), and the pipe keeps the old bytes.
 */
#define HELD	16	/* pages the pipe holds: its default 16 slots */

static void test_swap_cache_held(void)
{
	struct tc t = { .name = "swap_cache_held" };
	size_t n = LEN / g_ps, idx[HELD], got = 0;
	unsigned char *vec = NULL, *buf = NULL;
	uint64_t *pm = NULL;
	uint8_t *a = NULL, *b = NULL;
	int pfd[2] = { -1, -1 };

	if (!swap_pair(&t, &a, &b))
		goto out;
	vec = malloc(n);
	pm = malloc(n * sizeof(*pm));
	buf = malloc(HELD * g_ps);
	if (!vec || !pm || !buf || pipe(pfd)) {
		tc_fail(&t, "set-up: %s", strerror(errno));
		goto out;
	}
	rm_fill(a, LEN, SEED + 2, 0);
	/*
	 * With NO_REALIGN the first MiB moves entry by entry and the next
	 * 2 MiB as one table: half the held pages in each.
	 */
	for (size_t i = 0; i < HELD; i++) {
		struct iovec iov;

		idx[i] = i < HELD / 2 ? 8 + i * 16 : RM_MB(1) / g_ps + 40 + i * 16;
		iov.iov_base = a + idx[i] * g_ps;
		iov.iov_len = g_ps;
		if (vmsplice(pfd[1], &iov, 1, SPLICE_F_NONBLOCK) != (ssize_t)g_ps) {
			tc_fail(&t, "vmsplice page %zu: %s", idx[i], strerror(errno));
			goto out;
		}
	}
	pageout_swapped(a, LEN);
	/* Each held page: a swap entry whose folio the swap cache holds. */
	if (mincore(a, LEN, vec) || !rm_pagemap(a, n, pm)) {
		tc_fail(&t, "mincore/pagemap: %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < HELD; i++)
		if (!(pm[idx[i]] & PM_SWAP) || !(vec[idx[i]] & 1))
			tc_fail(&t,
				"held page %zu: pagemap %#llx, mincore %d: not a cached swap entry",
				idx[i], (unsigned long long)pm[idx[i]], vec[idx[i]] & 1);
	if (t.failed)
		goto out;
	ksft_print_msg("%s: %d held pages are swap entries with swap-cache folios\n", t.name,
		       HELD);

	if (!move_checked(&t, "held swap-cache folios", a, b, LEN, RUST_MREMAP_NO_REALIGN,
			  exp_pair(true, RUST_MREMAP_NO_REALIGN), SEED + 2, 0, false))
		goto out;
	/* Store at the destination (swap-in), read back through the pipe. */
	for (size_t i = 0; i < HELD; i++)
		b[idx[i] * g_ps] = (uint8_t)~rm_pattern_byte(SEED + 2, idx[i] * g_ps);
	while (got < HELD * g_ps) {
		ssize_t r = read(pfd[0], buf + got, HELD * g_ps - got);

		if (r <= 0) {
			tc_fail(&t, "read the pipe: %s", r ? strerror(errno) : "EOF");
			goto out;
		}
		got += (size_t)r;
	}
	for (size_t i = 0; i < HELD; i++) {
		uint8_t want = (uint8_t)~rm_pattern_byte(SEED + 2, idx[i] * g_ps);

		if (buf[i * g_ps] != want)
			tc_fail(&t,
				"held page %zu: the store at the destination is not in the pipe's page (%#x, stored %#x): the destination maps a copy, the held folio kept the source's rmap",
				idx[i], buf[i * g_ps], want);
		/* Put the byte back for the pattern check. */
		b[idx[i] * g_ps] = rm_pattern_byte(SEED + 2, idx[i] * g_ps);
	}
	expect_pattern(&t, "destination", b, LEN, SEED + 2, 0);
	expect_zero(&t, "vacated source", a, LEN);
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	free(vec);
	free(pm);
	free(buf);
	unmap(a, LEN);
	unmap(b, LEN);
	tc_report(&t);
}

/* ------------------------------------------------------------------ */
/*
 * 3. migration between moves.  Compaction may or may not pick the moved
 * pages, so the proof is MADV_SOFT_OFFLINE, which migrates exactly the
 * pages it is given: try_to_migrate() and remove_migration_ptes() find
 * each mapping through the rmap, so a folio whose mapping or index is
 * wrong cannot migrate (the madvise fails, or the page keeps its PFN).
 * Compaction runs too, as extra churn.
 */

#define COMPACT_PATH	"/proc/sys/vm/compact_memory"
#define SOFT_OFFLINE_STRIDE 64	/* pages: 16 of a 4 MiB region per move */

/* Soft-offline every SOFT_OFFLINE_STRIDE-th page of @p; all must migrate. */
static bool soft_offline(struct tc *t, const char *what, uint8_t *p, size_t n,
			 const uint64_t *pfn_before, uint64_t *pfn_after)
{
	size_t i, done = 0;

	for (i = 0; i < n; i += SOFT_OFFLINE_STRIDE) {
		if (madvise(p + i * g_ps, g_ps, MADV_SOFT_OFFLINE)) {
			tc_fail(t, "%s: MADV_SOFT_OFFLINE of page %zu: %s", what, i,
				strerror(errno));
			return false;
		}
	}
	if (!rm_pagemap(p, n, pfn_after)) {
		tc_fail(t, "%s: pagemap: %s", what, strerror(errno));
		return false;
	}
	for (i = 0; i < n; i += SOFT_OFFLINE_STRIDE) {
		if (!(pfn_after[i] & PM_PRESENT) ||
		    (pfn_after[i] & PM_PFN_MASK) == (pfn_before[i] & PM_PFN_MASK)) {
			tc_fail(t, "%s: page %zu was not migrated by MADV_SOFT_OFFLINE", what, i);
			return false;
		}
		done++;
	}
	ksft_print_msg("%s: %s: MADV_SOFT_OFFLINE migrated %zu of %zu chosen pages\n", t->name,
		       what, done, done);
	return true;
}

static bool compact(struct tc *t)
{
	int cfd = open(COMPACT_PATH, O_WRONLY);
	bool ok = cfd >= 0 && write(cfd, "1", 1) == 1;

	if (!ok)
		tc_fail(t, "write 1 to %s: %s", COMPACT_PATH, strerror(errno));
	if (cfd >= 0)
		close(cfd);
	return ok;
}

static void test_compaction(void)
{
	struct tc t = { .name = "migration" };
	size_t n = LEN / g_ps;
	uint64_t *pfn0 = NULL, *pfn1 = NULL;
	uint8_t *r[2] = { NULL, NULL };
	bool fresh[2] = { false, true };
	int k, cur = 0;

	if (access(COMPACT_PATH, W_OK)) {
		tc_skip(&t, "%s: %s (CONFIG_COMPACTION not set?)", COMPACT_PATH, strerror(errno));
		goto out;
	}
	pfn0 = malloc(n * sizeof(*pfn0));
	pfn1 = malloc(n * sizeof(*pfn1));
	r[0] = map_region(LEN, OFF, false);
	r[1] = map_region(LEN, OFF, false);
	if (!pfn0 || !pfn1 || !r[0] || !r[1]) {
		tc_fail(&t, "setup: %s", strerror(errno));
		goto out;
	}
	rm_fill(r[0], LEN, SEED + 2, 0);
	if (!compact(&t))
		goto out;

	for (k = 0; k < 6; k++) {
		unsigned int flags = (k & 1) ? RUST_MREMAP_NO_REALIGN : 0;
		int from = k & 1, to = !from;
		size_t migrated = 0;
		char what[64];

		snprintf(what, sizeof(what), "move %d (%s)", k, from ? "B->A" : "A->B");
		if (!move_checked(&t, what, r[from], r[to], LEN, flags, exp_pair(fresh[to], flags),
				  SEED + 2, 0, false))
			goto out;
		cur = to;
		if (!rm_pagemap(r[to], n, pfn0) || !compact(&t) || !rm_pagemap(r[to], n, pfn1)) {
			tc_fail(&t, "pagemap/compaction: %s", strerror(errno));
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			migrated += (pfn0[i] & PM_PFN_MASK) != (pfn1[i] & PM_PFN_MASK);
		ksft_print_msg("%s: %s: compaction migrated %zu of %zu pages\n", t.name, what,
			       migrated, n);
		if (!soft_offline(&t, what, r[to], n, pfn1, pfn0))
			goto out;
		if (!verify_move_state(&t, what, r[from], r[to], LEN, SEED + 2, 0, LEN, true))
			goto out;
		if (!retire(&t, r[from], k % 3 == 1))
			goto out;
		fresh[from] = k % 3 != 1;
	}
	check_pageout(&t, "destination after the last compaction", r[cur], LEN);
	expect_pattern(&t, "destination after swap-in", r[cur], LEN, SEED + 2, 0);
out:
	free(pfn0);
	free(pfn1);
	unmap(r[0], LEN);
	unmap(r[1], LEN);
	tc_report(&t);
}

/* ------------------------------------------------------------------ */
/* 4. fork after the move: COW of moved folios in parent and child */

/* Child exit status bits */
#define CH_INHERITED	1	/* child did not see the moved bytes */
#define CH_LEAK		4	/* parent's writes showed up in the child */
#define CH_SRC		8	/* vacated source not zero in the child */
#define CH_SYNC		16	/* pipe trouble */
#define CH_MIGRATE	32	/* a migrated shared folio is not mapped in the child */

static int fork_child(uint8_t *a, uint8_t *b, int rfd, int wfd)
{
	static uint64_t want[LEN / 4096], have[LEN / 4096];
	size_t n = LEN / g_ps;
	int rc = 0;
	char c = 'c';

	/* The parent migrated shared folios: the child maps the new pages too. */
	/* Our own pagemap: the inherited descriptor reads the parent's. */
	if (!rm_read_full(rfd, want, n * sizeof(*want)) || !rm_pagemap(b, n, have))
		rc |= CH_SYNC;
	for (size_t i = 0; !(rc & CH_SYNC) && i < n; i += SOFT_OFFLINE_STRIDE)
		if ((have[i] & PM_PFN_MASK) != (want[i] & PM_PFN_MASK))
			rc |= CH_MIGRATE;
	if (rm_check(b, LEN, SEED + 3, 0) != (size_t)-1)
		rc |= CH_INHERITED;
	rm_fill(b, LEN, SEED + 5, 0);
	if (write(wfd, &c, 1) != 1 || read(rfd, &c, 1) != 1)	/* parent has written too */
		rc |= CH_SYNC;
	if (rm_check(b, LEN, SEED + 5, 0) != (size_t)-1)
		rc |= CH_LEAK;
	if (!rm_all_zero(a, LEN))
		rc |= CH_SRC;
	return rc;
}

static void test_fork_after_move(void)
{
	struct tc t = { .name = "fork_after_move" };
	static uint64_t pfn_before[LEN / 4096], pfn_after[LEN / 4096];
	int p2c[2] = { -1, -1 }, c2p[2] = { -1, -1 };
	uint8_t *a = NULL, *b = NULL;
	int status;
	pid_t pid;
	char c = 'p';

	a = map_region(LEN, OFF, false);
	b = map_region(LEN, OFF, false);
	if (!a || !b || pipe(p2c) || pipe(c2p)) {
		tc_fail(&t, "setup: %s", strerror(errno));
		goto out;
	}
	rm_fill(a, LEN, SEED + 3, 0);
	if (!move_checked(&t, "move before fork", a, b, LEN, 0, exp_pair(true, 0), SEED + 3, 0,
			  true))
		goto out;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		tc_fail(&t, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		close(p2c[1]);
		close(c2p[0]);
		_exit(fork_child(a, b, p2c[0], c2p[1]));
	}
	close(p2c[0]);
	close(c2p[1]);
	p2c[0] = c2p[1] = -1;

	expect_pattern(&t, "parent's view of the moved bytes after fork", b, LEN, SEED + 3, 0);
	/*
	 * The rmap probe on the moved folios themselves, while both processes
	 * map them and before either writes (later probes would see COW
	 * copies): soft offline migrates a folio only if the rmap finds every
	 * mapping of it, the child's included.
	 */
	if (!rm_pagemap(b, LEN / g_ps, pfn_before) ||
	    !soft_offline(&t, "moved folios shared with the child", b, LEN / g_ps, pfn_before,
			  pfn_after))
		tc_fail(&t, "the moved folios shared after fork could not be migrated");
	if (!rm_write_full(p2c[1], pfn_after, LEN / g_ps * sizeof(*pfn_after)))
		tc_fail(&t, "send the new PFNs to the child: %s", strerror(errno));
	rm_fill(b, LEN, SEED + 4, 0);
	if (write(p2c[1], &c, 1) != 1 || read(c2p[0], &c, 1) != 1)
		tc_fail(&t, "sync with child: %s", strerror(errno));
	if (waitpid(pid, &status, 0) != pid) {
		tc_fail(&t, "waitpid: %s", strerror(errno));
		goto out;
	}
	if (!WIFEXITED(status))
		tc_fail(&t, "child did not exit normally (status %#x)", status);
	else if (WEXITSTATUS(status))
		tc_fail(&t, "child: %s%s%s%s%s",
			WEXITSTATUS(status) & CH_INHERITED ? "did not see the moved bytes; " : "",
			WEXITSTATUS(status) & CH_LEAK ? "saw the parent's writes; " : "",
			WEXITSTATUS(status) & CH_SRC ? "vacated source not zero; " : "",
			WEXITSTATUS(status) & CH_SYNC ? "pipe sync failed; " : "",
			WEXITSTATUS(status) & CH_MIGRATE ?
			"does not map the folios the parent's soft offline migrated; " : "");
	expect_pattern(&t, "parent's bytes after the child wrote and exited", b, LEN, SEED + 4, 0);
	check_pageout(&t, "parent's destination", b, LEN);
	expect_pattern(&t, "parent's bytes after swap-in", b, LEN, SEED + 4, 0);
	expect_zero(&t, "parent's vacated source", a, LEN);
out:
	for (int i = 0; i < 2; i++) {
		if (p2c[i] >= 0)
			close(p2c[i]);
		if (c2p[i] >= 0)
			close(c2p[i]);
	}
	unmap(a, LEN);
	unmap(b, LEN);
	tc_report(&t);
}

/* ------------------------------------------------------------------ */
/* 5. THP */

/* Two fresh 2 MiB-aligned MADV_HUGEPAGE regions, src populated; returns the THP count or -1. */
static long thp_setup(struct tc *t, uint8_t **src, uint8_t **dst, unsigned int seed)
{
	long kb;

	if (!rm_thp_available()) {
		tc_skip(t, "kernel without CONFIG_TRANSPARENT_HUGEPAGE");
		return -1;
	}
	*src = map_region(LEN, 0, true);
	*dst = map_region(LEN, 0, true);
	if (!*src || !*dst) {
		tc_fail(t, "mmap/MADV_HUGEPAGE: %s", strerror(errno));
		return -1;
	}
	rm_fill(*src, LEN, seed, 0);
	kb = rm_anon_huge_kb(*src);
	if (kb < 0) {
		tc_fail(t, "no smaps entry for %p", (void *)*src);
		return -1;
	}
	if (kb == 0) {
		tc_skip(t,
			"no THP allocated for a MADV_HUGEPAGE region (transparent_hugepage/enabled: %s)",
			rm_thp_setting());
		return -1;
	}
	ksft_print_msg("%s: source has %ld kB AnonHugePages\n", t->name, kb);
	/*
	 * The THPs are there: keep khugepaged out from now on, or it may
	 * collapse what a partial move vacated (max_ptes_none lets it fill a
	 * PMD from one page) before the test looks.
	 */
	if (madvise(*src, LEN, MADV_NOHUGEPAGE) || madvise(*dst, LEN, MADV_NOHUGEPAGE)) {
		tc_fail(t, "MADV_NOHUGEPAGE: %s", strerror(errno));
		return -1;
	}
	return kb / (long)(RM_PMD >> 10);
}

static void test_thp_whole(void)
{
	struct tc t = { .name = "thp_whole_pmd" };
	uint8_t *a = NULL, *b = NULL;
	long nthp = thp_setup(&t, &a, &b, SEED + 6), kb;

	if (nthp < 0)
		goto out;
	/* Each THP moves as one PMD; a 2 MiB slot that got 4 KiB pages moves its table. */
	if (!move_checked(&t, "4 MiB of THP", a, b, LEN, 0,
			  (struct exp){ 2 - nthp, 0, nthp }, SEED + 6, 0, false))
		goto out;
	kb = rm_anon_huge_kb(b);
	if (kb != nthp * (long)(RM_PMD >> 10))
		tc_fail(&t, "destination has %ld kB AnonHugePages, expected %ld", kb,
			nthp * (long)(RM_PMD >> 10));
	kb = rm_anon_huge_kb(a);
	if (kb != 0)
		tc_fail(&t, "vacated source has %ld kB AnonHugePages", kb);
	verify_move_state(&t, "4 MiB of THP", a, b, LEN, SEED + 6, 0, LEN, true);
	check_pageout(&t, "moved THPs", b, LEN);
	expect_pattern(&t, "THP destination after swap-in", b, LEN, SEED + 6, 0);
out:
	unmap(a, LEN);
	unmap(b, LEN);
	tc_report(&t);
}

static void test_thp_split(void)
{
	struct tc t = { .name = "thp_split" };
	uint8_t *a = NULL, *b = NULL;
	long nthp = thp_setup(&t, &a, &b, SEED + 7), kb;
	const size_t mib = RM_MB(1);

	if (nthp < 0)
		goto out;
	/*
	 * [1, 3) MiB: the second half of THP 0 and the first half of THP 1,
	 * both split, their 2 x 256 PTEs moved one by one.
	 */
	if (!move_checked(&t, "2 MiB from 1 MiB into a THP", a + mib, b + mib, 2 * mib, 0,
			  (struct exp){ 0, (long long)(2 * mib / g_ps), 0 }, SEED + 7, mib, true))
		goto out;
	kb = rm_anon_huge_kb(a);
	if (kb != 0)
		tc_fail(&t, "source still has %ld kB PMD-mapped THP after a partial move", kb);
	expect_pattern(&t, "source below the moved range", a, mib, SEED + 7, 0);
	expect_pattern(&t, "source above the moved range", a + 3 * mib, mib, SEED + 7, 3 * mib);
	expect_zero(&t, "destination below the moved range", b, mib);
	expect_zero(&t, "destination above the moved range", b + 3 * mib, mib);

	check_pageout(&t, "moved part", b + mib, 2 * mib);
	check_pageout(&t, "source below the moved range", a, mib);
	check_pageout(&t, "source above the moved range", a + 3 * mib, mib);
	expect_pattern(&t, "moved part after swap-in", b + mib, 2 * mib, SEED + 7, mib);
	expect_pattern(&t, "source below after swap-in", a, mib, SEED + 7, 0);
	expect_pattern(&t, "source above after swap-in", a + 3 * mib, mib, SEED + 7, 3 * mib);
out:
	unmap(a, LEN);
	unmap(b, LEN);
	tc_report(&t);
}

/* ------------------------------------------------------------------ */
/* 5b. mTHP: large folios smaller than a PMD, in a table that moves whole */

#define MTHP_DIR	"/sys/kernel/mm/transparent_hugepage/hugepages-64kB"
#define PMD_THP_DIR	"/sys/kernel/mm/transparent_hugepage/hugepages-2048kB"
#define MTHP_PAGES	16

/* The word in brackets of a sysfs choice ("always [never]"), or "" if unreadable. */
static void sysfs_choice(const char *path, char *buf, size_t len)
{
	char line[128] = "", *l, *r;
	FILE *f = fopen(path, "re");

	buf[0] = 0;
	if (!f)
		return;
	if (fgets(line, sizeof(line), f)) {
		l = strchr(line, '[');
		r = l ? strchr(l, ']') : NULL;
		if (r)
			snprintf(buf, len, "%.*s", (int)(r - l - 1), l + 1);
	}
	fclose(f);
}

static bool sysfs_write(const char *path, const char *val)
{
	FILE *f = fopen(path, "we");
	bool ok = f && fputs(val, f) >= 0;

	if (f && fclose(f))
		ok = false;
	return ok;
}

/* A counter of MTHP_DIR/stats, or -1. */
static long mthp_stat(const char *name)
{
	char path[160];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), MTHP_DIR "/stats/%s", name);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/*
 * Faults allocate 64 KiB folios, never PMD THPs; the old settings go to
 * @old64 and @old2m for mthp_restore().  False (the test skipped) where the
 * kernel has no 64 KiB mTHP.
 */
static bool mthp_enable(struct tc *t, char *old64, char *old2m)
{
	sysfs_choice(MTHP_DIR "/enabled", old64, 32);
	sysfs_choice(PMD_THP_DIR "/enabled", old2m, 32);
	if (!old64[0] || !old2m[0] || mthp_stat("split") < 0) {
		tc_skip(t, "no 64 KiB mTHP controls and stats in sysfs");
		return false;
	}
	if (!sysfs_write(MTHP_DIR "/enabled", "always") ||
	    !sysfs_write(PMD_THP_DIR "/enabled", "never")) {
		tc_fail(t, "cannot set the mTHP sizes: %s", strerror(errno));
		return false;
	}
	return true;
}

static void mthp_restore(const char *old64, const char *old2m)
{
	if (old64[0])
		sysfs_write(MTHP_DIR "/enabled", old64);
	if (old2m[0])
		sysfs_write(PMD_THP_DIR "/enabled", old2m);
}

/*
 * Populate a fresh LEN region at a PMD boundary with 64 KiB folios; returns
 * how many were allocated, or -1.
 */
static long mthp_region(struct tc *t, uint8_t **p, unsigned int seed)
{
	long before = mthp_stat("anon_fault_alloc"), n;

	/* MADV_HUGEPAGE undoes map_region()'s MADV_NOHUGEPAGE; PMD THPs are off. */
	*p = map_region(LEN, 0, true);
	if (!*p) {
		tc_fail(t, "mmap: %s", strerror(errno));
		return -1;
	}
	rm_fill(*p, LEN, seed, 0);
	n = mthp_stat("anon_fault_alloc") - before;
	if (n <= 0) {
		tc_skip(t, "no 64 KiB folio was allocated");
		return -1;
	}
	ksft_print_msg("%s: %ld of %zu 64 KiB folios allocated\n", t->name, n,
		       LEN / (MTHP_PAGES * g_ps));
	/* Populated: keep khugepaged out (as thp_setup() does). */
	if (madvise(*p, LEN, MADV_NOHUGEPAGE)) {
		tc_fail(t, "MADV_NOHUGEPAGE: %s", strerror(errno));
		return -1;
	}
	return n;
}

/*
 * A table of 64 KiB folios moves whole, and a relocating move relocates
 * each folio whole, once, with no split: they are mapped by the table
 * alone.  A folio mapped in part (one page zapped) is not the table's
 * alone to move: relocating, that table moves entry by entry, splitting
 * the folio (and, entry by entry, the others of its table too); sharing,
 * no folio is looked at and both tables move whole.  The dry run predicts
 * the folio counts of both paths (move_checked()), the rmap of the moved
 * folios is walked by reclaim.
 */
static void test_mthp_whole(void)
{
	struct tc t = { .name = "mthp_whole_in_table" };
	const size_t half = RM_PMD / g_ps;
	char old64[32] = "", old2m[32] = "";
	uint8_t *a = NULL, *b = NULL;
	long nr, split;

	if (!mthp_enable(&t, old64, old2m))
		goto out;
	nr = mthp_region(&t, &a, SEED + 13);
	b = map_region(LEN, 0, false);
	if (nr < 0 || !b)
		goto out;
	split = mthp_stat("split");
	if (!move_checked(&t, "4 MiB of 64 KiB folios", a, b, LEN, 0, (struct exp){ 2, 0, 0 },
			  SEED + 13, 0, true))
		goto out;
	split = mthp_stat("split") - split;
	if (split)
		tc_fail(&t, "%ld 64 KiB folios were split by a move of whole tables", split);
	check_pageout(&t, "moved 64 KiB folios", b, LEN);
	expect_pattern(&t, "64 KiB folios after swap-in", b, LEN, SEED + 13, 0);
	unmap(a, LEN);
	unmap(b, LEN);

	/* One page of the second table's first folio zapped. */
	nr = mthp_region(&t, &a, SEED + 14);
	b = map_region(LEN, 0, false);
	if (nr < 0 || !b)
		goto out;
	if (madvise(a + RM_PMD, g_ps, MADV_DONTNEED)) {
		tc_fail(&t, "MADV_DONTNEED: %s", strerror(errno));
		goto out;
	}
	split = mthp_stat("split");
	if (!move_checked(&t, "4 MiB, one 64 KiB folio mapped in part", a, b, LEN, 0,
			  g_relocate ? (struct exp){ 1, (long long)(half - 1), 0 }
				     : (struct exp){ 2, 0, 0 },
			  SEED + 14, 0, false))
		goto out;
	split = mthp_stat("split") - split;
	if (g_relocate ? split < 1 : split != 0)
		tc_fail(&t, "%ld 64 KiB folios split by the move (%s)", split,
			g_relocate ? "at least the one mapped in part" : "none expected");
	expect_zero(&t, "the zapped page", b + RM_PMD, g_ps);
	expect_pattern(&t, "the rest", b, RM_PMD, SEED + 14, 0);
	expect_pattern(&t, "the rest", b + RM_PMD + g_ps, RM_PMD - g_ps, SEED + 14,
		       RM_PMD + g_ps);
	check_pageout(&t, "moved folios below the zapped page", b, RM_PMD);
	check_pageout(&t, "moved folios above the zapped page", b + RM_PMD + g_ps,
		      LEN - RM_PMD - g_ps);
out:
	mthp_restore(old64, old2m);
	unmap(a, LEN);
	unmap(b, LEN);
	tc_report(&t);
}



/* ------------------------------------------------------------------ */
/* 6. same-VMA downward overlapping move (exec stack shift) */

static void test_stack_shift(void)
{
	struct tc t = { .name = "stack_shift" };
	const size_t mib = RM_MB(1), ptes = LEN / g_ps;
	const struct {
		const char *what;
		size_t vma, src, dst, len;	/* offsets from the PMD-aligned VMA start */
		struct exp e;
	} cs[] = {
		/* [2,4)->[0,2): empty slot, table moves; [4,6)->[2,4): that slot is empty now. */
		{ "shift by 2 MiB, PMD aligned", 6 * mib, 2 * mib, 0, 4 * mib, { 2, 0, 0 } },
		/*
		 * [3,4)->[1,2) PTEs; [4,6)->[2,4) whole extent but the slot
		 * still has its table; [6,7)->[4,5)
		 */
		{ "shift by 2 MiB at 1 MiB offset",
		  8 * mib,
		  3 * mib,
		  mib,
		  4 * mib,
		  { 0, (long long)ptes, 0 } },
		/* by 3 pages: never aligned, PTE by PTE, partly inside one page table */
		{ "shift by 3 pages",
		  4 * mib,
		  mib,
		  mib - 3 * g_ps,
		  2 * mib,
		  { 0, (long long)(2 * mib / g_ps), 0 } },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cs); i++) {
		uint8_t *v = map_region(cs[i].vma, 0, false);
		uint8_t *src, *dst;
		char what[96];

		if (!v) {
			tc_fail(&t, "mmap: %s", strerror(errno));
			break;
		}
		src = v + cs[i].src;
		dst = v + cs[i].dst;
		rm_fill(src, cs[i].len, SEED + 8 + i, 0);
		if (move_checked(&t, cs[i].what, src, dst, cs[i].len, 0, cs[i].e, SEED + 8 + i, 0,
				 true)) {
			expect_zero(&t, "below the destination", v, cs[i].dst);
			expect_zero(&t, "above the source", src + cs[i].len,
				    cs[i].vma - cs[i].src - cs[i].len);
			snprintf(what, sizeof(what), "%s: moved range", cs[i].what);
			check_pageout(&t, what, dst, cs[i].len);
			snprintf(what, sizeof(what), "%s: after swap-in", cs[i].what);
			expect_pattern(&t, what, dst, cs[i].len, SEED + 8 + i, 0);
			expect_zero(&t, "vacated tail after swap-in", dst + cs[i].len,
				    cs[i].src - cs[i].dst);
		}
		munmap(v, cs[i].vma);
	}
	tc_report(&t);
}

/* ------------------------------------------------------------------ */
/* 7. ping-pong */

static void test_ping_pong(void)
{
	struct tc t = { .name = "ping_pong" };
	uint8_t *r[2] = { NULL, NULL };
	bool fresh[2] = { false, true };
	int k, cur = 0;

	r[0] = map_region(LEN, OFF, false);
	r[1] = map_region(LEN, OFF, false);
	if (!r[0] || !r[1]) {
		tc_fail(&t, "mmap: %s", strerror(errno));
		goto out;
	}
	rm_fill(r[0], LEN, SEED + 11, 0);

	/*
	 * 20 round trips A->B->A.  NO_REALIGN alternates (Gray code, so both
	 * directions get both), the vacated side is alternately kept (page
	 * tables stay) or remapped (none): all four counter cases occur.  Every
	 * 10th move starts from swapped-out pages.
	 */
	for (k = 0; k < 40; k++) {
		unsigned int flags = ((k ^ (k >> 1)) & 1) ? RUST_MREMAP_NO_REALIGN : 0;
		int from = k & 1, to = !from;
		const char *why;
		char what[64];

		snprintf(what, sizeof(what), "move %d (%s, %s, %s destination)", k,
			 from ? "B->A" : "A->B", flags ? "NO_REALIGN" : "realign",
			 fresh[to] ? "fresh" : "kept");
		if (k % 10 == 5 && swap_usable(&why))
			check_pageout(&t, "source before the move", r[from], LEN);
		if (!move_checked(&t, what, r[from], r[to], LEN, flags, exp_pair(fresh[to], flags),
				  SEED + 11, 0, true))
			goto out;
		cur = to;
		if (!retire(&t, r[from], k % 3 == 0))
			goto out;
		fresh[from] = k % 3 != 0;
	}
	check_pageout(&t, "destination after 40 moves", r[cur], LEN);
	expect_pattern(&t, "destination after swap-in", r[cur], LEN, SEED + 11, 0);
out:
	unmap(r[0], LEN);
	unmap(r[1], LEN);
	tc_report(&t);
}

/* ------------------------------------------------------------------ */
/*
 * 9. moves toward a VMA the rmap walk visits first, racing migration.  A
 * and B share rmap identity at equal pgoffs (B adopted A's), so a walk
 * visits A before B.  A walker (remove_migration_ptes() after a
 * migration) that looks at A, then at B, misses an entry that moves from
 * B to A in between, and leaves a migration entry behind: the rmap lock
 * must keep walkers out of such moves (pgtable_move_need_rmap_locks()).
 * One thread moves the 4 MiB back and forth as fast as it can while
 * another, on the other CPU, soft-offlines pages where they are; then
 * every byte must be where it belongs.  In a child, so that a stale
 * migration entry (a fault that never resolves) is a timeout, not a hang.
 */
#define RACE_SECONDS	4

static struct {
	uint8_t *r[2];
	volatile int cur, stop;
	volatile long offlined;
} race;

static void *race_offliner(void *arg)
{
	uint64_t x = 88172645463325252ULL;

	(void)arg;
	while (!race.stop) {
		uint8_t *p = race.r[race.cur];

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (!madvise(p + (x % (LEN / g_ps)) * g_ps, g_ps, MADV_SOFT_OFFLINE))
			race.offlined++;
	}
	return NULL;
}

static int race_child(int cpu_other)
{
	long moves = 0, zapped = 0;
	struct rust_mremap_move m0;
	struct timespec t0, t;
	cpu_set_t cpus;
	pthread_t th;
	int rc = 0;

	race.r[0] = map_region(LEN, 0, false);
	race.r[1] = map_region(LEN, 0, false);
	if (!race.r[0] || !race.r[1])
		return 10;
	rm_fill(race.r[0], LEN, SEED + 21, 0);
	/* B adopts A's identity at an equal pgoff; the race starts after. */
	if (rm_move(g_fd, RUST_MREMAP_PIDFD_SELF, 0, race.r[0], race.r[1], LEN, &m0) ||
	    m0.folios_relocated) {
		ksft_print_msg("race: the first move relocated %llu folios\n",
			       (unsigned long long)m0.folios_relocated);
		return 10;
	}
	race.cur = 1;
	pthread_create(&th, NULL, race_offliner, NULL);
	if (cpu_other >= 0) {
		CPU_ZERO(&cpus);
		CPU_SET(cpu_other, &cpus);
		pthread_setaffinity_np(th, sizeof(cpus), &cpus);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		int from = race.cur, to = !from;
		struct rust_mremap_move m;
		int ret = rm_move(g_fd, RUST_MREMAP_PIDFD_SELF, 0, race.r[from], race.r[to], LEN,
				  &m);

		if (ret == -EEXIST) {
			/* The offliner faulted in a zero page where the data had left. */
			for (size_t o = 0; o < LEN; o += RM_MB(1))
				madvise(race.r[to] + o, RM_MB(1), MADV_DONTNEED);
			zapped++;
			continue;
		}
		if (ret || m.moved != LEN || m.folios_relocated) {
			ksft_print_msg("race: move %ld: %s, moved %llu, relocated %llu\n", moves,
				       ret ? strerror(-ret) : "ok", (unsigned long long)m.moved,
				       (unsigned long long)m.folios_relocated);
			rc = 11;
			break;
		}
		race.cur = to;
		moves++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < RACE_SECONDS);
	race.stop = 1;
	pthread_join(th, NULL);
	ksft_print_msg("race: %ld moves, %ld pages migrated meanwhile, %ld zero-page zaps\n", moves,
		       race.offlined, zapped);
	if (!rc && (moves < 100 || race.offlined < 100))
		rc = 12;
	/* A stale migration entry makes one of these reads fault forever. */
	if (!rc && rm_check(race.r[race.cur], LEN, SEED + 21, 0) != (size_t)-1)
		rc = 13;
	return rc;
}

static void test_reverse_vs_migration(void)
{
	struct tc t = { .name = "moves_back_vs_migration" };
	int cpu = sched_getcpu(), status;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	pid_t pid;

	if (n < 2) {
		tc_skip(&t, "needs 2 CPUs, has %ld", n);
		goto out;
	}
	pid = fork();
	if (pid == 0) {
		alarm(RACE_SECONDS + 60);
		_exit(race_child(cpu == 0 ? 1 : 0));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		tc_fail(&t, "fork/waitpid: %s", strerror(errno));
		goto out;
	}
	if (WIFSIGNALED(status))
		tc_fail(&t, "the racing child died of %s%s", strsignal(WTERMSIG(status)),
			WTERMSIG(status) == SIGALRM ? " (stuck: a stale migration entry?)" : "");
	else if (WEXITSTATUS(status) == 12)
		tc_fail(&t, "too few moves or migrations to race (see above)");
	else if (WEXITSTATUS(status) == 13)
		tc_fail(&t, "the bytes are wrong after the race");
	else if (WEXITSTATUS(status))
		tc_fail(&t, "the racing child failed (%d)", WEXITSTATUS(status));
out:
	tc_report(&t);
}

/* ------------------------------------------------------------------ */

int main(void)
{
	cpu_set_t cpus;
	int cpu;

	ksft_print_header();
	ksft_set_plan(21);

	g_ps = rm_page_size();
	g_fd = rm_open();

	/*
	 * Stay on one CPU: MADV_PAGEOUT drains only the local CPU's LRU
	 * batches, so every page we faulted must be in those.
	 */
	cpu = sched_getcpu();
	if (cpu >= 0) {
		CPU_ZERO(&cpus);
		CPU_SET(cpu, &cpus);
		sched_setaffinity(0, sizeof(cpus), &cpus);
	}

	test_reverse_vs_migration();
	for (int pass = 0; pass < 2; pass++) {
		g_relocate = pass;
		test_swap_after_move();
		test_swap_before_move();
		test_swap_cache_held();
		test_compaction();
		test_fork_after_move();
		test_thp_whole();
		test_thp_split();
		test_mthp_whole();
		test_stack_shift();
		test_ping_pong();
	}

	close(g_fd);
	ksft_finished();
}
